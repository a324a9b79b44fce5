// When a worker runs its idle GC: only after a run of idle checks, only when what its heap holds grew since.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleGc, type IdleGcPolicy } from './idle-gc.js';

const MB = 2 ** 20;
const POLICY: IdleGcPolicy = {
  idleChecks: 3,
  laterIdleChecks: 6,
  idleCpuMicros: 10_000,
  minGrowthBytes: 4 * MB,
};

/** A process whose CPU time and heap the test moves by hand; `collect` leaves `live` bytes. */
function fakeProcess() {
  const state = { cpu: 0, used: 30 * MB, live: 24 * MB, collections: 0, releases: 0 };
  const gc = new IdleGc(POLICY, {
    cpuMicros: () => state.cpu,
    heldBytes: () => state.used,
    collect: () => {
      state.collections++;
      state.used = state.live;
      state.cpu += 50_000; // a GC's own CPU time
    },
    release: () => {
      state.releases++;
    },
  });
  return { state, gc };
}

test('collects once the process has been idle for the set number of checks, then not again while idle', () => {
  const { state, gc } = fakeProcess();
  assert.equal(gc.check(), undefined);
  assert.equal(gc.check(), undefined);
  assert.deepEqual(gc.check(), { before: 30 * MB, after: 24 * MB });
  assert.equal(state.collections, 1);
  for (let i = 0; i < 10; i++) assert.equal(gc.check(), undefined, 'nothing grew: no further GC');
  assert.equal(state.collections, 1);
});

test('a busy check starts the idle count again', () => {
  const { state, gc } = fakeProcess();
  gc.check();
  gc.check();
  state.cpu += 200_000; // 200 ms of CPU in one interval: busy
  assert.equal(gc.check(), undefined);
  gc.check();
  gc.check();
  assert.equal(state.collections, 0, 'two idle checks after the busy one are not enough');
  gc.check();
  assert.equal(state.collections, 1);
});

test('after a busy spell that left garbage, the next idle run collects again, later; small growth does not', () => {
  const { state, gc } = fakeProcess();
  for (let i = 0; i < 3; i++) gc.check();
  assert.equal(state.collections, 1);
  state.used += 2 * MB; // under the growth threshold
  for (let i = 0; i < 8; i++) gc.check();
  assert.equal(state.collections, 1);
  state.cpu += 5_000_000;
  state.used += 60 * MB; // a transfer's buffers, held by dead wrappers in the old generation
  gc.check();
  for (let i = 0; i < 5; i++) gc.check();
  assert.equal(state.collections, 1, 'a GC but the first waits the longer run of idle checks');
  gc.check();
  assert.equal(state.collections, 2);
});

test('a pause shorter than the later count between busy spells never collects after the first GC', () => {
  const { state, gc } = fakeProcess();
  for (let i = 0; i < 3; i++) gc.check();
  assert.equal(state.collections, 1);
  for (let spell = 0; spell < 5; spell++) {
    state.cpu += 2_000_000; // a session
    state.used += 40 * MB;
    gc.check();
    for (let i = 0; i < 5; i++) gc.check(); // five idle seconds, then the next session
  }
  assert.equal(state.collections, 1);
  assert.equal(state.releases, 6, 'the kept rings still go back after every pause of idleChecks');
});

test('gives back what the process keeps for reuse once per idle spell, whether or not a GC is worth it', () => {
  const { state, gc } = fakeProcess();
  state.used = 1 * MB; // nothing to collect
  gc.check();
  gc.check();
  assert.equal(state.releases, 0, 'not idle long enough yet');
  gc.check();
  assert.equal(state.releases, 1);
  assert.equal(state.collections, 0, 'no growth: no GC, the release still runs');
  for (let i = 0; i < 10; i++) gc.check();
  assert.equal(state.releases, 1, 'once per idle spell');
  state.cpu += 5_000_000; // busy: the rings are taken again
  gc.check();
  for (let i = 0; i < 3; i++) gc.check();
  assert.equal(state.releases, 2, 'the next idle spell releases again');
});
