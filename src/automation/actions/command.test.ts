import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { rootLogger } from '../../logger.js';
import type { CommandAction } from '../types.js';
import { contextOf, deliveryOf, ruleOf } from './action-fixture.js';
import { COMMAND_OUTPUT_LIMIT, createCommandRunner } from './command.js';

// A forced collection makes "what is still held" a figure, not garbage-collector timing.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const log = rootLogger.child({ logger: 'test' });
const runner = createCommandRunner({ enabled: true, log });

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-command-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A program that writes the arguments and FERRY_* variables it was given to `out` as JSON. */
async function recorder(dir: string): Promise<string> {
  const script = join(dir, 'record.cjs');
  await writeFile(
    script,
    `require('node:fs').writeFileSync(process.argv[2], JSON.stringify({ args: process.argv.slice(3), env: process.env }));`,
  );
  return script;
}

test('hostile file names reach the command as one literal argument each, and nothing they name runs', async (t) => {
  const dir = await tempDir(t);
  const victim = join(dir, 'victim');
  await mkdir(victim);
  const marker = join(dir, 'pwned');
  const script = await recorder(dir);
  const names = [
    `/in/$(touch ${marker}); rm -rf ${victim}`,
    `/in/\`touch ${marker}\`.csv`,
    `/in/it's "quoted" ; touch ${marker}`,
    `/in/line\ntouch ${marker}\n`,
    `/in/-rf --help | touch ${marker} & echo $HOME`,
  ];
  process.env.FERRY_TEST_CANARY = 'must not leak';
  t.after(() => {
    delete process.env.FERRY_TEST_CANARY;
  });
  for (const [i, path] of names.entries()) {
    const out = join(dir, `out-${i}.json`);
    const action: CommandAction = {
      kind: 'command',
      argv: [process.execPath, script, out, '{{path}}', 'by={{user}}'],
    };
    const rule = ruleOf('hostile', [action]);
    const outcome = await runner.run(
      action,
      deliveryOf(rule, { event: 'upload', user: 'alice', path, remoteAddress: '192.0.2.7' }),
      contextOf(rule),
    );
    assert.equal(outcome.ok, true, outcome.error);
    assert.equal(outcome.responseCode, 0);
    const seen = JSON.parse(await readFile(out, 'utf8')) as { args: string[]; env: Record<string, string> };
    assert.deepEqual(seen.args, [path, 'by=alice'], 'one argument, byte for byte');
    assert.equal(seen.env.FERRY_PATH, path);
    assert.equal(seen.env.FERRY_USER, 'alice');
    assert.equal(seen.env.FERRY_EVENT, 'upload');
    assert.equal(seen.env.FERRY_REMOTE_ADDRESS, '192.0.2.7');
    assert.equal(seen.env.FERRY_RULE, 'hostile');
    assert.equal(seen.env.FERRY_TEST_CANARY, undefined, "the server's environment is not passed on");
  }
  assert.equal(existsSync(marker), false, 'no substitution, backtick or separator was executed');
  assert.equal(existsSync(victim), true);
});

test('output is bounded: 100 MB printed leaves 4 KiB in the outcome and nothing else held', async () => {
  const action: CommandAction = {
    kind: 'command',
    argv: ['/usr/bin/head', '-c', String(100 * 1024 * 1024), '/dev/zero'],
  };
  const rule = ruleOf('loud', [action]);
  // Backing stores of collected buffers are released after the collection, and a single gc() may leave a few
  // MB of other tests' garbage: collect until the heap settles. A runner that keeps every chunk holds ~105 MB.
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await settle();
  const before = process.memoryUsage();
  const outcome = await runner.run(action, deliveryOf(rule, {}), contextOf(rule));
  assert.equal(outcome.ok, true, outcome.error);
  assert.ok((outcome.output ?? '').length < COMMAND_OUTPUT_LIMIT + 100, `kept ${outcome.output?.length}`);
  assert.match(outcome.output ?? '', /\[… 104853504 more bytes of output not kept\]$/);
  // RSS is the wrong figure here: pipe chunks wait for a collection, and other tests share the process.
  await settle();
  const after = process.memoryUsage();
  const held = after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed);
  assert.ok(held < 16 * 1024 * 1024, `still held after the run: ${held} bytes`);
});

test('a command that does not end in time is killed with what it started, and reports the timeout', async () => {
  // The shell's child (sleep) would keep the pipes open if only the shell were killed.
  const action: CommandAction = {
    kind: 'command',
    argv: ['/bin/sh', '-c', 'echo started; sleep 30; echo done'],
    timeout: 0.3,
  };
  const rule = ruleOf('slow', [action]);
  const started = Date.now();
  const outcome = await runner.run(action, deliveryOf(rule, {}), contextOf(rule));
  assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
  assert.equal(outcome.ok, false);
  assert.match(outcome.error ?? '', /timed out after 0\.3 s/);
  assert.equal(outcome.output, 'started\n');
  const loud: CommandAction = { kind: 'command', argv: ['/usr/bin/yes'], timeout: 0.3 };
  const endless = await runner.run(loud, deliveryOf(rule, {}), contextOf(rule));
  assert.equal(endless.ok, false);
  assert.ok((endless.output ?? '').length < COMMAND_OUTPUT_LIMIT + 100);
});

test('the exit status is the response code; commands are refused unless enabled; a missing program is permanent', async () => {
  const rule = ruleOf('r', []);
  const failing: CommandAction = { kind: 'command', argv: ['/bin/sh', '-c', 'echo oops >&2; exit 3'] };
  const failed = await runner.run(failing, deliveryOf(rule, {}), contextOf(rule));
  assert.deepEqual(
    [failed.ok, failed.responseCode, failed.error, failed.output],
    [false, 3, 'exit status 3', 'oops\n'],
  );
  const off = await createCommandRunner({ enabled: false, log }).run(
    failing,
    deliveryOf(rule, {}),
    contextOf(rule),
  );
  assert.deepEqual([off.ok, off.permanent], [false, true]);
  assert.match(off.error ?? '', /rules\.commands/);
  const missing = await runner.run(
    { kind: 'command', argv: ['/nonexistent/tool'] },
    deliveryOf(rule, {}),
    contextOf(rule),
  );
  assert.deepEqual([missing.ok, missing.permanent], [false, true]);
  assert.match(missing.error ?? '', /ENOENT/);
  const relative = await runner.run(
    { kind: 'command', argv: ['sh', '-c', 'true'] },
    deliveryOf(rule, {}),
    contextOf(rule),
  );
  assert.match(relative.error ?? '', /absolute path/);
});
