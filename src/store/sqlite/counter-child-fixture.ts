// A separate process counting hits of one user into a shared store (SQLite file or PostgreSQL URL), one transaction each; reports its firings.
import { openStoreAt } from '../open-store-fixture.js';

const [file, name, ruleText, countText] = process.argv.slice(2);
if (!file || !name || !ruleText || !countText)
  throw new Error('usage: counter-child-fixture FILE NAME RULE N');
const ruleId = Number(ruleText);
const store = await openStoreAt(file);
// Both children start when the parent says so, once both are ready, so their transactions interleave.
const go = new Promise((resolve) => process.once('message', resolve));
process.send?.('ready');
await go;
let fired = 0;
for (let i = 0; i < Number(countText); i++) {
  const [outcome] = await store.ruleCounters.record(
    [
      {
        ruleId,
        key: 'user:alice',
        at: new Date(),
        atLeast: 5,
        withinMs: 600_000,
        maxKeys: 100,
        fire: (count) => [
          {
            id: `${name}-${i}`,
            ruleId,
            actionIndex: 0,
            eventName: 'login-failed',
            fields: { count: String(count) },
          },
        ],
      },
    ],
    new Date(),
  );
  if (outcome?.fired) fired++;
}
await store.close();
process.send?.(fired, () => process.exit(0));
