// The curl examples of docs/API.md, run verbatim by bash against a real `ferry serve` (only its port differs).
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Json } from './helpers/api.js';
import { FERRY_BIN, runFerry } from './helpers/cli.js';

const execFileAsync = promisify(execFile);
const DOC = join(import.meta.dirname, '..', 'docs', 'API.md');

let dir: string;
let dataDir: string;
let child: ChildProcess | undefined;
let port = 0;

/** The ```sh blocks of one section of the document. */
function shellBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `docs/API.md has no section ${heading}`);
  const end = markdown.indexOf('\n## ', start + heading.length + 2);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/** The JSON objects curl printed back to back (its answers end without a newline), and nothing else. */
function jsonValues(text: string): Json[] {
  const values: Json[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"' && depth > 0) inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && depth > 0 && --depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
  }
  return values;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-api-docs-'));
  dataDir = join(dir, 'data');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
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
      '--http-listen',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'warn' } },
  );
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    child?.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/HTTP API listening on https?:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child?.stderr?.resume();
    child?.on('exit', (code) => reject(new Error(`serve exited (${code}):\n${out}`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the curl examples of docs/API.md work as written', async () => {
  // What the examples assume: `ferry` on the PATH, a key in ~/.ssh, and a job named nightly.
  const bin = join(dir, 'bin');
  const home = join(dir, 'home');
  await mkdir(bin);
  await mkdir(join(home, '.ssh'), { recursive: true });
  await writeFile(join(bin, 'ferry'), `#!/bin/sh\nexec "${process.execPath}" "${FERRY_BIN}" "$@"\n`);
  await chmod(join(bin, 'ferry'), 0o755);
  await execFileAsync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'alice@docs',
    '-f',
    join(home, '.ssh', 'id_ed25519'),
  ]);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: home, FERRY_DATA_DIR: dataDir };
  for (const args of [
    ['partners', 'add', 'acme', '--host', '127.0.0.1', '--port', '1', '--user', 'ferry', '--password-stdin'],
    [
      'jobs',
      'add',
      'nightly',
      '--partner',
      'acme',
      '--direction',
      'pull',
      '--remote-dir',
      '/out',
      '--local-dir',
      join(dir, 'in'),
    ],
  ]) {
    const r = await runFerry(args, 'partner-password\n', env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }

  const blocks = shellBlocks(await readFile(DOC, 'utf8'), '## Examples with curl');
  assert.equal(blocks.length, 1);
  const script = (blocks[0] ?? '').replaceAll('http://127.0.0.1:8080', `http://127.0.0.1:${port}`);
  // -e: a ferry command that fails stops the script (curl -sS fails only when it cannot connect).
  const { stdout } = await execFileAsync('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: dir, env });

  const answers = jsonValues(stdout);
  const [user, users, run, audit, sessions, deliveries] = answers;
  assert.equal(user.name, 'alice', stdout);
  assert.equal(user.publicKeys[0].comment, 'alice@docs');
  assert.deepEqual(
    users.items.map((u: { name: string }) => u.name),
    ['admin', 'alice'],
  );
  assert.equal(run.trigger, 'manual');
  assert.ok(audit.items.some((r: { actor: string }) => r.actor === 'api:deploy'));
  assert.match(stdout, /audit trail verified: \d+ record\(s\)/, 'ferry audit verify accepted the export');
  assert.deepEqual(sessions.items, []);
  assert.deepEqual(deliveries.items, []);
  assert.equal(answers.length, 6, stdout);
});
