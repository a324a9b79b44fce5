// A real cluster for handoff.test.ts: the primary forks three workers and relays with relayDeliveriesDue; worker 1
// offers twice (the second inside the rate limit) and then after it; every worker reports its claimNow calls.
import cluster from 'node:cluster';
import { clusterHandOff, relayDeliveriesDue } from './handoff.js';

type Report = { type: 'ready' } | { type: 'claimed'; worker: number };

if (cluster.isPrimary) {
  const claims: number[] = [];
  let ready = 0;
  const workers = [1, 2, 3].map((n) => cluster.fork({ FIXTURE_WORKER: String(n) }));
  for (const worker of workers) {
    worker.on('message', (message: Report) => {
      if (relayDeliveriesDue(worker, message)) return;
      if (message.type === 'claimed') claims.push(message.worker);
      if (message.type !== 'ready' || ++ready < workers.length) return;
      workers[0]?.send('offer');
      // The last offer goes 200 ms after the first; its relays have long arrived a second later.
      setTimeout(() => {
        process.stdout.write(`${JSON.stringify({ claims: claims.sort() })}\n`);
        for (const w of workers) w.kill();
      }, 1200);
    });
  }
} else {
  const me = Number(process.env.FIXTURE_WORKER);
  const siblings = clusterHandOff(
    () => process.send?.({ type: 'claimed', worker: me } satisfies Report),
    0.5,
  );
  process.on('message', (message) => {
    if (message !== 'offer' || !siblings) return;
    siblings.handOff.offer();
    siblings.handOff.offer();
    setTimeout(() => siblings.handOff.offer(), 200);
  });
  process.send?.({ type: 'ready' } satisfies Report);
}
