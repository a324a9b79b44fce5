// A separate process appending audit records to a shared store, one append (of 1-3 records) at a time.
import { createHash } from 'node:crypto';
import { openStoreAt } from './open-store-fixture.js';

const [location, name, countText] = process.argv.slice(2);
if (!location || !name || !countText) throw new Error('usage: audit-child-fixture LOCATION NAME N');
const store = await openStoreAt(location);
const go = new Promise((resolve) => process.once('message', resolve));
process.send?.('ready');
await go;
for (let i = 0; i < Number(countText); i++) {
  await store.audit.append((head) => {
    // Each record names the one before it: a writer that read a stale head would fork the chain.
    let seq = head?.seq ?? 0;
    let prevHash = head?.hash ?? 'genesis';
    return Array.from({ length: 1 + (i % 3) }, (_, k) => {
      seq += 1;
      const hash = createHash('sha256').update(`${prevHash}|${seq}|${name}-${i}-${k}`).digest('hex');
      const record = {
        seq,
        at: new Date().toISOString(),
        action: 'auth' as const,
        user: name,
        sessionId: null,
        address: null,
        protocol: null,
        path: null,
        target: null,
        result: 'ok',
        reason: null,
        detail: `${name}-${i}-${k}`,
        prevHash,
        hash,
      };
      prevHash = hash;
      return record;
    });
  });
}
await store.close();
process.send?.('done', () => process.exit(0));
