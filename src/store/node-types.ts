// The node registry: one row per serving process of each `ferry serve`, kept alive by heartbeats (cluster mode).

/** Heartbeats a process may miss before it is taken for dead (shown down; its sessions and claims lapse). */
export const MISSED_HEARTBEATS = 3;

/**
 * Heartbeats after which what a silent process left in the store (its sessions, its upload claims) is deleted. Far
 * more than MISSED_HEARTBEATS: a node that only stalls (a loaded machine, clocks a little apart) must not lose its
 * rows, which it would not write again; they stop counting at MISSED_HEARTBEATS anyway.
 */
export const SWEEP_AFTER_HEARTBEATS = 20;

/** True while the process' last heartbeat is within `missed` of its own interval. */
export function heartbeatIsLive(
  heartbeatAt: Date,
  heartbeatMs: number,
  now: Date,
  missed = MISSED_HEARTBEATS,
): boolean {
  return now.getTime() - heartbeatAt.getTime() <= heartbeatMs * missed;
}

/** Where a node listens: the SFTP and, when it runs, the HTTP listener. */
export interface NodeListener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

/** One serving process of a node (a single `serve`, or one worker of `serve --workers N`). */
export interface NodeProcess {
  /** The node id (`--node-id`); the processes of one `serve` share it. */
  readonly nodeId: string;
  /** The `serve` run the process belongs to: its workers share it, a second `serve` with the same id does not. */
  readonly runId: string;
  readonly pid: number;
  readonly version: string;
  readonly host: string;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  /** The heartbeat interval the process keeps, so a reader can judge staleness without its config. */
  readonly heartbeatMs: number;
  readonly listeners: readonly NodeListener[];
  /** Open SSH connections the process holds. */
  readonly sessions: number;
}

/** Why a registration was refused: another live `serve` holds the id. */
export interface NodeConflict {
  readonly conflict: NodeProcess;
}

export interface NodeRepository {
  /**
   * Registers a process under its node id, unless a process of another run of that id is live (its last
   * heartbeat within `staleMs` of `now`) and `isGone` does not know it dead: then nothing changes and that process
   * is returned. Stale and gone rows of the id (a killed node, a dead worker) are removed.
   */
  register(
    process: NodeProcess,
    staleMs: number,
    now: Date,
    isGone?: (other: NodeProcess) => boolean,
  ): Promise<NodeConflict | undefined>;
  /** Records a heartbeat; false when the row is gone (another run took the id over after this one went stale). */
  heartbeat(nodeId: string, runId: string, pid: number, sessions: number, now: Date): Promise<boolean>;
  /** Removes a process' row (a clean stop). */
  remove(nodeId: string, runId: string, pid: number): Promise<void>;
  /** Every registered process, by node id then pid. */
  list(): Promise<NodeProcess[]>;
}
