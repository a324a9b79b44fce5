// /files on a real `ferry serve --workers 2` with curl: one sign-in holds on both workers, and a tus upload
// started on one connection and finished on others lands whole, never visible before it is complete.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { FERRY_BIN, runFerry } from './helpers/cli.js';

const execFileAsync = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let dir: string;

/**
 * Landlock leaves the package's own directory readable, node_modules included. A development worktree whose
 * node_modules is a symlink to another checkout cannot load the tus server on the first upload then: only
 * there Landlock is turned off (an installed Ferry, Docker and CI have node_modules inside the package).
 */
function landlockEnv(): Record<string, string> {
  const root = join(import.meta.dirname, '..');
  const modules = realpathSync(join(root, 'node_modules'));
  return modules.startsWith(`${realpathSync(root)}/`) ? {} : { FERRY_LANDLOCK: 'false' };
}
let child: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

/** One curl process (so one new connection) with the cookie jar; returns status, headers and body. */
async function curl(args: string[]): Promise<{ status: number; headers: string; body: string }> {
  const jar = join(dir, 'jar');
  const { stdout } = await execFileAsync(
    'curl',
    ['-sS', '-D', '-', '-b', jar, '-c', jar, '-w', '\n%{http_code}', ...args],
    { maxBuffer: 64 * 1024 * 1024, encoding: 'latin1' },
  );
  const at = stdout.lastIndexOf('\n');
  const status = Number(stdout.slice(at + 1));
  const rest = stdout.slice(0, at);
  const split = rest.indexOf('\r\n\r\n');
  return { status, headers: rest.slice(0, split), body: rest.slice(split + 4) };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-web-serve-'));
});
after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('serve --workers 2: a /files session works on both workers and a tus upload continues across connections', async () => {
  const dataDir = join(dir, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const added = await runFerry(
    ['users', 'add', 'wes', '--password-stdin', '--data-dir', dataDir],
    'wes-pw-123456\n',
  );
  assert.equal(added.code, 0, added.stderr);
  const key = (await runFerry(['apikeys', 'add', 'st', '--role', 'auditor', '--data-dir', dataDir])).stdout
    .trim()
    .split('\n')
    .at(-1)!;
  const port = await freePort();
  child = spawn(
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
      '--workers',
      '2',
      '--http-listen',
      `127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...landlockEnv() } },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    child?.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (/HTTP API listening/.test(out) && /2 worker processes/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child?.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${out}`)));
  });
  const base = `http://127.0.0.1:${port}`;

  const form = await curl([`${base}/files/login`]);
  assert.equal(form.status, 200);
  assert.match(form.headers, /content-security-policy: default-src 'none'/i);
  const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
  const login = await curl([
    '--data-urlencode',
    `_csrf=${token}`,
    '-d',
    'username=wes',
    '--data-urlencode',
    'password=wes-pw-123456',
    `${base}/files/login`,
  ]);
  assert.equal(login.status, 303, login.body);
  // Fresh connections, spread over both workers (the API's status names the answering process).
  const pids = new Set<number>();
  let csrf = '';
  for (let i = 0; i < 16; i++) {
    const page = await curl([`${base}/files/`]);
    assert.equal(page.status, 200, `request ${i}: ${page.body.slice(0, 200)}`);
    csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)?.[1] ?? '';
    // Two API calls between pages: round-robin then sends successive pages to alternate workers.
    for (let j = 0; j < 2; j++) {
      const status = await curl(['-H', `Authorization: Bearer ${key}`, `${base}/api/status`]);
      pids.add(JSON.parse(status.body).pid);
    }
  }
  assert.equal(
    pids.size,
    2,
    'both workers answered (pages too: each page lands on the other worker than the last)',
  );

  const data = randomBytes(5 * 1024 * 1024 + 3);
  const part1 = join(dir, 'p1');
  const part2 = join(dir, 'p2');
  const cut = 2 * 1024 * 1024 + 1;
  await writeFile(part1, data.subarray(0, cut));
  await writeFile(part2, data.subarray(cut));
  const tus = ['-H', 'Tus-Resumable: 1.0.0', '-H', `X-CSRF-Token: ${csrf}`];
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const created = await curl([
    ...tus,
    '-X',
    'POST',
    '-H',
    `Upload-Length: ${data.length}`,
    '-H',
    `Upload-Metadata: dir ${b64('/')},name ${b64('web.bin')}`,
    `${base}/files/tus`,
  ]);
  assert.equal(created.status, 201, created.body);
  const location = /^location: (\S+)/im.exec(created.headers)?.[1] ?? '';
  const patch = (file: string, offset: number) =>
    curl([
      ...tus,
      '-X',
      'PATCH',
      '-H',
      `Upload-Offset: ${offset}`,
      '-H',
      'Content-Type: application/offset+octet-stream',
      '--data-binary',
      `@${file}`,
      `${base}${location}`,
    ]);
  assert.equal((await patch(part1, 0)).status, 204);
  const home = join(dataDir, 'homes', 'wes');
  assert.ok(!existsSync(join(home, 'web.bin')), 'incomplete: not under its name');
  const offsets = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const head = await curl([...tus, '-I', `${base}${location}`]);
    offsets.add(/^upload-offset: (\d+)/im.exec(head.headers)?.[1] ?? '');
  }
  assert.deepEqual([...offsets], [String(cut)], 'every worker reads the offset from the partial');
  assert.equal((await patch(part2, cut)).status, 204);
  assert.equal(sha256(await readFile(join(home, 'web.bin'))), sha256(data));

  const range = await curl(['-r', '100-199', `${base}/files/download?path=%2Fweb.bin`]);
  assert.equal(range.status, 206);
  assert.equal(Buffer.from(range.body, 'latin1').equals(data.subarray(100, 200)), true);
  child.kill('SIGTERM');
  await new Promise((resolve) => child?.once('exit', resolve));
});
