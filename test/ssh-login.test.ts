// Logging in with real OpenSSH clients (and ssh2's client): password, keys, two factors, and every refusal.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { type ClientKey, makeClientKey, run, sftpBatch, sshRun } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);

let server: TestServer;
let keyDir: string;
const keys: Record<'ed25519' | 'ecdsa' | 'rsa' | 'stranger', ClientKey> = {} as never;

before(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'ferry-login-keys-'));
  [keys.ed25519, keys.ecdsa, keys.rsa, keys.stranger] = await Promise.all([
    makeClientKey(keyDir, 'ed25519'),
    makeClientKey(keyDir, 'ecdsa'),
    makeClientKey(keyDir, 'rsa'),
    makeClientKey(keyDir, 'ed25519', 'id_stranger'),
  ]);
  server = await startTestServer();
  await server.addUser('alice', { password: 'correct horse battery' });
  await server.addUser('kim', {
    publicKeys: [
      `no-pty,command="echo ignored" ${keys.ed25519.publicText}`,
      keys.ecdsa.publicText,
      keys.rsa.publicText,
    ],
  });
  await server.addUser('two', {
    password: 'second-factor',
    publicKeys: [keys.ed25519.publicText],
    require: ['publickey', 'password'],
  });
  await server.addUser('off', { password: 'disabled-pw' });
  await server.running.context.store.users.update('off', { disabled: true });
});

after(async () => {
  await server?.close();
  await rm(keyDir, { recursive: true, force: true });
});

const pwdBatch = 'pwd\n';

describe('OpenSSH sftp logs in', () => {
  test('with a password', async () => {
    const r = await sftpBatch({
      port: server.port,
      user: 'alice',
      password: 'correct horse battery',
      batch: pwdBatch,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Remote working directory: \//);
  });

  for (const type of ['ed25519', 'ecdsa'] as const) {
    test(`with an ${type} key (authorized_keys options in the stored line)`, async () => {
      const r = await sftpBatch({
        port: server.port,
        user: 'kim',
        identity: keys[type].privatePath,
        batch: pwdBatch,
      });
      assert.equal(r.code, 0, r.stderr);
    });
  }

  for (const algo of ['rsa-sha2-256', 'rsa-sha2-512']) {
    test(`with an RSA key signing ${algo}`, async () => {
      const r = await sftpBatch({
        port: server.port,
        user: 'kim',
        identity: keys.rsa.privatePath,
        options: [`PubkeyAcceptedAlgorithms=${algo}`],
        batch: pwdBatch,
      });
      assert.equal(r.code, 0, r.stderr);
    });
  }

  test('with key and password for a two-factor user (partial success in between)', async () => {
    const r = await sftpBatch({
      port: server.port,
      user: 'two',
      identity: keys.ed25519.privatePath,
      password: 'second-factor',
      batch: pwdBatch,
    });
    assert.equal(r.code, 0, r.stderr);
  });

  test('after a wrong key, with the right one', async () => {
    const r = await run('ssh', [
      '-F',
      '/dev/null',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'IdentityAgent=none',
      '-i',
      keys.stranger.privatePath,
      '-i',
      keys.ecdsa.privatePath,
      '-s',
      '-p',
      String(server.port),
      'kim@127.0.0.1',
      'sftp',
    ]);
    // The sftp subsystem started (it waits for INIT and gets EOF): only a login gets this far.
    assert.doesNotMatch(r.stderr, /Permission denied/);
  });
});

describe('logins that must fail, all alike', () => {
  const denied = /Permission denied/;
  const cases: [string, () => ReturnType<typeof sftpBatch>][] = [
    [
      'wrong password',
      () => sftpBatch({ port: server.port, user: 'alice', password: 'wrong', batch: pwdBatch }),
    ],
    [
      'unknown user',
      () =>
        sftpBatch({ port: server.port, user: 'nobody', password: 'correct horse battery', batch: pwdBatch }),
    ],
    [
      'wrong key',
      () =>
        sftpBatch({ port: server.port, user: 'kim', identity: keys.stranger.privatePath, batch: pwdBatch }),
    ],
    [
      'key of an unknown user',
      () =>
        sftpBatch({ port: server.port, user: 'ghost', identity: keys.ed25519.privatePath, batch: pwdBatch }),
    ],
    [
      'an RSA key signing with SHA-1 (ssh-rsa)',
      () =>
        sftpBatch({
          port: server.port,
          user: 'kim',
          identity: keys.rsa.privatePath,
          options: ['PubkeyAcceptedAlgorithms=ssh-rsa'],
          batch: pwdBatch,
        }),
    ],
    [
      'disabled user',
      () => sftpBatch({ port: server.port, user: 'off', password: 'disabled-pw', batch: pwdBatch }),
    ],
    [
      'second factor missing (key only)',
      () =>
        sftpBatch({ port: server.port, user: 'two', identity: keys.ed25519.privatePath, batch: pwdBatch }),
    ],
    [
      'second factor missing (password only)',
      () => sftpBatch({ port: server.port, user: 'two', password: 'second-factor', batch: pwdBatch }),
    ],
    [
      'two factors with a wrong password',
      () =>
        sftpBatch({
          port: server.port,
          user: 'two',
          identity: keys.ed25519.privatePath,
          password: 'nope',
          batch: pwdBatch,
        }),
    ],
  ];
  for (const [name, attempt] of cases) {
    test(name, async () => {
      const r = await attempt();
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, denied);
      assert.doesNotMatch(r.stdout, /Remote working directory/);
    });
  }
});

function ssh2Connect(config: ssh2.ConnectConfig): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => resolve(client)).once('error', reject);
    client.connect({ host: '127.0.0.1', port: server.port, readyTimeout: 10_000, ...config });
  });
}

describe('what a logged-in user may not do', () => {
  test('a shell or a command is refused cleanly', async () => {
    const r = await sshRun({
      port: server.port,
      user: 'kim',
      identity: keys.ed25519.privatePath,
      command: ['id'],
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exec request failed/);
    const client = await ssh2Connect({ username: 'alice', password: 'correct horse battery' });
    try {
      await assert.rejects(
        new Promise((resolve, reject) => client.shell((err, ch) => (err ? reject(err) : resolve(ch)))),
      );
      await assert.rejects(
        new Promise((resolve, reject) =>
          client.exec('cat /etc/passwd', (err, ch) => (err ? reject(err) : resolve(ch))),
        ),
      );
    } finally {
      client.end();
    }
  });

  test('port forwarding in both directions is refused', async () => {
    const client = await ssh2Connect({ username: 'alice', password: 'correct horse battery' });
    try {
      await assert.rejects(
        new Promise((resolve, reject) =>
          client.forwardOut('127.0.0.1', 0, '127.0.0.1', server.port, (err, ch) =>
            err ? reject(err) : resolve(ch),
          ),
        ),
      );
      await assert.rejects(
        new Promise((resolve, reject) =>
          client.forwardIn('127.0.0.1', 0, (err, port) => (err ? reject(err) : resolve(port))),
        ),
      );
    } finally {
      client.end();
    }
  });

  test('the connection is closed after maxAuthTries failed attempts', async () => {
    let tries = 0;
    const err = await new Promise<Error>((resolve) => {
      const client = new ssh2.Client();
      client.on('error', resolve);
      client.on('close', () => resolve(new Error('connection closed')));
      client.on('ready', () => resolve(new Error('logged in?')));
      client.connect({
        host: '127.0.0.1',
        port: server.port,
        username: 'alice',
        authHandler: (_left, _partial, next) => {
          tries++;
          if (tries > 20) return next(false as never);
          next({ type: 'password', username: 'alice', password: `wrong-${tries}` });
        },
      });
    });
    assert.match(err.message, /authentication methods failed|disconnect|ECONNRESET|closed/i);
    assert.equal(tries, 6, 'six password tries, then the server hung up');
  });
});

describe('the SSH transport', () => {
  test('offers only the modern algorithms, with strict kex and delayed zlib only', async () => {
    const r = await run('ssh', [
      '-vv',
      '-F',
      '/dev/null',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-p',
      String(server.port),
      'nobody@127.0.0.1',
      'true',
    ]);
    const offer = r.stderr.slice(r.stderr.indexOf('peer server KEXINIT proposal'));
    const line = (name: string) => offer.match(new RegExp(`debug2: ${name}: (.*)`))?.[1]?.split(',') ?? [];
    assert.deepEqual(line('host key algorithms'), ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256']);
    assert.ok(line('KEX algorithms').includes('kex-strict-s-v00@openssh.com'));
    assert.ok(line('KEX algorithms').includes('curve25519-sha256'));
    for (const weak of ['sha1', 'cbc', 'nistp', 'md5', 'dss']) {
      assert.ok(!offer.split('debug2: first_kex_follows')[0]!.includes(weak), `offer contains ${weak}`);
    }
    for (const direction of ['compression ctos', 'compression stoc']) {
      assert.ok(line(direction).includes('zlib@openssh.com'), `${direction} offers delayed zlib`);
      assert.ok(!line(direction).includes('zlib'), `${direction} never offers pre-auth zlib`);
    }
  });

  test('serves the host keys it printed, with the fingerprints ssh-keyscan sees', async () => {
    const { stdout } = await execFileAsync('ssh-keyscan', ['-p', String(server.port), '127.0.0.1']);
    const { stdout: listed } = await execFileAsync('sh', [
      '-c',
      `printf '%s\\n' "$0" | ssh-keygen -lf -`,
      stdout,
    ]);
    const scanned = listed
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[1])
      .sort();
    const ours = (await server.running.context.hostKeys.list())
      .filter((k) => !k.algorithm.startsWith('ecdsa'))
      .map((k) => k.sha256)
      .sort();
    assert.deepEqual(scanned, ours);
  });

  test('a client that never authenticates is cut off after the login grace time', async () => {
    const quick = await startTestServer({ config: { loginGraceTime: 1 } });
    try {
      const closedAfter = await new Promise<number>((resolve) => {
        const start = Date.now();
        const socket = connect(quick.port, '127.0.0.1');
        socket.on('data', () => {});
        socket.on('error', () => {});
        socket.on('close', () => resolve(Date.now() - start));
      });
      assert.ok(closedAfter >= 900 && closedAfter < 5000, `closed after ${closedAfter} ms`);
    } finally {
      await quick.close();
    }
  });
});
