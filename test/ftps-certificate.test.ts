// FTPS served with a Key Manager certificate (ftps.tlsKeyName): lftp verifying it against the exported chain logs
// in and transfers, the same lftp refuses a server with another certificate, and bad settings stop the start in
// one line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { cliActor } from '../src/admin/actor.js';
import { addUser, homeDirOf } from '../src/auth/user-admin.js';
import { loadConfig } from '../src/config/load.js';
import { type RunningFerry, startFerry } from '../src/server.js';
import { Secret } from '../src/util/secret.js';
import { runFerry } from './helpers/cli.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let dataDir: string;
let chainFile: string;
let fingerprint: string;
let running: RunningFerry | undefined;
let other: TestServer | undefined;
const printed: string[] = [];

const configOf = (ftps: Record<string, unknown>) =>
  loadConfig({
    env: {},
    flags: {
      dataDir,
      listen: '127.0.0.1',
      sftpPort: 0,
      logLevel: 'silent',
      allowList: '127.0.0.1',
      http: { listen: '127.0.0.1:0' },
      ftps: { port: 0, ...ftps },
    },
  });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-ftps-cert-'));
  dataDir = join(dir, 'data');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  const made = await runFerry([
    'keys',
    'x509',
    'generate',
    'ftps',
    '--cn',
    'ferry-ftps.test',
    '--san',
    'IP:127.0.0.1',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(made.code, 0, made.stderr);
  fingerprint = /SHA-256 fingerprint ([0-9A-F:]{95})/.exec(made.stdout)?.[1] ?? '';
  assert.ok(fingerprint, made.stdout);
  chainFile = join(dir, 'chain.pem');
  const exported = await runFerry([
    'keys',
    'x509',
    'export',
    'ftps',
    '--output',
    chainFile,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(exported.code, 0, exported.stderr);
  running = await startFerry(configOf({ tlsKeyName: 'ftps' }), (line) => printed.push(line));
  await addUser(running.context.store.users, {
    name: 'alice',
    password: new Secret('pw-alice-123'),
    publicKeysText: [],
    requiredMethods: [],
  });
  // Another server with its own (generated, self-signed) certificate: what the verifying client must refuse.
  other = await startTestServer({ config: { ftps: { port: 0 } } });
  await other.addUser('alice', { password: 'pw-alice-123' });
});
after(async () => {
  await running?.stop();
  await other?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** lftp verifying the server's certificate against the exported chain (no pinning, no verify-certificate no). */
const verifyingLftp = (port: number, script: string) =>
  run(
    'lftp',
    [
      '-u',
      'alice,pw-alice-123',
      '-e',
      `set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate yes; set ssl:ca-file ${chainFile}; set ssl:check-hostname yes; set net:max-retries 1; set net:timeout 10; ${script}; quit`,
      `ftp://127.0.0.1:${port}`,
    ],
    { cwd: dir, timeout: 30_000 },
  );

test('the start line names the Key Manager certificate and its fingerprint', () => {
  assert.ok(
    printed.includes(`FTPS certificate ftps (Key Manager) SHA-256 ${fingerprint}`),
    printed.join('\n'),
  );
});

test('lftp verifying against the exported chain logs in and transfers both ways', async () => {
  const content = randomBytes(400_000);
  await writeFile(join(dir, 'up.bin'), content);
  await verifyingLftp(running!.ftps!.port!, 'put up.bin; get up.bin -o down.bin');
  const user = await running!.context.store.users.findByName('alice');
  const home = homeDirOf(user!, running!.context.paths.homes);
  assert.equal(sha(await readFile(join(home, 'up.bin'))), sha(content));
  assert.equal(sha(await readFile(join(dir, 'down.bin'))), sha(content));
});

test('the same lftp refuses a server with another certificate, before logging in', async () => {
  await writeFile(join(dir, 'never.bin'), 'x');
  const failed = await verifyingLftp(other!.running.ftps!.port!, 'put never.bin').then(
    () => undefined,
    (err: { stderr?: string }) => err,
  );
  assert.ok(failed, 'lftp must not accept a certificate the chain does not vouch for');
  assert.match(failed.stderr ?? '', /certificate|verif/i);
  await assert.rejects(readFile(join(await other!.homeOf('alice'), 'never.bin')));
});

test('a missing certificate name stops the start in one line; with the PEM files it is refused', async () => {
  await assert.rejects(
    startFerry(configOf({ tlsKeyName: 'nope' }), () => {}),
    (err: Error) => {
      assert.equal(
        err.message,
        'ftps.tlsKeyName: no certificate named nope in the Key Manager (ferry keys x509 list)',
      );
      return true;
    },
  );
  assert.throws(
    () => configOf({ tlsKeyName: 'ftps', tlsCert: '/etc/hostname', tlsKey: '/etc/hostname' }),
    /ftps\.tlsKeyName or ftps\.tlsCert\/ftps\.tlsKey, not both/,
  );
});

test('the certificate the FTPS listeners serve cannot be removed', async () => {
  await assert.rejects(
    running!.context.admin.keys.x509.remove(cliActor(), 'ftps'),
    /is the FTPS listeners' \(ftps\.tlsKeyName\)/,
  );
  assert.ok((await running!.context.admin.keys.x509.list()).some((c) => c.name === 'ftps'));
});
