// A separate process claiming deliveries from a shared store (SQLite file or PostgreSQL URL) until none are due; sends what it took to its parent.
import { openStoreAt } from '../open-store-fixture.js';

const [file, owner] = process.argv.slice(2);
if (!file || !owner) throw new Error('usage: claim-child-fixture FILE OWNER');
const store = await openStoreAt(file);
// Both children start claiming when the parent says so, once both are ready, so their transactions overlap.
const go = new Promise((resolve) => process.once('message', resolve));
process.send?.('ready');
await go;
const taken: string[] = [];
const now = new Date();
for (;;) {
  const batch = await store.deliveries.claim(owner, 3, now, new Date(now.getTime() + 600_000));
  if (batch.length === 0) break;
  taken.push(...batch.map((d) => d.id));
  // A real worker delivers between claims. Without this pause one process can hold SQLite's write lock back to
  // back while the other sleeps in its busy handler, take all 400, and the test would prove no overlap.
  await new Promise((resolve) => setTimeout(resolve, 3));
}
await store.close();
process.send?.(taken, () => process.exit(0));
