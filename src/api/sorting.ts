// Server-side sorting of lists: a fixed allow-list of sort keys per endpoint (`?sort=name`, `?sort=-created`),
// and cursors that carry the sort with the last item's key and tie-breaker, so paging under a sort neither
// repeats nor skips an item.
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';

/** A parsed `sort`: the allowed key and its direction. */
export interface SortOrder<K extends string = string> {
  readonly key: K;
  readonly descending: boolean;
}

/** The `sort` query parameter of a list that sorts by `keys` (each also with a leading `-` for descending). */
export function sortParam(keys: readonly string[], byDefault: string) {
  return z
    .string()
    .max(40)
    .optional()
    .describe(
      `order of the list: ${keys.join(', ')}, or one of them with a leading - for descending (default ${byDefault})`,
    )
    .meta({ example: `-${keys[0]}` });
}

/** Reads `sort` against the allow-list; anything else is a one-line 400. */
export function parseSort<K extends string>(
  given: string | undefined,
  keys: readonly K[],
  byDefault: `${K}` | `-${K}`,
): SortOrder<K> {
  const text = given === undefined || given === '' ? byDefault : given;
  const descending = text.startsWith('-');
  const key = (descending ? text.slice(1) : text) as K;
  if (!keys.includes(key))
    throw new InvalidArgumentError(
      `sort: must be one of ${keys.flatMap((k) => [k, `-${k}`]).join(', ')} (got ${JSON.stringify(given)})`,
    );
  return { key, descending };
}

export const sortName = (o: SortOrder): string => `${o.descending ? '-' : ''}${o.key}`;

/** A cursor: the sort it was made under, the last item's sort key and its unique tie-breaker. */
export function encodeSortCursor(order: SortOrder, key: string | number, tie: string): string {
  return Buffer.from(JSON.stringify([sortName(order), key, tie]), 'utf8').toString('base64url');
}

/** The key and tie-breaker of a cursor given out under this very sort; another sort's or a forged one is a 400. */
export function decodeSortCursor(order: SortOrder, cursor: string): { key: string | number; tie: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const [sort, key, tie] = Array.isArray(parsed) && parsed.length === 3 ? parsed : [];
  if (sort !== sortName(order))
    throw new InvalidArgumentError(
      'cursor: not a cursor this API returned for this sort (start again without cursor)',
    );
  if ((typeof key !== 'string' && typeof key !== 'number') || typeof tie !== 'string')
    throw new InvalidArgumentError('cursor: not a cursor this API returned');
  return { key, tie };
}

/** Byte-wise for text (as the stores compare), numeric for numbers. */
function compare(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Each allowed key's value of an item (text or number). */
export type SortKeys<T, K extends string> = Readonly<Record<K, (item: T) => string | number>>;

/**
 * One page of a list held in memory, in the given order: by the sort key, then by the unique `tieOf` ascending
 * (descending with the key, so `-x` is exactly `x` reversed), starting after the cursor's item.
 */
export function sortedPage<T, K extends string>(
  items: readonly T[],
  keys: SortKeys<T, K>,
  tieOf: (item: T) => string,
  order: SortOrder<K>,
  query: { limit: number; cursor?: string | undefined },
): { items: T[]; nextCursor: string | null } {
  const sortValue = keys[order.key];
  const sign = order.descending ? -1 : 1;
  const cmp = (a: { key: string | number; tie: string }, b: { key: string | number; tie: string }) =>
    sign * (compare(a.key, b.key) || compare(a.tie, b.tie));
  const keyed = items.map((item) => ({ item, key: sortValue(item), tie: tieOf(item) }));
  keyed.sort(cmp);
  const after = query.cursor === undefined ? undefined : decodeSortCursor(order, query.cursor);
  const rest = after === undefined ? keyed : keyed.filter((k) => cmp(k, after) > 0);
  const page = rest.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map((k) => k.item),
    nextCursor:
      rest.length > query.limit && last !== undefined ? encodeSortCursor(order, last.key, last.tie) : null,
  };
}
