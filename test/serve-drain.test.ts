// `ferry serve` on SIGTERM: not ready at once, no new connections, the upload in flight finishes and its session's end
// is recorded, then the process exits. As one process, and as two worker threads (whose main thread passes the
// signal on, and whose listening socket closes once both have closed their copies).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
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
      // The same over FTPS (curl, --limit-rate in bytes/s).
      const ftpsUpload = new Promise<number | null>((resolve) => {
        const curl = spawn('curl', [
          ...['-sS', '--ssl-reqd', '-k', '--limit-rate', '1000k', '-T', local],
          ...['-u', 'pat:Dra1n-pa55', `ftp://127.0.0.1:${ftpsPort}/ftps-big.bin`],
        ]);
        curl.once('exit', (code) => resolve(code));
      });
      const homes = join(dataDir, 'homes');
      while ((await filesOver(homes, 512 * 1024)) < 2) await new Promise((r) => setTimeout(r, 50));
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
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
