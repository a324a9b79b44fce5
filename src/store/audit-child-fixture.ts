// A separate process appending audit records to a shared store, one append (of 1-3 records) at a time: at least N
// appends, and on until another process's append came between two of its own (the point of running two), within
// a bound. Its last message says how many records it wrote.
import { linkedRecord } from './audit-chain-fixture.js';
import { openStoreAt } from './open-store-fixture.js';
import type { AuditRecord } from './types.js';

const [location, name, countText] = process.argv.slice(2);
if (!location || !name || !countText) throw new Error('usage: audit-child-fixture LOCATION NAME N');
const least = Number(countText);
const store = await openStoreAt(location);
const go = new Promise((resolve) => process.once('message', resolve));
process.send?.('ready');
await go;
// How long a process waits for the other to interleave before it stops anyway (the test then says so).
const until = Date.now() + 15_000;
let written = 0;
let ownLast: number | undefined;
let interleaved = false;
for (let i = 0; i < least || (!interleaved && Date.now() < until && i < 50 * least); i++) {
  const appended = await store.audit.append((head) => {
    // Someone else's append sits between this process's last committed one and this one.
    if (ownLast !== undefined && head?.seq !== ownLast) interleaved = true;
    // Each record names the one before it: a writer that read a stale head would fork the chain.
    const records: AuditRecord[] = [];
    for (let k = 0; k <= i % 3; k++)
      records.push(linkedRecord(records.at(-1) ?? head, name, `${name}-${i}-${k}`));
    return records;
  });
  ownLast = appended.at(-1)?.seq;
  written += appended.length;
}
await store.close();
process.send?.({ written, interleaved }, () => process.exit(0));
