// A separate process appending audit records to a shared store, one append (of 1-3 records) at a time.
import { linkedRecord } from './audit-chain-fixture.js';
import { openStoreAt } from './open-store-fixture.js';
import type { AuditRecord } from './types.js';

const [location, name, countText] = process.argv.slice(2);
if (!location || !name || !countText) throw new Error('usage: audit-child-fixture LOCATION NAME N');
const store = await openStoreAt(location);
const go = new Promise((resolve) => process.once('message', resolve));
process.send?.('ready');
await go;
for (let i = 0; i < Number(countText); i++) {
  await store.audit.append((head) => {
    // Each record names the one before it: a writer that read a stale head would fork the chain.
    const records: AuditRecord[] = [];
    for (let k = 0; k <= i % 3; k++)
      records.push(linkedRecord(records.at(-1) ?? head, name, `${name}-${i}-${k}`));
    return records;
  });
}
await store.close();
process.send?.('done', () => process.exit(0));
