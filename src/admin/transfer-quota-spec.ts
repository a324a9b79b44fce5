// The transfer quota changes `users set` and `groups add|set` accept (CLI, REST API and console alike).
import { z } from 'zod';
import { parseTransferLimit, TRANSFER_PERIODS } from '../util/transfer-quota.js';

export const transferLimitSchema = z
  .object({
    bytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    period: z.enum(TRANSFER_PERIODS),
  })
  .strict();

/**
 * A limit as `{ bytes, period }` or as the CLI spells it (`10GiB/day`; `none`: no limit, as null). A preprocess, not
 * a union, so a bad spelling is refused with what is expected rather than zod's "Invalid input".
 */
const transferLimitChange = z.preprocess((value, ctx) => {
  if (typeof value !== 'string') return value;
  try {
    return parseTransferLimit(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message, input: value });
    return value;
  }
}, transferLimitSchema.nullable());

/** Per kind: a new limit, null to remove the own one (the groups' applies again), absent to keep it. */
export const transferQuotaChangesSchema = z
  .object({
    upload: transferLimitChange.optional(),
    download: transferLimitChange.optional(),
    total: transferLimitChange.optional(),
  })
  .strict();
