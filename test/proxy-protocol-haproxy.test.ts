// Ferry behind a real HAProxy in TCP mode with the PROXY protocol (v1 and v2): OpenSSH logs in through it, and the
// audit trail and the defender see the client's own address, not the load balancer's.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setLogFileSink } from '../src/logger.js';
import { V2_SIGNATURE } from '../src/util/proxy-protocol.js';
import { runFerry } from './helpers/cli.js';
import { HAPROXY, type RunningHaproxy, startHaproxy } from './helpers/haproxy.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'Pr0xied-pa55';

/** The JSON lines of `ferry audit query --json` with these filters. */
async function audit(dataDir: string, ...filters: string[]): Promise<{ action: string; address?: string }[]> {
  const r = await runFerry(['audit', 'query', '--json', '--data-dir', dataDir, ...filters]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { action: string; address?: string });
}

/** The SSH banner a new connection gets, or '' when it is closed first. */
function banner(port: number, from: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from });
    socket.on('error', () => {});
    socket.once('data', (d: Buffer) => {
      socket.destroy();
      resolve(d.toString('latin1'));
    });
    socket.once('close', () => resolve(''));
  });
}

for (const send of ['send-proxy-v2', 'send-proxy'] as const) {
  describe(`Ferry behind HAProxy (${send})`, { skip: HAPROXY ? false : 'haproxy is not installed' }, () => {
    let server: TestServer;
    let haproxy: RunningHaproxy;
    let work: string;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'ferry-proxy-'));
      server = await startTestServer({
        config: {
          // HAProxy connects from 127.0.0.1; nothing is allow-listed, so a ban of the proxy would show.
          proxyProtocolFrom: '127.0.0.1/32',
          allowList: '',
          defenderThreshold: 3,
        },
      });
      await server.addUser('pat', { password: PASSWORD, perms: ['/=*'] });
      haproxy = await startHaproxy(
        [{ sftp: `127.0.0.1:${server.port}`, httpPort: server.running.httpPort! }],
        send,
      );
    });
    after(async () => {
      await haproxy?.stop();
      await server?.close();
      await rm(work, { recursive: true, force: true });
    });

    test('an OpenSSH upload through HAProxy is audited with the client address', async () => {
      const local = join(work, 'report.csv');
      await writeFile(local, 'a,b\n1,2\n');
      const r = await sftpBatch({
        port: haproxy.port,
        user: 'pat',
        password: PASSWORD,
        options: ['BindAddress=127.0.0.2'],
        batch: `put ${local} /report.csv\n`,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await readFile(join(await server.homeOf('pat'), 'report.csv'), 'utf8'), 'a,b\n1,2\n');
      const records = await audit(server.dataDir, '--action', 'connect,auth,upload');
      const actions = new Set(records.map((x) => x.action));
      for (const action of ['connect', 'auth', 'upload'])
        assert.ok(actions.has(action), `a ${action} record`);
      assert.deepEqual([...new Set(records.map((x) => x.address))], ['127.0.0.2']);
    });

    test('failed logins through HAProxy ban the client address, not the proxy', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await sftpBatch({
          port: haproxy.port,
          user: 'pat',
          password: 'wrong-password',
          options: ['BindAddress=127.0.0.3'],
          batch: 'ls\n',
        });
        assert.notEqual(r.code, 0);
      }
      const list = await runFerry(['defender', 'list', '--banned', '--json', '--data-dir', server.dataDir]);
      assert.equal(list.code, 0, list.stderr);
      const banned = (JSON.parse(list.stdout) as { address: string }[]).map((h) => h.address);
      assert.deepEqual(banned, ['127.0.0.3']);
      // The banned client is cut at once; another client behind the same proxy still gets in.
      assert.equal(await banner(haproxy.port, '127.0.0.3'), '');
      const ok = await sftpBatch({
        port: haproxy.port,
        user: 'pat',
        password: PASSWORD,
        options: ['BindAddress=127.0.0.4'],
        batch: 'ls /\n',
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /report\.csv/);
    });

    test('a direct connection from the trusted proxy address without a header is closed unanswered', async () => {
      assert.equal(await banner(server.port, '127.0.0.1'), '');
    });
  });
}

/** Connects from `from`, writes `bytes`, and resolves with what the server sent before it closed. */
function exchange(port: number, from: string, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from });
    let got = '';
    socket.on('error', () => {});
    socket.once('connect', () => socket.end(bytes));
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    socket.once('close', () => resolve(got));
  });
}

describe('PROXY headers sent straight to Ferry', () => {
  let server: TestServer;
  const logLines: { msg?: string; reason?: string; remoteAddress?: string }[] = [];
  before(async () => {
    setLogFileSink({ write: (line) => logLines.push(JSON.parse(line) as (typeof logLines)[number]) });
    server = await startTestServer({
      config: { proxyProtocolFrom: '127.0.0.1/32', allowList: '', logLevel: 'warn', defenderThreshold: 2 },
    });
  });
  after(async () => {
    await server?.close();
    setLogFileSink(undefined);
  });

  test('a bad header from the trusted source closes the connection unanswered, logged once, nobody penalised', async () => {
    const oversized = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff]), Buffer.alloc(100)]);
    const bad: (Buffer | string)[] = [
      'SSH-2.0-OpenSSH_9.6\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 99999 22\r\n',
      `PROXY TCP4 ${'9'.repeat(200)}\r\n`,
      oversized,
    ];
    for (const bytes of bad) assert.equal(await exchange(server.port, '127.0.0.1', bytes), '');
    const warnings = () => logLines.filter((l) => l.msg === 'bad PROXY protocol header; closing');
    for (let i = 0; i < 100 && warnings().length < bad.length; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(warnings().length, bad.length, JSON.stringify(warnings()));
    assert.ok(warnings().every((l) => l.remoteAddress === '127.0.0.1' && l.reason));
    // Four failures from the balancer's address, threshold 2: still not banned, a good header still gets in.
    const list = await runFerry(['defender', 'list', '--json', '--data-dir', server.dataDir]);
    assert.deepEqual(JSON.parse(list.stdout), []);
    const served = await new Promise<string>((resolve) => {
      const socket = connect({ port: server.port, host: '127.0.0.1' });
      socket.on('error', () => {});
      socket.once('connect', () => socket.write('PROXY TCP4 192.0.2.7 127.0.0.1 5555 22\r\n'));
      socket.once('data', (d: Buffer) => {
        socket.destroy();
        resolve(d.toString('latin1'));
      });
      socket.once('close', () => resolve(''));
    });
    assert.match(served, /^SSH-2\.0-Ferry/);
  });

  test('from an untrusted source are not read: the connection is plain SSH and the forged address never reaches the audit', async () => {
    const forged = await new Promise<string>((resolve) => {
      const socket = connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.5' });
      let got = '';
      socket.on('error', () => {});
      socket.once('connect', () => socket.write('PROXY TCP4 203.0.113.9 127.0.0.1 5555 22\r\n'));
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1');
      });
      socket.once('close', () => resolve(got));
    });
    // The server sent its banner (it took the connection as SSH), then gave up on a client that is not one.
    assert.match(forged, /^SSH-2\.0-Ferry/);
    const records = await audit(server.dataDir, '--action', 'connect,security,disconnect');
    assert.ok(!records.some((x) => x.address === '203.0.113.9'), JSON.stringify(records));
  });
});
