// The REST API's transfer and security resources on a real server: partners, jobs (run now), audit export, defender.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { verifyAuditExport } from '../src/admin/audit.js';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import type { TestServer } from './helpers/server.js';

let api: ApiTestServer;
let server: TestServer;
let base: string;
let work: string;
let keys: ApiTestServer['keys'];
const call: ApiTestServer['call'] = (...args) => api.call(...args);
const adminRecords = () => api.adminRecords();

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-res-'));
  api = await startApiTestServer();
  ({ server, base, keys } = api);
  await server.addUser('alice', { password: 'alice-pw-123456' });
});

after(async () => {
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('REST API resources', () => {
  test('partners and jobs: create, change, pin, run now, remove; each change audited as the key', async () => {
    // Nothing listens on port 1: the run fails fast, and says so.
    const partner = await call('POST', '/api/partners', {
      key: keys.operator,
      body: { name: 'acme', host: '127.0.0.1', port: 1, user: 'ferry', password: 'partner-pw' },
    });
    assert.equal(partner.status, 201, JSON.stringify(partner.body));
    assert.deepEqual([partner.body.name, partner.body.port, partner.body.password], ['acme', 1, true]);
    assert.equal(JSON.stringify(partner.body).includes('partner-pw'), false);
    const patched = await call('PATCH', '/api/partners/acme', {
      key: keys.operator,
      body: { readBack: true },
    });
    assert.equal(patched.body.readBack, true);
    assert.equal(partner.body.algorithms, 'modern', 'the modern SSH algorithms unless asked otherwise');
    const compat = await call('PATCH', '/api/partners/acme', {
      key: keys.operator,
      body: { algorithms: 'compat' },
    });
    assert.equal(compat.body.algorithms, 'compat');
    assertProblem(
      await call('PATCH', '/api/partners/acme', { key: keys.operator, body: { algorithms: 'legacy' } }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal((await call('GET', '/api/partners/acme', { key: keys.operator })).body.algorithms, 'compat');
    const fingerprint = `SHA256:${'A'.repeat(43)}`;
    const pinned = await call('POST', '/api/partners/acme/trust', {
      key: keys.operator,
      body: { algorithm: 'ssh-ed25519', sha256: fingerprint },
    });
    assert.equal(pinned.body.hostKey, `ssh-ed25519 ${fingerprint}`);
    assertProblem(
      await call('POST', '/api/partners/acme/trust', {
        key: keys.operator,
        body: { algorithm: 'x', sha256: 'nope' },
      }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const listed = await call('GET', '/api/partners', { key: keys.operator });
    assert.deepEqual(
      listed.body.items.map((p: { name: string }) => p.name),
      ['acme'],
    );
    assert.equal((await call('GET', '/api/partners/acme', { key: keys.operator })).body.username, 'ferry');

    const job = await call('POST', '/api/jobs', {
      key: keys.operator,
      body: {
        name: 'nightly',
        partner: 'acme',
        direction: 'pull',
        remoteDir: '/out',
        localDir: join(work, 'in'),
      },
    });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    assertProblem(
      await call('POST', '/api/jobs', {
        key: keys.operator,
        body: { name: 'bad', partner: 'acme', direction: 'sideways', remoteDir: '/', localDir: '/' },
      }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const changed = await call('PATCH', '/api/jobs/nightly', {
      key: keys.operator,
      body: { schedule: '0 2 * * *' },
    });
    assert.equal(changed.body.schedule, '0 2 * * *');
    assertProblem(
      await call('PATCH', '/api/jobs/nightly', { key: keys.operator, body: { schedule: 'not cron' } }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const run = await call('POST', '/api/jobs/nightly/run', { key: keys.operator });
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.equal(run.body.trigger, 'manual');
    assert.equal(run.body.status, 'failed');
    assert.match(run.body.error, /.+/);
    const shown = await call('GET', '/api/jobs/nightly', { key: keys.operator });
    assert.deepEqual(
      shown.body.runs.map((r: { id: number }) => r.id),
      [run.body.id],
    );
    assertProblem(
      await call('POST', '/api/jobs/nightly/run', { key: keys.auditor }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(
      await call('DELETE', '/api/jobs/nightly', { key: keys.auditor }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assert.equal((await call('DELETE', '/api/jobs/nightly', { key: keys.operator })).status, 204);
    assert.equal((await call('DELETE', '/api/partners/acme', { key: keys.operator })).status, 204);
    assertProblem(await call('GET', '/api/partners/acme', { key: keys.operator }), 404, 'ERR_NOT_FOUND');
    assertProblem(await call('GET', '/api/jobs/nightly', { key: keys.operator }), 404, 'ERR_NOT_FOUND');
    assertProblem(await call('POST', '/api/jobs/nothing/run', { key: keys.operator }), 404, 'ERR_NOT_FOUND');
    const commands = (await adminRecords())
      .filter((r) => /^(partners|jobs) /.test(r.detail.command))
      .map((r) => `${r.detail.command} ${r.actor}`);
    assert.deepEqual(commands, [
      'partners add api:operator-key',
      'partners set api:operator-key',
      'partners set api:operator-key', // algorithms: compat
      'partners trust api:operator-key',
      'jobs add api:operator-key',
      'jobs set api:operator-key',
      'jobs run api:operator-key',
      'jobs remove api:operator-key',
      'partners remove api:operator-key',
    ]);
  });

  test('audit export streams NDJSON that verifies offline; verify checks the stored chain', async () => {
    await server.running.context.audit.flush();
    const response = await fetch(`${base}/api/audit/export`, {
      headers: { authorization: `Bearer ${keys.auditor}` },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    const text = await response.text();
    const lines = text.trim().split('\n');
    assert.ok(lines[0]!.startsWith('{"hostKey":"ssh-ed25519 '), 'host key lines first');
    assert.ok(
      lines.some((l) => l.includes('"command":"partners add"')),
      'the records follow',
    );
    const file = join(work, 'export.jsonl');
    await writeFile(file, text);
    const report = await verifyAuditExport(file, { checkpointInterval: 0 });
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.ok(report.records > 5);
    const verified = await call('GET', '/api/audit/verify', { key: keys.auditor });
    assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
  });

  test('defender: the operator lists scored addresses and lifts a ban; the auditor only reads', async () => {
    await server.running.context.store.defender.score('192.0.2.66', 1, 'login failed', new Date(), 60);
    const listed = await call('GET', '/api/defender', { key: keys.operator });
    assert.deepEqual(
      listed.body.items.map((h: { address: string; banned: boolean }) => [h.address, h.banned]),
      [['192.0.2.66', false]],
    );
    assert.equal(
      (await call('GET', '/api/defender', { key: keys.auditor })).status,
      200,
      'the auditor reads',
    );
    assertProblem(
      await call('DELETE', '/api/defender/192.0.2.66', { key: keys.auditor }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assert.equal((await call('DELETE', '/api/defender/192.0.2.66', { key: keys.operator })).status, 204);
    assertProblem(
      await call('DELETE', '/api/defender/192.0.2.66', { key: keys.operator }),
      404,
      'ERR_NOT_FOUND',
    );
    assertProblem(
      await call('DELETE', '/api/defender/not-an-ip', { key: keys.operator }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const record = (await adminRecords()).filter((r) => r.target === '192.0.2.66').at(-1);
    assert.equal(record?.actor, 'api:operator-key');
  });
  test('keys: public halves for the operator; only the admin generates, promotes and retires host keys', async () => {
    const listed = await call('GET', '/api/keys/host', { key: keys.operator });
    assert.equal(listed.status, 200);
    const algorithms = listed.body.items.map(
      (k: { algorithm: string; state: string }) => `${k.algorithm}:${k.state}`,
    );
    assert.ok(algorithms.includes('ssh-ed25519:active'), algorithms.join());
    assert.equal(JSON.stringify(listed.body).includes('PRIVATE'), false);
    assertProblem(
      await call('POST', '/api/keys/host', { key: keys.operator, body: { type: 'ed25519' } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    const made = await call('POST', '/api/keys/host', { key: keys.admin, body: { type: 'ed25519' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.state, 'pending');
    assert.match(made.body.publicKey, /^ssh-ed25519 AAAA/);
    const promoted = await call('POST', `/api/keys/host/${made.body.id}/promote`, { key: keys.admin });
    assert.equal(promoted.body.state, 'active');
    const retired = await call('POST', `/api/keys/host/${made.body.id}/retire`, { key: keys.admin });
    assert.equal(retired.status, 200, JSON.stringify(retired.body));
    assertProblem(
      await call('POST', '/api/keys/host/9999/promote', { key: keys.admin }),
      404,
      'ERR_NOT_FOUND',
    );
    assert.deepEqual((await call('GET', '/api/keys/client', { key: keys.operator })).body, {
      items: [],
      nextCursor: null,
    });
    assert.deepEqual((await call('GET', '/api/keys/pgp', { key: keys.operator })).body, {
      items: [],
      nextCursor: null,
    });
    assertProblem(await call('GET', '/api/keys/host', { key: keys.auditor }), 403, 'ERR_PERMISSION_DENIED');
    const commands = (await adminRecords()).map((r) => `${r.detail.command} ${r.actor}`);
    for (const expected of ['keys host generate', 'keys host promote', 'keys host retire'])
      assert.ok(commands.includes(`${expected} api:admin-key`), `${expected} in ${commands.join('; ')}`);
  });
});
