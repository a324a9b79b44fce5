// Defender, deny lists, per-user sources, account lockout, limits, idle timeout and one-time codes, as an attacker and a user see them.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generate } from 'otplib';
import ssh2 from 'ssh2';
import { runFerry } from './helpers/cli.js';
import { commonSshOptions, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-hardening-'));
});
after(() => rm(work, { recursive: true, force: true }));

function ferry(
  dataDir: string,
  args: string[],
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry([...args, '--data-dir', dataDir], input);
}

/** A login from a chosen loopback source address (127.0.0.0/8 is all ours). */
function login(port: number, user: string, password: string, from = '127.0.0.1') {
  return sftpBatch({ port, user, password, batch: 'pwd\n', options: [`BindAddress=${from}`] });
}

describe('the defender', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { defenderThreshold: 3, defenderBanTime: 60 } });
    await server.addUser('dan', { password: 'dan-pw' });
  });
  after(() => server.close());

  test('bans an address after repeated failures, lists it, and unban lifts it', async () => {
    for (let i = 0; i < 3; i++)
      assert.notEqual((await login(server.port, 'dan', `wrong-${i}`, '127.0.0.9')).code, 0);
    await new Promise((r) => setTimeout(r, 200));
    const banned = await login(server.port, 'dan', 'dan-pw', '127.0.0.9');
    assert.notEqual(banned.code, 0, 'even the right password is refused while banned');
    assert.doesNotMatch(banned.stderr, /Permission denied/, 'refused before authentication');
    assert.equal(
      (await login(server.port, 'dan', 'dan-pw', '127.0.0.1')).code,
      0,
      'other addresses are unaffected',
    );

    const listed = JSON.parse((await ferry(server.dataDir, ['defender', 'list', '--json'])).stdout);
    const host = listed.find((h: { address: string }) => h.address === '127.0.0.9');
    assert.equal(host.banned, true);
    assert.equal(host.banCount, 1);
    const un = await ferry(server.dataDir, ['defender', 'unban', '127.0.0.9']);
    assert.equal(un.code, 0, un.stderr);
    assert.equal((await login(server.port, 'dan', 'dan-pw', '127.0.0.9')).code, 0);
  });

  test('a ban is shared by every worker process', async () => {
    const dataDir = join(work, 'workers');
    assert.equal((await ferry(dataDir, ['init'])).code, 0);
    assert.equal((await ferry(dataDir, ['users', 'add', 'wes', '--password-stdin'], 'wes-pw\n')).code, 0);
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '2'],
      {
        env: { ...process.env, FERRY_LOG_LEVEL: 'silent', FERRY_DEFENDER_THRESHOLD: '2' },
      },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', () => reject(new Error(out)));
      });
      for (let i = 0; i < 2; i++) await login(port, 'wes', 'nope', '127.0.0.10');
      await new Promise((r) => setTimeout(r, 200));
      // Round-robin spreads these over both workers: each must refuse.
      for (let i = 0; i < 4; i++) {
        assert.notEqual((await login(port, 'wes', 'wes-pw', '127.0.0.10')).code, 0, `attempt ${i}`);
      }
      assert.equal((await login(port, 'wes', 'wes-pw', '127.0.0.1')).code, 0);
    } finally {
      await stop(child);
    }
  });
});

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

describe('address rules and accounts', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { denyList: '127.0.0.66/32', lockoutThreshold: 2, lockoutWindow: 60, lockoutDuration: 60 },
    });
    await server.addUser('lou', { password: 'lou-pw' });
    await server.addUser('sam', { password: 'sam-pw', allowFrom: ['127.0.0.5/32'] });
  });
  after(() => server.close());

  test('a deny-listed address is refused before SSH starts', async () => {
    const r = await login(server.port, 'lou', 'lou-pw', '127.0.0.66');
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /Permission denied/);
  });

  test("a user's allowed source networks are enforced, and refusal looks like a wrong password", async () => {
    const elsewhere = await login(server.port, 'sam', 'sam-pw', '127.0.0.1');
    assert.notEqual(elsewhere.code, 0);
    assert.match(elsewhere.stderr, /Permission denied/);
    assert.equal((await login(server.port, 'sam', 'sam-pw', '127.0.0.5')).code, 0);
  });

  test('an account locks after repeated failures until unlocked', async () => {
    for (let i = 0; i < 2; i++) await login(server.port, 'lou', `bad-${i}`);
    const locked = await login(server.port, 'lou', 'lou-pw');
    assert.notEqual(locked.code, 0, 'the right password does not open a locked account');
    assert.match(locked.stderr, /Permission denied/);
    assert.equal((await ferry(server.dataDir, ['users', 'unlock', 'lou'])).code, 0);
    assert.equal((await login(server.port, 'lou', 'lou-pw')).code, 0);
  });
});

describe('limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: {
        maxSessionsPerUser: 1,
        idleTimeout: 2,
        maxUnauthenticatedPerAddress: 5,
        defenderThreshold: 10,
      },
    });
    await server.addUser('lim', { password: 'lim-pw' });
  });
  after(() => server.close());

  function ssh2Login(): Promise<ssh2.Client> {
    return new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      c.once('ready', () => resolve(c)).once('error', reject);
      c.connect({ host: '127.0.0.1', port: server.port, username: 'lim', password: 'lim-pw' });
    });
  }

  test('a second session of a user over maxSessionsPerUser is closed; the first keeps working', async () => {
    const first = await ssh2Login();
    try {
      const second = await ssh2Login();
      const closed = await new Promise<boolean>((resolve) => {
        second.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 3000);
      });
      assert.ok(closed, 'the extra session was closed');
      const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
        first.sftp((e, s) => (e ? reject(e) : resolve(s))),
      );
      const home = await new Promise<string>((resolve, reject) =>
        sftp.realpath('.', (e, p) => (e ? reject(e) : resolve(p))),
      );
      assert.equal(home, '/');
    } finally {
      first.end();
    }
  });

  test('an authenticated connection that does nothing is closed after idleTimeout', async () => {
    const client = await ssh2Login();
    const start = Date.now();
    await new Promise((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const closedAfter = await new Promise<number>((resolve) => {
      client.once('close', () => resolve(Date.now() - start));
      setTimeout(() => resolve(-1), 8000);
    });
    assert.ok(closedAfter >= 1500 && closedAfter < 6000, `closed after ${closedAfter} ms`);
  });

  test('slow-loris: 500 silent connections and a byte-per-second client do not keep a real user out', async () => {
    const sockets: Socket[] = [];
    const slow = connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    slow.on('error', () => {});
    const drip = setInterval(() => slow.write('S'), 1000);
    try {
      for (let i = 0; i < 500; i++) {
        const s = connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.3' });
        s.on('error', () => {});
        sockets.push(s);
      }
      await new Promise((r) => setTimeout(r, 500));
      const start = Date.now();
      const r = await login(server.port, 'lim', 'lim-pw');
      const took = Date.now() - start;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(took < 2000, `a legitimate login took ${took} ms during the attack`);
      const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
      assert.ok(open <= 10, `${open} of the silent connections are still open`);
    } finally {
      clearInterval(drip);
      slow.destroy();
      for (const s of sockets) s.destroy();
    }
  });
});

describe('connection limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { maxConnectionsPerAddress: 3, maxConnections: 6 } });
    await server.addUser('cap', { password: 'cap-pw' });
  });
  after(() => server.close());

  /** Opens a TCP connection from `from` and says whether the server kept it (it sends its banner) or cut it. */
  function probe(from: string): Promise<{ kept: boolean; socket: Socket }> {
    return new Promise((resolve) => {
      const socket = connect({ port: server.port, host: '127.0.0.1', localAddress: from });
      socket.on('error', () => {});
      socket.once('data', () => resolve({ kept: true, socket }));
      socket.once('close', () => resolve({ kept: false, socket }));
    });
  }

  test('maxConnectionsPerAddress and maxConnections refuse the extra connection, not the others', async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const p = await probe('127.0.0.21');
        assert.ok(p.kept, `connection ${i + 1} of the address is served`);
        held.push(p.socket);
      }
      const fourth = await probe('127.0.0.21');
      assert.equal(fourth.kept, false, 'the fourth connection of one address is refused');
      for (let i = 0; i < 3; i++) {
        const p = await probe('127.0.0.22');
        held.push(p.socket);
        assert.ok(p.kept);
      }
      const seventh = await probe('127.0.0.23');
      assert.equal(seventh.kept, false, 'the seventh connection overall is refused');
      assert.ok(
        held.every((s) => !s.destroyed),
        'connections already open are untouched',
      );
    } finally {
      for (const s of held) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      (await login(server.port, 'cap', 'cap-pw', '127.0.0.21')).code,
      0,
      'capacity returns when they close',
    );
  });
});

describe('one-time codes', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.addUser('tia', { password: 'tia-pw' });
  });
  after(() => server.close());

  /** OpenSSH asks SSH_ASKPASS for both the password and the code prompt. */
  async function askpassLogin(code: string) {
    const script = join(work, `askpass-${Math.random().toString(36).slice(2)}`);
    await writeFile(script, `#!/bin/sh\ncase "$1" in *code*) echo '${code}';; *) echo 'tia-pw';; esac\n`);
    await chmod(script, 0o700);
    const args = [
      ...commonSshOptions({
        port: server.port,
        user: 'tia',
        password: '',
        options: ['PreferredAuthentications=password,keyboard-interactive'],
      }),
      '-P',
      String(server.port),
      '-b',
      '-',
      'tia@127.0.0.1',
    ];
    return new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = spawn('setsid', ['-w', 'sftp', ...args], {
        env: { ...process.env, SSH_ASKPASS: script, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (c) => resolve({ code: c, stdout, stderr }));
      child.stdin.end('pwd\n');
    });
  }

  test('after totp enable, login needs the password and a fresh code; a code works once', async () => {
    const enabled = await ferry(server.dataDir, ['users', 'totp', 'enable', 'tia']);
    assert.equal(enabled.code, 0, enabled.stderr);
    const secret = enabled.stdout.match(/otpauth:\/\/totp\/[^\s]*secret=([A-Z2-7]+)/)?.[1];
    assert.ok(secret, enabled.stdout);
    assert.equal(
      enabled.stdout.match(/^ {2}[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/gm)?.length,
      10,
      'ten recovery codes',
    );

    assert.notEqual(
      (await login(server.port, 'tia', 'tia-pw')).code,
      0,
      'the password alone no longer logs in',
    );
    assert.notEqual((await askpassLogin('000000')).code, 0, 'a wrong code is refused');
    const code = await generate({ secret });
    const ok = await askpassLogin(code);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Remote working directory: \//);
    const replay = await askpassLogin(code);
    assert.notEqual(replay.code, 0, 'the same code cannot be used twice');

    const recovery = enabled.stdout.match(/^ {2}([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})$/m)![1]!;
    assert.equal((await askpassLogin(recovery)).code, 0, 'a recovery code works once');
    assert.notEqual((await askpassLogin(recovery)).code, 0, '... and only once');

    assert.equal((await ferry(server.dataDir, ['users', 'totp', 'disable', 'tia'])).code, 0);
    assert.equal((await login(server.port, 'tia', 'tia-pw')).code, 0);
  });
});
