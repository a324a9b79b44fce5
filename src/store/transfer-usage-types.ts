// Transfer quota usage: the bytes each user moved per UTC day and month, counted as they move.
import type { TransferQuotas } from '../util/transfer-quota.js';

export type TransferWay = 'upload' | 'download';

export interface TransferUsage {
  readonly uploaded: number;
  readonly downloaded: number;
}

export interface TransferUsageRepository {
  /**
   * Counts `bytes` the user moved in `direction` at `at` (in its UTC day and month) in one atomic statement, shared
   * by every process: refused (false, nothing counted) when that would pass one of `quotas` (the effective ones).
   * A user that does not exist is refused too.
   */
  charge(
    name: string,
    direction: TransferWay,
    bytes: number,
    quotas: TransferQuotas,
    at: Date,
  ): Promise<boolean>;
  /** What the user moved in the UTC day and the UTC month containing `at`. */
  usage(name: string, at: Date): Promise<{ readonly day: TransferUsage; readonly month: TransferUsage }>;
}
