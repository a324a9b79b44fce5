// A separate process claiming deliveries from a shared SQLite store until none are due; sends what it took to its parent.
import { openSqliteStore } from './sqlite-store.js';

const [file, owner, startAt] = process.argv.slice(2);
if (!file || !owner || !startAt) throw new Error('usage: claim-child-fixture FILE OWNER START_MS');
const store = await openSqliteStore(file);
// Both children start claiming at the same moment, so their transactions really overlap.
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const taken: string[] = [];
const now = new Date();
for (;;) {
  const batch = await store.deliveries.claim(owner, 3, now, new Date(now.getTime() + 600_000));
  if (batch.length === 0) break;
  taken.push(...batch.map((d) => d.id));
}
await store.close();
process.send?.(taken, () => process.exit(0));
