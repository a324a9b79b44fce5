// `ferry serve` on SIGTERM: not ready at once, no new connections, the upload in flight finishes and its session's end
// is recorded, then the process exits. As one process, and as two worker threads (whose main thread passes the
// signal on, and whose listening socket closes once both have closed their copies).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Agent, get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { sftpBatch } from './helpers/openssh.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-drain-'));
});
after(() => rm(work, { recursive: true, force: true }));

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** The regular files under `dir` holding at least `bytes` (an upload in progress has a hidden temporary name). */
async function filesOver(dir: string, bytes: number): Promise<number> {
  let count = 0;
  // The homes are made at first login.
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const size = (await stat(join(entry.parentPath, entry.name)).catch(() => undefined))?.size ?? 0;
    if (size >= bytes) count++;
  }
  return count;
}

/** How a new TCP connection to the port ends: 'refused', or 'accepted' when the kernel took it. */
function tryConnect(port: number): Promise<'refused' | 'accepted'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', () => resolve('refused'));
  });
}

/**
 * A kept-alive HTTP connection to the server: each `get()` asks /readyz over the same socket, and answers with the
 * status, or says how the connection failed (a load balancer keeps its health check connections open).
 */
function keptAlive(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let opened = false;
  return {
    get: () =>
      new Promise<number | string>((resolve) => {
        const req = httpGet({ host: '127.0.0.1', port, path: '/readyz', agent }, (res) => {
          res.resume();
          res.once('end', () => {
            const status =
              opened && !req.reusedSocket ? 'answered on a new connection' : (res.statusCode ?? 0);
            opened = true;
            resolve(status);
          });
        });
        req.once('error', (err) => resolve(err.message));
      }),
    close: () => agent.destroy(),
  };
}

const MODES = {
  'one process': ['--workers', '1'],
  'two worker threads': ['--workers', '2', '--worker-mode', 'threads'],
};

for (const [mode, workers] of Object.entries(MODES))
  test(`SIGTERM drains (${mode}): /readyz 503, new SFTP and FTPS connections refused, the uploads in flight over both complete intact, then exit 0`, async () => {
    const dataDir = join(work, mode.replaceAll(' ', '-'));
    assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
    const add = await runFerry(
      ['users', 'add', 'pat', '--password-stdin', '--data-dir', dataDir],
      'Dra1n-pa55\n',
    );
    assert.equal(add.code, 0, add.stderr);
    const child = spawn(
      process.execPath,
      [
        FERRY_BIN,
        'serve',
        '--data-dir',
        dataDir,
        '--listen',
        '127.0.0.1',
        '--sftp-port',
        '0',
        '--http-listen',
        '127.0.0.1:0',
        ...workers,
        '--drain-timeout',
        '120',
        '--ftps-port',
        '0',
      ],
      { env: { ...process.env, FERRY_LOG_LEVEL: 'silent', FERRY_ALLOW_LIST: '127.0.0.1' } },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The health checks below run until this is false (also when an assertion fails).
    let checking = false;
    try {
      const { sftpPort, httpPort, ftpsPort } = await new Promise<{
        sftpPort: number;
        httpPort: number;
        ftpsPort: number;
      }>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const sftp = out.match(/SFTP listening on 127\.0\.0\.1:(\d+)/);
          const http = out.match(/http:\/\/127\.0\.0\.1:(\d+)/);
          const ftps = out.match(/FTPS listening \(explicit 127\.0\.0\.1:(\d+)\)/);
          if (sftp && http && ftps)
            resolve({ sftpPort: Number(sftp[1]), httpPort: Number(http[1]), ftpsPort: Number(ftps[1]) });
        });
        void exited.then(() => reject(new Error(`serve exited: ${out}`)));
      });
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
      assert.equal(ready.status, 200);

      // 4 MiB at about 1 MB/s (sftp -l is in Kbit/s): still uploading when SIGTERM arrives.
      const local = join(work, 'big.bin');
      await writeFile(local, randomBytes(4 * 1024 * 1024));
      const upload = sftpBatch({
        port: sftpPort,
        user: 'pat',
        password: 'Dra1n-pa55',
        extraArgs: ['-l', '8000'],
        batch: `put ${local} /big.bin\n`,
      });
      // The same over FTPS (curl, --limit-rate in bytes/s), at half the rate: it is still in flight seconds after
      // the SFTP one ended.
      let ftpsDone = false;
      const ftpsUpload = new Promise<number | null>((resolve) => {
        const curl = spawn('curl', [
          ...['-sS', '--ssl-reqd', '-k', '--limit-rate', '500k', '-T', local],
          ...['-u', 'pat:Dra1n-pa55', `ftp://127.0.0.1:${ftpsPort}/ftps-big.bin`],
        ]);
        curl.once('exit', (code) => {
          ftpsDone = true;
          resolve(code);
        });
      });
      const homes = join(dataDir, 'homes');
      while ((await filesOver(homes, 512 * 1024)) < 2) await new Promise((r) => setTimeout(r, 50));

      // Eight kept-alive health check connections, spread over the threads by the kernel, each asking every 100 ms
      // from before the drain until 2 s after the SFTP upload ended, while the FTPS one goes on: every thread
      // answers 503 on them, also one whose own transfers ended (it closes its listeners when all threads drained).
      checking = true;
      const statuses: (number | string)[] = [];
      const connections = Array.from({ length: 8 }, () => keptAlive(httpPort));
      const first = await Promise.all(connections.map((c) => c.get()));
      assert.deepEqual(first, Array(8).fill(200));
      const checkers = connections.map(async (c) => {
        while (checking) {
          statuses.push(await c.get());
          await new Promise((res) => setTimeout(res, 100));
        }
        c.close();
      });
      child.kill('SIGTERM');

      // Not ready as soon as the drain starts (a load balancer's health check takes the node out)...
      let body: { status: string; checks: { accepting: boolean } } | undefined;
      for (;;) {
        const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
        if (r.status === 503) {
          body = (await r.json()) as typeof body;
          break;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(body?.status, 'not-ready');
      assert.equal(body?.checks.accepting, false);
      // ...and the SFTP listener is closed: a new client is refused while the upload goes on.
      assert.equal(await tryConnect(sftpPort), 'refused');
      assert.equal(await tryConnect(ftpsPort), 'refused', 'and so is a new FTPS client');
      assert.equal(child.exitCode, null, 'serve still runs while the upload is in flight');

      const r = await upload;
      await new Promise((res) => setTimeout(res, 2000));
      checking = false;
      await Promise.all(checkers);
      assert.equal(ftpsDone, false, 'the FTPS upload is still in flight');
      assert.deepEqual(
        statuses.filter((s) => s !== 200 && s !== 503),
        [],
        'every health check on a kept-alive connection answered',
      );
      assert.ok(statuses.filter((s) => s === 503).length >= 8 * 10, String(statuses));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256(join(homes, 'pat', 'big.bin')), await sha256(local));
      assert.equal(await ftpsUpload, 0, 'the FTPS upload in flight completes too');
      assert.equal(await sha256(join(homes, 'pat', 'ftps-big.bin')), await sha256(local));
      // The last connection gone, the process stops by itself, long before the 120 s drain timeout.
      assert.equal(await exited, 0);
      // ...after recording that connection's end: the drain waited for the session's own close, not only the socket's.
      const trail = await runFerry(['audit', 'query', '--user', 'pat', '--json', '--data-dir', dataDir]);
      assert.equal(trail.code, 0, trail.stderr);
      const actions = trail.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { action: string }).action);
      assert.deepEqual(actions.slice(-2), ['upload', 'disconnect'], trail.stdout);
    } finally {
      checking = false;
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
