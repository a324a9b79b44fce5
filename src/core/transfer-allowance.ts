// Transfer quotas in a session: each upload and download byte a client moves is counted in the store (shared by
// every process and node) against the user's limits per UTC day or month, before it is stored or sent.
import { TransferQuotaExceededError } from '../errors.js';
import type { TransferUsage, TransferUsageRepository, TransferWay } from '../store/types.js';
import {
  formatTransferLimit,
  type TransferKind,
  type TransferLimit,
  type TransferQuotas,
} from '../util/transfer-quota.js';

/** The user's counters in the store. */
export interface TransferLedger {
  /** Counts `bytes`, or refuses (false, nothing counted) when that would pass one of the user's limits. */
  charge(way: TransferWay, bytes: number, at: Date): Promise<boolean>;
  usage(at: Date): Promise<{ readonly day: TransferUsage; readonly month: TransferUsage }>;
}

/** The ledger of one user in the store, checked against the session's (effective) limits. */
export function storeTransferLedger(
  usage: TransferUsageRepository,
  username: string,
  quotas: TransferQuotas,
): TransferLedger {
  return {
    charge: (way, bytes, at) => usage.charge(username, way, bytes, quotas, at),
    usage: (at) => usage.usage(username, at),
  };
}

const VERB: Readonly<Record<TransferKind, string>> = {
  upload: 'upload',
  download: 'download',
  total: 'transfer (uploads and downloads together)',
};

/**
 * One session's view of its user's transfer quotas. Only directions a limit applies to are counted (an upload
 * limit or a total one for uploads, likewise for downloads), so users without one cost no store writes.
 */
export class TransferAllowance {
  readonly #ledger: TransferLedger;
  readonly #quotas: TransferQuotas;
  readonly #now: () => Date;

  constructor(ledger: TransferLedger, quotas: TransferQuotas, now: () => Date = () => new Date()) {
    this.#ledger = ledger;
    this.#quotas = quotas;
    this.#now = now;
  }

  /** The limits that apply to moving bytes `way`. */
  #limitsOf(way: TransferWay): [TransferKind, TransferLimit][] {
    const out: [TransferKind, TransferLimit][] = [];
    for (const kind of [way, 'total'] as const) {
      const limit = this.#quotas[kind];
      if (limit) out.push([kind, limit]);
    }
    return out;
  }

  limits(way: TransferWay): boolean {
    return this.#limitsOf(way).length > 0;
  }

  /** Bytes that may still move `way` now, and the limit that leaves the fewest (undefined without limits). */
  async remaining(way: TransferWay): Promise<{ bytes: number; kind?: TransferKind; limit?: TransferLimit }> {
    const limits = this.#limitsOf(way);
    if (limits.length === 0) return { bytes: Number.POSITIVE_INFINITY };
    const usage = await this.#ledger.usage(this.#now());
    let best: { bytes: number; kind?: TransferKind; limit?: TransferLimit } = {
      bytes: Number.POSITIVE_INFINITY,
    };
    for (const [kind, limit] of limits) {
      const u = usage[limit.period];
      const used =
        kind === 'total' ? u.uploaded + u.downloaded : way === 'upload' ? u.uploaded : u.downloaded;
      const left = Math.max(0, limit.bytes - used);
      if (left < best.bytes) best = { bytes: left, kind, limit };
    }
    return best;
  }

  /**
   * At open: refuses an upload or download with nothing left to move, and an upload whose announced size (FTPS
   * ALLO, the web client's length) does not fit what is left.
   */
  async admit(way: TransferWay, announced?: number): Promise<void> {
    if (!this.limits(way)) return;
    const left = await this.remaining(way);
    if (left.bytes === 0 || (announced !== undefined && announced > left.bytes)) {
      throw this.#exceeded(left.kind ?? way, left.limit);
    }
  }

  /** An upload's bytes, before they are stored: all of them, or a TransferQuotaExceededError. */
  async takeUpload(bytes: number): Promise<void> {
    if (bytes <= 0 || !this.limits('upload')) return;
    if (await this.#ledger.charge('upload', bytes, this.#now())) return;
    const left = await this.remaining('upload');
    throw this.#exceeded(left.kind ?? 'upload', left.limit);
  }

  /**
   * A download's bytes, before they are sent: what is left of the allowance, up to `bytes` (the read is cut
   * there); a TransferQuotaExceededError once nothing is left.
   */
  async takeDownload(bytes: number): Promise<number> {
    if (bytes <= 0 || !this.limits('download')) return bytes;
    let want = bytes;
    // Another session may take bytes between the refusal and the retry: a few rounds, each asking for less.
    for (let round = 0; round < 4; round++) {
      if (await this.#ledger.charge('download', want, this.#now())) return want;
      const left = await this.remaining('download');
      if (left.bytes === 0) throw this.#exceeded(left.kind ?? 'download', left.limit);
      want = Math.min(want, left.bytes);
    }
    const left = await this.remaining('download');
    throw this.#exceeded(left.kind ?? 'download', left.limit);
  }

  #exceeded(kind: TransferKind, limit: TransferLimit | undefined): TransferQuotaExceededError {
    const what = limit
      ? `the account may ${VERB[kind]} ${formatTransferLimit(limit)}`
      : 'the allowance is used up';
    return new TransferQuotaExceededError(`transfer quota exceeded: ${what}`);
  }
}
