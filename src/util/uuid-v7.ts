// UUID version 7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 74 random bits. Ids made in time order land
// at the end of a B-tree index instead of on a random leaf, so storing one dirties the page the previous one did.
import { randomFillSync } from 'node:crypto';

/** Random bytes for this many ids at once: one call into the CSPRNG per pool, not per id. */
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let next = POOL_IDS;
const id = Buffer.alloc(16);

/** A new UUIDv7 for `ms` (default now), lower-case and hyphenated like `randomUUID()`. */
export function uuidV7(ms: number = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  pool.copy(id, 0, next * 16, next * 16 + 16);
  next++;
  id.writeUIntBE(ms, 0, 6);
  id[6] = (id[6]! & 0x0f) | 0x70; // version 7
  id[8] = (id[8]! & 0x3f) | 0x80; // variant 10
  const hex = id.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
