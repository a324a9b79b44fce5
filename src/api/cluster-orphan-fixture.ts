// A cluster primary that dies (SIGKILL) with its worker's gather request and a rate lease unanswered; the worker,
// kept alive as `serve` keeps its workers (cli/serve-stop.ts), prints what its gatherer and token source did then.
import cluster from 'node:cluster';
import { processTokenSource, serveRateRequests } from '../core/rate-relay.js';
import { workerGatherer } from './cluster-gather.js';

const MiB = 1024 * 1024;
if (cluster.isPrimary) {
  const worker = cluster.fork();
  worker.on('message', (message: { type?: string } | undefined) => {
    if (serveRateRequests(worker, message)) return;
    if (message?.type === 'ferry-gather') process.kill(process.pid, 'SIGKILL');
  });
} else {
  cluster.worker!.exitedAfterDisconnect = true;
  const gather = workerGatherer(async (kind) => ({ kind, pid: process.pid }))!;
  const tokens = processTokenSource();
  // The primary's bucket for this key is spent by the first lease, so the second waits there when it dies.
  await tokens.take('user', MiB, MiB);
  const waiting = tokens.take('user', MiB, MiB);
  const asked = await gather('pid');
  await waiting;
  await tokens.take('user', MiB, 64 * 1024);
  const later = await gather('pid');
  process.stdout.write(`${JSON.stringify({ asked, later, connected: process.connected })}\n`, () =>
    process.exit(0),
  );
}
