// GET /api/jobs/{name}/runs pages a job's run history (newest first) and /runs/{id} shows one run with its
// per-file results: real push runs to the server's own SFTP, as a partner.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, type Json, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
let work: string;
const runs: number[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-runs-'));
  api = await startApiTestServer();
  await api.server.addUser('dave', { password: 'pw-dave-12345' });
  const out = join(work, 'out');
  await mkdir(out);
  await writeFile(join(out, 'a.csv'), 'one,two\n');
  const op = { key: api.keys.operator };
  const partner = await api.call('POST', '/api/partners', {
    ...op,
    body: { name: 'self', host: '127.0.0.1', port: api.server.port, user: 'dave', password: 'pw-dave-12345' },
  });
  assert.equal(partner.status, 201, JSON.stringify(partner.body));
  const key = await api.call('GET', '/api/partners/self/hostkey', op);
  await api.call('POST', '/api/partners/self/trust', {
    ...op,
    body: { algorithm: key.body.algorithm, sha256: key.body.sha256 },
  });
  const job = await api.call('POST', '/api/jobs', {
    ...op,
    body: { name: 'push', partner: 'self', direction: 'push', remoteDir: '/', localDir: out },
  });
  assert.equal(job.status, 201, JSON.stringify(job.body));
  for (let i = 0; i < 3; i++) {
    const run = await api.call('POST', '/api/jobs/push/run', op);
    assert.equal(run.status, 200, JSON.stringify(run.body));
    runs.push(run.body.id);
  }
});

after(async () => {
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('runs are paged newest first with a cursor, and one run shows its files', async () => {
  const op = { key: api.keys.operator };
  const first = await api.call('GET', '/api/jobs/push/runs?limit=2', op);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(
    first.body.items.map((r: Json) => r.id),
    [runs[2], runs[1]],
  );
  assert.equal(typeof first.body.nextCursor, 'string');
  const second = await api.call('GET', `/api/jobs/push/runs?limit=2&cursor=${first.body.nextCursor}`, op);
  assert.deepEqual(
    second.body.items.map((r: Json) => r.id),
    [runs[0]],
  );
  assert.equal(second.body.nextCursor, null);

  const one = await api.call('GET', `/api/jobs/push/runs/${runs[0]}`, { key: api.keys.admin });
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.equal(one.body.status, 'ok', JSON.stringify(one.body));
  assert.deepEqual(
    one.body.files.map((f: Json) => f.name ?? f.path),
    ['a.csv'],
  );
});

test('bad input is a one-line 400, unknown runs and jobs 404, an auditor is refused', async () => {
  const op = { key: api.keys.operator };
  for (const [url, code] of [
    ['/api/jobs/push/runs?cursor=bm90LWFuLWlk', 'ERR_INVALID_ARGUMENT'],
    ['/api/jobs/push/runs?limit=0', 'ERR_INVALID_ARGUMENT'],
    ['/api/jobs/push/runs/abc', 'ERR_INVALID_ARGUMENT'],
    ['/api/jobs/push/runs/0', 'ERR_INVALID_ARGUMENT'],
  ] as const) {
    const reply = await api.call('GET', url, op);
    assertProblem(reply, 400, code);
    assert.equal(reply.body.detail.includes('\n'), false, reply.body.detail);
  }
  assertProblem(await api.call('GET', '/api/jobs/push/runs/999999', op), 404, 'ERR_NOT_FOUND');
  assertProblem(await api.call('GET', '/api/jobs/nope/runs', op), 404, 'ERR_NOT_FOUND');
  assertProblem(await api.call('GET', '/api/jobs/nope/runs/1', op), 404, 'ERR_NOT_FOUND');
  assertProblem(
    await api.call('GET', '/api/jobs/push/runs', { key: api.keys.auditor }),
    403,
    'ERR_PERMISSION_DENIED',
  );
  assertProblem(
    await api.call('GET', `/api/jobs/push/runs/${runs[0]}`, { key: api.keys.auditor }),
    403,
    'ERR_PERMISSION_DENIED',
  );
  // Reading changed nothing: still three runs.
  const all = await api.call('GET', '/api/jobs/push/runs', op);
  assert.equal(all.body.items.length, 3);
});
