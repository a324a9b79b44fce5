// The API over TLS (http.tlsCert/tlsKey): TLS 1.2+ only, checked with openssl s_client and curl; plain HTTP off loopback refused.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { makeTlsPair } from './helpers/tls-pair.js';

const execFileAsync = promisify(execFile);

let dir: string;
let server: TestServer;
let port: number;

/** `openssl s_client` with one protocol version and stdin closed; resolves with its exit code and output. */
function handshake(version: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    // SECLEVEL=0 lets this client offer old versions: the refusal must come from the server.
    const child = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, version, '-cipher', 'DEFAULT@SECLEVEL=0', '-brief'],
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

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-api-tls-'));
  const { cert, key } = await makeTlsPair(dir);
  server = await startTestServer({ config: { http: { listen: '127.0.0.1:0', tlsCert: cert, tlsKey: key } } });
  port = server.running.httpPort!;
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('API over TLS', () => {
  test('curl reaches /healthz over HTTPS with the certificate as its CA; plain HTTP gets no answer', async () => {
    const { stdout } = await execFileAsync('curl', [
      '-sS',
      '--cacert',
      join(dir, 'cert.pem'),
      `https://127.0.0.1:${port}/healthz`,
    ]);
    assert.deepEqual(JSON.parse(stdout), { status: 'ok' });
    await assert.rejects(
      execFileAsync('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}/healthz`]),
    );
  });

  test('openssl s_client: TLS 1.2 and 1.3 are accepted, TLS 1.1 and 1.0 refused', async () => {
    for (const version of ['-tls1_2', '-tls1_3']) {
      const r = await handshake(version);
      assert.equal(r.code, 0, `${version}: ${r.out}`);
      assert.match(r.out, /Protocol version: TLSv1\.[23]/);
    }
    for (const version of ['-tls1_1', '-tls1']) {
      const r = await handshake(version);
      assert.notEqual(r.code, 0, `${version} must fail: ${r.out}`);
      assert.doesNotMatch(r.out, /Protocol version: TLSv1(\.1)?\b/);
    }
  });

  test('plain HTTP on a non-loopback address is refused unless TLS or http.allowInsecure', () => {
    assert.throws(
      () => loadConfig({ env: { FERRY_HTTP_LISTEN: '0.0.0.0:8080' } }),
      /plain HTTP is allowed only on a loopback address, not '0\.0\.0\.0'/,
    );
    const insecure = loadConfig({
      env: { FERRY_HTTP_LISTEN: '0.0.0.0:8080', FERRY_HTTP_ALLOW_INSECURE: 'true' },
    });
    assert.equal(insecure.http.listen, '0.0.0.0:8080');
    assert.throws(() => loadConfig({ env: { FERRY_HTTP_LISTEN: '127.0.0.1' } }), /HOST:PORT/);
    assert.throws(() => loadConfig({ env: { FERRY_HTTP_TLS_CERT: '/x.pem' } }), /go together/);
    assert.equal(loadConfig({ env: {} }).http.listen, '127.0.0.1:8080');
  });
});
