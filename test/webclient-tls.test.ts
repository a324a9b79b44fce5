// /files over HTTPS (http.tlsCert/tlsKey) with curl: the session and sign-in cookies are Secure there.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './helpers/server.js';
import { makeTlsPair } from './helpers/tls-pair.js';

const execFileAsync = promisify(execFile);
let dir: string;
let server: TestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-web-tls-'));
  const { cert, key } = await makeTlsPair(dir);
  server = await startTestServer({ config: { http: { listen: '127.0.0.1:0', tlsCert: cert, tlsKey: key } } });
  await server.addUser('tess', { password: 'tess-pw-1' });
});
after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('over HTTPS the sign-in and session cookies are Secure, HttpOnly and SameSite=Strict', async () => {
  const base = `https://127.0.0.1:${server.running.httpPort}`;
  const jar = join(dir, 'jar');
  const curl = async (args: string[]) =>
    (
      await execFileAsync('curl', [
        '-sS',
        '-D',
        '-',
        '--cacert',
        join(dir, 'cert.pem'),
        '-b',
        jar,
        '-c',
        jar,
        ...args,
      ])
    ).stdout;
  const form = await curl([`${base}/files/login`]);
  assert.match(form, /^set-cookie: ferry_files_login=[^;]+;.*Secure/im);
  const token = /name="_csrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
  const login = await curl([
    '--data-urlencode',
    `_csrf=${token}`,
    '-d',
    'username=tess',
    '-d',
    'password=tess-pw-1',
    `${base}/files/login`,
  ]);
  assert.match(login, /^HTTP\/1\.1 303/m);
  const cookie = /^set-cookie: (ferry_files=.*)$/im.exec(login)?.[1] ?? '';
  assert.match(cookie, /; Secure/);
  assert.match(cookie, /; HttpOnly/);
  assert.match(cookie, /; SameSite=Strict/);
  assert.match(login, /^strict-transport-security: max-age=/im);
  assert.match(await curl([`${base}/files/`]), /<meta name="csrf-token"/);
});
