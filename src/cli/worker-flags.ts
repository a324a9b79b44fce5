// The node flags a worker process starts with: the primary's, without tsx when compiled, plus the heap sizes workers need.

/**
 * Old-generation size (MB) below which V8 does not start a full GC in a worker. V8 otherwise sets the limit to
 * ~1.5× the live heap after each mark-compact (~35 MB for Ferry's ~23 MB), and the buffers a transfer holds in
 * flight count against it as external memory: once a worker had run one mark-compact (after uploads, say),
 * every download ran back-to-back mark-compacts (--trace-incremental-marking: "allocation limit", 23/35 MB;
 * ~45 per GiB, twice the CPU, a third less throughput). The floor costs memory only while garbage exists.
 */
const WORKER_OLD_SPACE_FLOOR_MB = 256;

/**
 * Young-generation semi-space cap (MB) for workers. V8's default (16 MB on 64-bit) is reached while a worker loads
 * its modules, and an idle worker never gives it back: ~10 MB of RSS per worker for nothing
 * (docs/PERFORMANCE.md, idle memory; transfer throughput measured the same with the cap).
 */
const WORKER_SEMI_SPACE_MB = 4;

/** True when this is the compiled dist/ (bin/ferry.js), false when tsx runs the TypeScript sources. */
const RUNNING_COMPILED = import.meta.url.endsWith('.js');

/**
 * The primary's node flags without tsx when running compiled (a worker that loaded it would spend ~60 MB and an
 * esbuild process on nothing), plus the old-generation floor and the semi-space cap unless the operator set
 * those sizes already. With the floor comes `--expose-gc`: the worker runs the full GC the floor defers once it
 * is idle (src/cli/idle-gc.ts), or start-up's garbage and that of each busy spell would stay resident.
 */
export function workerExecArgv(
  execArgv: readonly string[] = process.execArgv,
  compiled = RUNNING_COMPILED,
): string[] {
  const flags: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    if (
      compiled &&
      (flag === '--import' || flag === '--loader') &&
      /^tsx(\/|$)/.test(execArgv[i + 1] ?? '')
    ) {
      i++;
      continue;
    }
    if (compiled && /^--(import|loader|experimental-loader)=tsx(\/|$)/.test(flag)) continue;
    flags.push(flag);
  }
  return [...flags, ...workerHeapDefaults(flags)];
}

/**
 * The heap flags above that a worker gets, each only where the operator set nothing of its kind in `flags` or
 * NODE_OPTIONS. Worker threads (`--worker-mode threads`) get them from the main thread as V8 flags set before
 * they start: V8 reads heap sizes when an isolate is created, so the main thread keeps what node started with.
 */
export function workerHeapDefaults(flags: readonly string[] = process.execArgv): string[] {
  const given = [...flags, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const defaults: string[] = [];
  if (!given.some((flag) => /^--(initial|max)-old-space-size/.test(flag)))
    defaults.push(`--initial-old-space-size=${WORKER_OLD_SPACE_FLOOR_MB}`, '--expose-gc');
  if (!given.some((flag) => /^--(min|max)-semi-space-size/.test(flag)))
    defaults.push(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
  return defaults;
}
