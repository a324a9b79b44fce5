// Fuzzes the whole serveSftp loop over a real core session with random and mutated packets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FUZZ_SECONDS, RunTracker, runProperty } from '../util/fuzz-fixture.js';
import { EscapedErrors } from './fuzz-fixture.js';
import {
  MARKER,
  makeFuzzHome,
  playSession,
  REPLY_TYPES,
  resetHome,
  snapshotOutside,
} from './session-fuzz-home-fixture.js';
import { sessionScriptArb } from './session-fuzz-packets-fixture.js';
import { FXP } from './wire/constants.js';

describe('sftp session fuzz', () => {
  it('random and mutated packets never escape the session, the home, or the reply format', async (t) => {
    const fx = await makeFuzzHome();
    const runs = new RunTracker();
    const escaped = new EscapedErrors();
    const seen = new Map<string, number>();
    escaped.start();
    try {
      const before = await snapshotOutside(fx.base, fx.homeDir);
      await runProperty(
        t,
        fc.asyncProperty(sessionScriptArb, (script) =>
          runs.track(
            (async () => {
              await resetHome(fx.base, fx.homeDir);
              const replies = await playSession(fx, script);
              escaped.assertNone();
              for (const reply of replies) {
                assert.ok(REPLY_TYPES.has(reply[0]!), `reply of type ${reply[0]}`);
                const kind =
                  reply[0] === FXP.STATUS && reply.length >= 9
                    ? `status ${reply.readUInt32BE(5)}`
                    : `type ${reply[0]}`;
                seen.set(kind, (seen.get(kind) ?? 0) + 1);
                assert.ok(
                  !reply.toString('latin1').includes(MARKER),
                  'a reply carried data from outside the home',
                );
              }
              assert.equal(
                await snapshotOutside(fx.base, fx.homeDir),
                before,
                'something outside the home changed',
              );
            })(),
          ),
        ),
        1_000,
        9_000,
      );
    } finally {
      await runs.settled();
      escaped.stop();
      await fx.cleanup();
    }
    // How deep the packets got: a run that only ever sees status 5 (bad message) fuzzes nothing.
    t.diagnostic(`replies: ${[...seen].map(([kind, n]) => `${kind}=${n}`).join(' ')}`);
    escaped.assertNone();
  });

  it('memory stays bounded over many fuzzed sessions', async (t) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) {
      // Heap figures without a forced GC are mostly garbage timing; `npm run fuzz` runs node with --expose-gc.
      t.skip('needs node --expose-gc (npm run fuzz)');
      return;
    }
    const fx = await makeFuzzHome();
    try {
      const sessions = FUZZ_SECONDS > 0 ? 2_000 : 200;
      const scripts = fc.sample(sessionScriptArb, { numRuns: sessions, seed: 42 });
      const play = async (from: number, to: number): Promise<void> => {
        for (const script of scripts.slice(from, to)) {
          await resetHome(fx.base, fx.homeDir);
          await playSession(fx, script);
        }
      };
      // Warm up (JIT, module caches, logger) before measuring.
      await play(0, sessions / 10);
      gc();
      const baseline = process.memoryUsage().heapUsed;
      await play(sessions / 10, sessions);
      gc();
      const growth = process.memoryUsage().heapUsed - baseline;
      t.diagnostic(`heap growth after ${sessions} sessions: ${(growth / 1024 / 1024).toFixed(2)} MiB`);
      assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${growth} bytes`);
    } finally {
      await fx.cleanup();
    }
  });
});
