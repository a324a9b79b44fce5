// `ferry --version` and the root help load commander and the command table, nothing else of Ferry's: the
// start-up target (≤ 0.3 s, docs/PERFORMANCE.md) depends on it, and a stray top-level import would undo it.
import assert from 'node:assert/strict';
import { execFile, execFileSync, type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { FERRY_BIN } from './helpers/cli.js';
import { loadedModules, PRINT_LOADED_FLAGS } from './helpers/loaded-modules.js';

/** The non-builtin modules `ferry ARGS` loads, as paths relative to the checkout, and what it printed. */
function modulesLoadedBy(args: string[]): Promise<{ modules: string[]; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...PRINT_LOADED_FLAGS, FERRY_BIN, ...args],
      { env: { ...process.env, FERRY_LOG_LEVEL: 'silent' }, timeout: 60_000 },
      // The exit code is not the question (help without a command exits 2, a usage error).
      (_err, stdout, stderr) => {
        resolve({
          modules: [...new Set([...loadedModules(stderr).values()].flatMap((m) => [...m]))],
          stdout,
        });
      },
    );
  });
}

const ALLOWED = ['bin/ferry.js', 'dist/main.js', 'dist/cli/program.js', 'dist/cli/descriptions.js'];
/** commander, whose files the bundle holds (or loads from node_modules when it does not). */
const COMMANDER = /^node_modules\/commander\//;

for (const args of [['--version'], ['--help'], []]) {
  test(`ferry ${args.join(' ') || '(no arguments)'} loads commander and the command table only`, async () => {
    const run = await modulesLoadedBy(args);
    assert.ok(run.modules.includes('dist/cli/program.js'), `the compiled CLI ran: ${run.modules.join(', ')}`);
    assert.deepEqual(
      run.modules.filter((m) => !ALLOWED.includes(m) && !COMMANDER.test(m)),
      [],
      'modules loaded beyond commander and the command table',
    );
    if (args[0] === '--version') assert.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
  });
}

test('a named command loads its own module, and not the others', async () => {
  const { modules } = await modulesLoadedBy(['migrate', '--help']);
  assert.ok(modules.includes('dist/cli/migrate.js'));
  for (const other of ['dist/cli/serve.js', 'dist/cli/sftp.js', 'dist/cli/users.js', 'dist/server.js']) {
    assert.ok(!modules.includes(other), `${other} loaded for migrate --help`);
  }
});

test('a command that opens the store loads no LDAP client unless a directory login needs one', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-startup-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  execFileSync(process.execPath, [FERRY_BIN, 'init', '--data-dir', dataDir], { stdio: 'ignore' });
  const { modules, stdout } = await modulesLoadedBy(['users', 'list', '--data-dir', dataDir]);
  assert.match(stdout, /admin/, 'the listing ran');
  assert.ok(modules.includes('dist/context.js'), 'the application context was loaded');
  assert.deepEqual(
    modules.filter((m) => m.startsWith('node_modules/ldapts/')),
    [],
    'ldapts was loaded',
  );
});

// CommonJS modules (the store's kysely is required, not imported) are listed from require's cache at exit.
const PRINT_REQUIRED = `process.on('exit', () => {
  for (const file of Object.keys(require.cache)) process._rawDebug('REQUIRED ' + file);
});`;

/**
 * `ferry users list` on a fresh data dir, run with `preload` (CommonJS source) required first; its exit status,
 * output and what the preload printed to stderr.
 */
function usersListWith(t: TestContext, preloadSource: string): SpawnSyncReturns<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-startup-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { ...process.env, FERRY_LOG_LEVEL: 'silent' };
  execFileSync(process.execPath, [FERRY_BIN, 'init', '--data-dir', dataDir], { env, stdio: 'ignore' });
  const preload = join(dataDir, 'preload.cjs');
  writeFileSync(preload, preloadSource);
  const run = spawnSync(
    process.execPath,
    ['--require', preload, FERRY_BIN, 'users', 'list', '--data-dir', dataDir],
    { env, encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /admin/, 'the listing ran');
  return run;
}

test('a command that opens the store takes kysely from the one file the build bundled', (t) => {
  const run = usersListWith(t, PRINT_REQUIRED);
  const required = [...run.stderr.matchAll(/^REQUIRED (.*)$/gm)].map((m) => m[1]!);
  assert.ok(
    required.some((file) => file.endsWith('/dist/vendor/kysely.cjs')),
    'the bundle was loaded',
  );
  assert.deepEqual(
    required.filter((file) => file.includes('/node_modules/kysely/')),
    [],
    "kysely's own files were required one by one",
  );
});

// Counts the functions compiled from source text (`new Function`, which zod uses for its fast object parsers).
const COUNT_COMPILED = `const Original = globalThis.Function;
let compiled = 0;
globalThis.Function = new Proxy(Original, {
  construct(target, args, newTarget) { compiled++; return Reflect.construct(target, args, newTarget); },
  apply(target, self, args) { compiled++; return Reflect.apply(target, self, args); },
});
process.on('exit', () => process._rawDebug('COMPILED ' + compiled));`;

test('a one-shot command parses its config without compiling parsers (zod jitless)', (t) => {
  assert.match(usersListWith(t, COUNT_COMPILED).stderr, /^COMPILED 0$/m);
});
