// Messages between LstatPool (main thread) and lstat-worker.ts: one request and one reply per listing batch.

/** Numbers per entry in LstatReply.fields: mode, size, uid, gid, nlink, atimeMs, mtimeMs. mode NaN = no entry. */
export const LSTAT_FIELDS = 7;

export interface LstatRequest {
  readonly id: number;
  /** Directory path ending in '/'; every name is lstat'ed as base + name. */
  readonly base: string;
  readonly names: readonly string[];
}

export interface LstatReply {
  readonly id: number;
  readonly fields: Float64Array;
}
