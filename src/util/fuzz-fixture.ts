// Shared fuzzing harness for the property tests (src/sftp/fuzz.test.ts, src/core/path-fuzz.test.ts): time budget and replay.
import type { TestContext } from 'node:test';
import fc from 'fast-check';

/** Per-property budget: a few seconds in `npm test`; `npm run fuzz` sets FERRY_FUZZ_SECONDS. */
export const FUZZ_SECONDS = Number(process.env.FERRY_FUZZ_SECONDS ?? '0');

/** Runs a property until its run count or time budget is spent; prints the seed, and how to replay a failure. */
export async function runProperty<Ts>(
  t: TestContext,
  property: fc.IRawProperty<Ts>,
  runs: number,
  budgetMs: number,
): Promise<void> {
  const seed = process.env.FERRY_FUZZ_SEED;
  const path = process.env.FERRY_FUZZ_PATH;
  const started = Date.now();
  const details = await fc.check(property, {
    numRuns: FUZZ_SECONDS > 0 ? 1e9 : runs,
    interruptAfterTimeLimit: FUZZ_SECONDS > 0 ? FUZZ_SECONDS * 1000 : budgetMs,
    markInterruptAsFailure: false,
    ...(seed ? { seed: Number(seed) } : {}),
    ...(path ? { path, endOnFailure: true } : {}),
  });
  t.diagnostic(`${t.name}: ${details.numRuns} runs in ${Date.now() - started} ms, seed ${details.seed}`);
  if (details.failed) {
    const replay = `FERRY_FUZZ_SEED=${details.seed} FERRY_FUZZ_PATH=${details.counterexamplePath ?? ''}`;
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : '';
    throw new Error(
      `${fc.defaultReportMessage(details)}\n${cause}\nreplay: ${replay} node --import tsx --test <this file>`,
    );
  }
}

/** fast-check abandons the run in progress when the time budget ends; the fixture must outlive that run. */
export class RunTracker {
  #current: Promise<unknown> = Promise.resolve();

  track<T>(run: Promise<T>): Promise<T> {
    this.#current = run.catch(() => undefined);
    return run;
  }

  settled(): Promise<unknown> {
    return this.#current;
  }
}
