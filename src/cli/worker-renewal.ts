// The primary's side of landlock-coverage.ts: replaces its workers one by one when one of them reports a directory
// out of its Landlock rules' reach, so a user added with a home elsewhere can log in without a restart.
import type { Worker } from 'node:cluster';
import type { Logger } from '../logger.js';

/** A worker's report of directories added after its start that it cannot reach. */
export interface RenewRequest {
  readonly type: 'renew';
  readonly paths: readonly string[];
}

/** The primary's order to a replaced worker: stop accepting, let open connections end (as SIGTERM), exit. */
export const RETIRE_MESSAGE = { type: 'retire' } as const;

/**
 * Generations of replaced workers that may drain without a deadline at once. Each renewal retires every worker,
 * and a retired one lives as long as its longest connection (an idle one up to idleTimeout): a script adding
 * users with homes elsewhere would otherwise pile up generations of them, each holding a worker's memory.
 */
export const MAX_DRAINING_GENERATIONS = 3;

export function isRenewRequest(message: unknown): message is RenewRequest {
  const m = message as Partial<RenewRequest> | undefined;
  return m?.type === 'renew' && Array.isArray(m.paths) && m.paths.every((p) => typeof p === 'string');
}

export interface WorkerRenewalOptions {
  /** Forks a serving worker, wired as every other (its messages, its restart on death). */
  readonly fork: () => Worker;
  /** The workers serving now. */
  readonly workers: () => readonly Worker[];
  /** True once the primary is stopping: no renewal starts or goes on. */
  readonly stopping: () => boolean;
  readonly log: Logger;
}

/**
 * One renewal at a time, each worker in turn: its replacement is forked and, once it listens (its rules made
 * from the store as it is now), the old one retires; if the replacement cannot start, the old one keeps
 * serving. Every worker reports the same change, so a request for paths already renewed for is ignored.
 */
export class WorkerRenewal {
  readonly #o: WorkerRenewalOptions;
  readonly #renewedFor = new Set<string>();
  /** Replaced workers still draining, oldest first. */
  readonly #retiring = new Set<Worker>();
  /** Those of them told to stop within drainTimeout (SIGTERM), beyond MAX_DRAINING_GENERATIONS. */
  readonly #deadlined = new WeakSet<Worker>();
  readonly #starting = new Set<Worker>();
  #pending: string[] = [];
  #running = false;

  constructor(options: WorkerRenewalOptions) {
    this.#o = options;
  }

  /** A worker that was replaced, or a replacement that has not listened yet: not restarted when it exits. */
  owns(worker: Worker): boolean {
    return this.#retiring.has(worker) || this.#starting.has(worker);
  }

  /** The worker has exited: forget it. */
  exited(worker: Worker): void {
    this.#retiring.delete(worker);
    this.#deadlined.delete(worker);
    this.#starting.delete(worker);
  }

  request(paths: readonly string[]): void {
    const fresh = paths.filter((p) => !this.#renewedFor.has(p));
    if (fresh.length === 0 || this.#o.stopping()) return;
    for (const path of fresh) this.#renewedFor.add(path);
    this.#pending.push(...fresh);
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#pending.length > 0 && !this.#o.stopping()) {
        const paths = this.#pending;
        this.#pending = [];
        await this.#renewAll(paths);
      }
    } finally {
      this.#running = false;
    }
  }

  async #renewAll(paths: readonly string[]): Promise<void> {
    const old = this.#o.workers().filter((w) => !this.owns(w));
    this.#o.log.info(
      { paths, workers: old.length },
      "landlock: directories added after the start are out of the workers' reach; replacing each worker with one that reaches them",
    );
    for (const worker of old) {
      if (this.#o.stopping()) return;
      const fresh = this.#o.fork();
      this.#starting.add(fresh);
      const started = await listened(fresh);
      // One that failed stays marked until it exits (exited()): it is not restarted as a dead worker would be.
      if (!started) {
        this.#o.log.error(
          { workerPid: fresh.process.pid },
          'a replacement worker could not start (see the log above); the old workers keep serving, without the new directories',
        );
        return;
      }
      this.#starting.delete(fresh);
      this.#retiring.add(worker);
      worker.send(RETIRE_MESSAGE);
      this.#o.log.info(
        { oldPid: worker.process.pid, newPid: fresh.process.pid, hardening: started },
        'worker replaced: the old one ends once its open connections have',
      );
      this.#bound(old.length);
    }
  }

  /**
   * Beyond MAX_DRAINING_GENERATIONS generations of `perGeneration` workers, the oldest replaced ones get SIGTERM:
   * as when the service stops, their transfers have drainTimeout to finish, then they end.
   */
  #bound(perGeneration: number): void {
    const undeadlined = [...this.#retiring].filter((w) => !this.#deadlined.has(w));
    const excess = undeadlined.length - MAX_DRAINING_GENERATIONS * Math.max(1, perGeneration);
    for (const worker of undeadlined.slice(0, Math.max(0, excess))) {
      this.#deadlined.add(worker);
      this.#o.log.warn(
        { workerPid: worker.process.pid, generations: MAX_DRAINING_GENERATIONS },
        'too many replaced workers still draining: the oldest stops within drainTimeout',
      );
      worker.process.kill('SIGTERM');
    }
  }
}

/** The worker's hardening lines once it reports it listens; undefined when it reports a failure or exits first. */
function listened(worker: Worker): Promise<readonly string[] | undefined> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: unknown; hardening?: readonly string[] } | undefined) => {
      if (message?.type === 'listening') done(message.hardening ?? []);
      else if (message?.type === 'failed') done(undefined);
    };
    const onExit = () => done(undefined);
    const done = (ok: readonly string[] | undefined) => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(ok);
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
}
