// A worker whose primary died: what it asked the primary for is answered by itself, never left hanging, and no send
// to the closed channel throws (node makes one without a callback an uncaught 'error' on `process`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

test('after its primary is killed, a worker gathers alone and takes tokens from its own bucket', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'cluster-orphan-fixture.ts')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // The primary's exit; the worker writes to the same pipes, which close when it is done too.
  const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, ended) => resolve(ended)),
  );
  assert.equal(signal, 'SIGKILL', 'the primary killed itself on the gather request');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker hung:\n${stdout}\n${stderr}`)), 20_000);
    child.stdout.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  assert.equal(stderr, '');
  const report = JSON.parse(stdout.trim()) as {
    asked: { kind: string; pid: number }[];
    later: { kind: string; pid: number }[];
    connected: boolean;
  };
  assert.equal(report.connected, false);
  assert.equal(report.asked.length, 1, "the request the primary left unanswered: this worker's part alone");
  assert.equal(report.asked[0]?.kind, 'pid');
  assert.deepEqual(report.later, report.asked, 'and the same for one asked after');
  assert.notEqual(report.asked[0]?.pid, child.pid);
});
