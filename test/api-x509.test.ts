// X.509 in the Key Manager and the API served with it: `ferry keys x509`, http.tlsKeyName checked with openssl
// s_client and curl, and /api/keys/x509 per role (generate, import, list, chain, remove) with one-line refusals.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cliActor } from '../src/admin/actor.js';
import { loadConfig } from '../src/config/load.js';
import { generateCertificate } from '../src/keys/x509.js';
import { type RunningFerry, startFerry } from '../src/server.js';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { runFerry } from './helpers/cli.js';

const run = promisify(execFile);

/** `openssl x509 -fingerprint -sha256` of a PEM text: the AA:BB:… part. */
async function opensslFingerprint(pem: string): Promise<string> {
  const child = run('openssl', ['x509', '-noout', '-fingerprint', '-sha256']);
  child.child.stdin!.end(pem);
  const { stdout } = await child;
  return stdout.trim().replace(/^.*Fingerprint=/i, '');
}

/** `openssl s_client` with one protocol version; its exit code and output (the server's certificate included). */
function handshake(port: number, version: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    // SECLEVEL=0 lets this client offer old versions: the refusal must come from the server.
    const child = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, version, '-cipher', 'DEFAULT@SECLEVEL=0'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, out });
    });
    child.stdin.end();
  });
}

describe('ferry keys x509 and the API served with a Key Manager certificate', () => {
  let dir: string;
  let dataDir: string;
  let running: RunningFerry | undefined;
  const printed: string[] = [];
  let generatedFingerprint = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-x509-'));
    dataDir = join(dir, 'data');
    const init = await runFerry(['init', '--data-dir', dataDir]);
    assert.equal(init.code, 0, init.stderr);
  });

  after(async () => {
    await running?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('generate prints the fingerprint openssl computes; list and export agree', async () => {
    const made = await runFerry([
      'keys',
      'x509',
      'generate',
      'api',
      '--cn',
      'ferry.test',
      '--san',
      'IP:127.0.0.1,DNS:localhost',
      '--days',
      '30',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(made.code, 0, made.stderr);
    generatedFingerprint = /SHA-256 fingerprint ([0-9A-F:]{95})/.exec(made.stdout)?.[1] ?? '';
    assert.ok(generatedFingerprint, made.stdout);
    assert.match(made.stdout, /ecdsa-p256 CN=ferry\.test \(IP Address:127\.0\.0\.1, DNS:localhost\)/);
    const listed = await runFerry(['keys', 'x509', 'list', '--json', '--data-dir', dataDir]);
    assert.equal(JSON.parse(listed.stdout)[0].sha256, generatedFingerprint);
    const chainFile = join(dir, 'chain.pem');
    const exported = await runFerry([
      'keys',
      'x509',
      'export',
      'api',
      '--output',
      chainFile,
      '--data-dir',
      dataDir,
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    const chain = await readFile(chainFile, 'utf8');
    assert.doesNotMatch(chain, /PRIVATE/);
    assert.equal(await opensslFingerprint(chain), generatedFingerprint);
    const rsa = await runFerry([
      'keys',
      'x509',
      'generate',
      'rsa',
      '--type',
      'rsa',
      '--bits',
      '2048',
      '--cn',
      '127.0.0.1',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(rsa.code, 0, rsa.stderr);
    assert.match(rsa.stdout, /rsa-2048 CN=127\.0\.0\.1 \(IP Address:127\.0\.0\.1\)/);
  });

  test('import refuses a mismatched key, garbage and an expired certificate in one line, storing nothing', async () => {
    const good = generateCertificate({ cn: 'imported.test' });
    const other = generateCertificate({ cn: 'other.test' });
    const expired = generateCertificate({ cn: 'old.test', days: 1, now: new Date('2020-03-01T00:00:00Z') });
    const file = async (name: string, text: string) => {
      const path = join(dir, name);
      await writeFile(path, text, { mode: 0o600 });
      await chmod(path, 0o600);
      return path;
    };
    const cases: [string, string, string, RegExp][] = [
      ['mismatch', good.cert, other.key, /not the key of the chain's first certificate/],
      ['garbage', 'hello\n', good.key, /no PEM certificate found/],
      ['expired', expired.cert, expired.key, /the certificate expired on 2020-03-02/],
    ];
    for (const [name, cert, key, pattern] of cases) {
      const r = await runFerry([
        'keys',
        'x509',
        'import',
        name,
        '--cert',
        await file(`${name}.pem`, cert),
        '--key',
        await file(`${name}.key`, key),
        '--data-dir',
        dataDir,
      ]);
      assert.notEqual(r.code, 0, name);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
    const listed = await runFerry(['keys', 'x509', 'list', '--json', '--data-dir', dataDir]);
    assert.deepEqual(
      JSON.parse(listed.stdout).map((c: { name: string }) => c.name),
      ['api', 'rsa'],
    );
    const ok = await runFerry([
      'keys',
      'x509',
      'import',
      'imported',
      '--cert',
      await file('good.pem', good.cert),
      '--key',
      await file('good.key', good.key),
      '--data-dir',
      dataDir,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(good.fingerprint));
    const removed = await runFerry(['keys', 'x509', 'remove', 'imported', '--data-dir', dataDir]);
    assert.equal(removed.code, 0, removed.stderr);
  });

  test('http.tlsKeyName: TLS 1.2+ only, the same fingerprint on the wire, curl --cacert with the exported chain', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        dataDir,
        listen: '127.0.0.1',
        sftpPort: 0,
        logLevel: 'silent',
        allowList: '127.0.0.1',
        http: { listen: '127.0.0.1:0', tlsKeyName: 'api' },
      },
    });
    running = await startFerry(config, (line) => printed.push(line));
    const port = running.httpPort!;
    assert.ok(
      printed.includes(`HTTP API certificate api: SHA-256 fingerprint ${generatedFingerprint}`),
      printed.join('\n'),
    );
    assert.ok(printed.some((l) => l.startsWith('HTTP API listening on https://127.0.0.1:')));
    for (const version of ['-tls1_2', '-tls1_3']) {
      const r = await handshake(port, version);
      assert.equal(r.code, 0, `${version}: ${r.out}`);
      assert.match(r.out, /New, TLSv1\.[23], Cipher is/);
      const served = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.out)?.[0] ?? '';
      assert.equal(await opensslFingerprint(served), generatedFingerprint);
    }
    for (const version of ['-tls1_1', '-tls1']) {
      const r = await handshake(port, version);
      assert.notEqual(r.code, 0, `${version} must fail: ${r.out}`);
      assert.doesNotMatch(r.out, /BEGIN CERTIFICATE/);
    }
    const chainFile = join(dir, 'chain.pem');
    const { stdout } = await run('curl', ['-sS', '--cacert', chainFile, `https://127.0.0.1:${port}/healthz`]);
    assert.deepEqual(JSON.parse(stdout), { status: 'ok' });
    await assert.rejects(
      run('curl', ['-sS', '--max-time', '5', `https://localhost:${port}/healthz`]),
      'no --cacert: untrusted',
    );
    // The chain over the API, as an auditor fetches it, is the exported one; the served certificate cannot be removed.
    const access = running.context.admin.apiAccess;
    const auditor = (await access.addKey(cliActor(), { name: 'aud', role: 'auditor' })).key.reveal();
    const admin = (await access.addKey(cliActor(), { name: 'adm', role: 'admin' })).key.reveal();
    const viaApi = await run('curl', [
      '-sS',
      '--cacert',
      chainFile,
      '-H',
      `authorization: Bearer ${auditor}`,
      `https://127.0.0.1:${port}/api/keys/x509/api/chain`,
    ]);
    assert.equal(viaApi.stdout, await readFile(chainFile, 'utf8'));
    const refused = await run('curl', [
      '-sS',
      '--cacert',
      chainFile,
      '-X',
      'DELETE',
      '-H',
      `authorization: Bearer ${admin}`,
      `https://127.0.0.1:${port}/api/keys/x509/api`,
    ]);
    assert.match(JSON.parse(refused.stdout).detail, /is the HTTP API's \(http\.tlsKeyName\)/);
  });

  test('a missing http.tlsKeyName certificate stops the start with one line', async () => {
    const config = loadConfig({
      env: {},
      flags: {
        dataDir,
        listen: '127.0.0.1',
        sftpPort: 0,
        logLevel: 'silent',
        http: { listen: '127.0.0.1:0', tlsKeyName: 'nope' },
      },
    });
    await assert.rejects(
      startFerry(config, () => {}),
      /http\.tlsKeyName: no certificate named nope in the Key Manager/,
    );
    assert.throws(
      () =>
        loadConfig({
          env: { FERRY_HTTP_TLS_KEY_NAME: 'api', FERRY_HTTP_TLS_CERT: '/c', FERRY_HTTP_TLS_KEY: '/k' },
        }),
      /http\.tlsKeyName or http\.tlsCert\/http\.tlsKey, not both/,
    );
    assert.equal(
      loadConfig({ env: { FERRY_HTTP_LISTEN: '0.0.0.0:8443', FERRY_HTTP_TLS_KEY_NAME: 'api' } }).http
        .tlsKeyName,
      'api',
    );
  });
});

describe('/api/keys/x509 per role', () => {
  let api: ApiTestServer;
  before(async () => {
    api = await startApiTestServer();
  });
  after(async () => {
    await api?.close();
  });

  test('the admin generates, imports and removes; operators and auditors read the list and the public chain', async () => {
    const { call, keys } = api;
    for (const role of ['operator', 'auditor'] as const) {
      assertProblem(
        await call('POST', '/api/keys/x509', { key: keys[role], body: { name: 'api' } }),
        403,
        'ERR_PERMISSION_DENIED',
      );
      assertProblem(
        await call('POST', '/api/keys/x509/import', {
          key: keys[role],
          body: { name: 'x', chain: 'x', key: 'y' },
        }),
        403,
        'ERR_PERMISSION_DENIED',
      );
    }
    const made = await call('POST', '/api/keys/x509', {
      key: keys.admin,
      body: { name: 'api', cn: 'ferry.example', san: ['DNS:ferry.example', 'IP:127.0.0.1'], days: 10 },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.altNames, 'DNS:ferry.example, IP Address:127.0.0.1');
    assert.equal(made.body.chainLength, 1);
    for (const role of ['operator', 'auditor', 'admin'] as const) {
      const listed = await call('GET', '/api/keys/x509', { key: keys[role] });
      assert.equal(listed.status, 200);
      assert.deepEqual(
        listed.body.items.map((c: { sha256: string }) => c.sha256),
        [made.body.sha256],
      );
      const chain = await call('GET', '/api/keys/x509/api/chain', { key: keys[role] });
      assert.equal(chain.status, 200);
      assert.match(chain.type, /^application\/pem-certificate-chain/);
      assert.doesNotMatch(chain.body, /PRIVATE/);
      assert.equal(await opensslFingerprint(chain.body), made.body.sha256);
    }
    assertProblem(
      await call('DELETE', '/api/keys/x509/api', { key: keys.operator }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(
      await call('GET', '/api/keys/x509/none/chain', { key: keys.auditor }),
      404,
      'ERR_NOT_FOUND',
    );

    const good = generateCertificate({ cn: 'imported.example' });
    const imported = await call('POST', '/api/keys/x509/import', {
      key: keys.admin,
      body: { name: 'imported', chain: good.cert, key: good.key },
    });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    assert.equal(imported.body.sha256, good.fingerprint);
    assert.equal((await call('DELETE', '/api/keys/x509/imported', { key: keys.admin })).status, 204);
    assert.equal((await call('DELETE', '/api/keys/x509/api', { key: keys.admin })).status, 204);
    assertProblem(await call('DELETE', '/api/keys/x509/api', { key: keys.admin }), 404, 'ERR_NOT_FOUND');

    const records = (await api.adminRecords()).map((r) => `${r.detail.command} ${r.target ?? ''} ${r.actor}`);
    for (const expected of ['keys x509 generate api', 'keys x509 import imported', 'keys x509 remove api'])
      assert.ok(
        records.some((r) => r.startsWith(expected) && r.endsWith('api:admin-key')),
        `${expected} in ${records.join('; ')}`,
      );
    assert.equal(JSON.stringify(records).includes('PRIVATE'), false);
  });

  test('bad input is a one-line 400 and stores nothing', async () => {
    const { call, keys } = api;
    const good = generateCertificate({ cn: 'a.example' });
    const other = generateCertificate({ cn: 'b.example' });
    const expired = generateCertificate({
      cn: 'old.example',
      days: 1,
      now: new Date('2020-03-01T00:00:00Z'),
    });
    const bad: [unknown, RegExp][] = [
      [{ name: 'x', chain: good.cert, key: other.key }, /not the key of the chain's first certificate/],
      [{ name: 'x', chain: 'garbage', key: good.key }, /no PEM certificate found/],
      [{ name: 'x', chain: expired.cert, key: expired.key }, /expired on 2020-03-02/],
      [{ name: 'x', chain: good.cert, key: 'not a key' }, /not a PEM private key/],
      [{ name: '../x', chain: good.cert, key: good.key }, /invalid key name/],
      [{ name: 'x', chain: good.cert }, /key/],
    ];
    for (const [body, pattern] of bad) {
      const r = await call('POST', '/api/keys/x509/import', { key: keys.admin, body });
      assertProblem(r, 400, 'ERR_INVALID_ARGUMENT');
      assert.match(r.body.detail, pattern);
      assert.doesNotMatch(r.body.detail, /\n/);
    }
    for (const body of [
      { name: 'y', san: ['EMAIL:a@b'] },
      { name: 'y', san: ['IP:300.1.1.1'] },
      { name: 'y', days: 0 },
      { name: 'y', type: 'dsa' },
      { name: 'y', bits: 4096 },
      { name: 'y', cn: 'has space' },
    ]) {
      const r = await call('POST', '/api/keys/x509', { key: keys.admin, body });
      assertProblem(r, 400, 'ERR_INVALID_ARGUMENT');
      assert.doesNotMatch(r.body.detail, /\n/);
    }
    assert.deepEqual((await call('GET', '/api/keys/x509', { key: keys.admin })).body, {
      items: [],
      nextCursor: null,
    });
    assert.equal(
      (await call('POST', '/api/keys/x509', { key: keys.admin, body: { name: 'dup', cn: 'dup.example' } }))
        .status,
      201,
    );
    assertProblem(
      await call('POST', '/api/keys/x509', { key: keys.admin, body: { name: 'dup', cn: 'dup.example' } }),
      409,
      'ERR_ALREADY_EXISTS',
    );
  });
});
