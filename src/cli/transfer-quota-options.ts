// The `--transfer-quota-upload|download|total SIZE/PERIOD` flags `users set` and `groups add|set` share, and how
// limits and usage print.
import type { Command } from 'commander';
import type { TransferUsage } from '../store/types.js';
import {
  formatTransferLimit,
  parseTransferLimit,
  TRANSFER_KINDS,
  type TransferKind,
  type TransferLimit,
  type TransferQuotas,
} from '../util/transfer-quota.js';
import { CliError } from './common.js';

export interface TransferQuotaFlags {
  transferQuotaUpload?: string;
  transferQuotaDownload?: string;
  transferQuotaTotal?: string;
}

const FLAG: Readonly<Record<TransferKind, keyof TransferQuotaFlags>> = {
  upload: 'transferQuotaUpload',
  download: 'transferQuotaDownload',
  total: 'transferQuotaTotal',
};

/** Adds the three flags; `whose` words the help ("the user", "members by default"). */
export function withTransferQuotaOptions(cmd: Command, whose: string, none: string): Command {
  return cmd
    .option(
      '--transfer-quota-upload <size/period>',
      `bytes ${whose} may upload per UTC day or month, e.g. 10GiB/day, 500MiB/month ('none': ${none})`,
    )
    .option(
      '--transfer-quota-download <size/period>',
      `bytes ${whose} may download per UTC day or month, e.g. 50GiB/month ('none': ${none})`,
    )
    .option(
      '--transfer-quota-total <size/period>',
      `bytes ${whose} may upload and download together per UTC day or month ('none': ${none})`,
    );
}

/** The changes the flags ask for (undefined: none given); a malformed value is one clear line, exit 2. */
export function transferQuotaChanges(
  o: TransferQuotaFlags,
): Partial<Record<TransferKind, TransferLimit | null>> | undefined {
  const changes: Partial<Record<TransferKind, TransferLimit | null>> = {};
  for (const kind of TRANSFER_KINDS) {
    const value = o[FLAG[kind]];
    if (value === undefined) continue;
    try {
      changes[kind] = parseTransferLimit(value);
    } catch (err) {
      throw new CliError(`--transfer-quota-${kind} ${(err as Error).message}`, 2);
    }
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}

/** `upload 10 GiB/day, download none, total none`. */
export function transferQuotaText(quotas: TransferQuotas, none: string): string {
  return TRANSFER_KINDS.map((kind) => {
    const limit = quotas[kind];
    return `${kind} ${limit ? formatTransferLimit(limit) : none}`;
  }).join(', ');
}

/** One line per kind for `users show --effective`: the limit, what is used of it now, and where it came from. */
export function transferQuotaLines(
  quotas: TransferQuotas,
  usage: { readonly day: TransferUsage; readonly month: TransferUsage },
  sources: Readonly<Record<TransferKind, string>>,
): string[] {
  return TRANSFER_KINDS.map((kind) => {
    const limit = quotas[kind];
    const label = `transfer ${kind}:`.padEnd(18);
    if (!limit) return `${label} unlimited  [${sources[kind]}]`;
    const u = usage[limit.period];
    const used =
      kind === 'upload' ? u.uploaded : kind === 'download' ? u.downloaded : u.uploaded + u.downloaded;
    const period = limit.period === 'day' ? 'today (UTC)' : 'this month (UTC)';
    return `${label} ${used} of ${limit.bytes} bytes used ${period}, limit ${formatTransferLimit(limit)}  [${sources[kind]}]`;
  });
}
