// Gathering per-process data (metrics, live sessions) from every worker of `serve --workers N` through the primary.
import { primaryLink, type WorkerEnd, workerEnds } from '../util/worker-link.js';

/** What a worker can be asked for: its metrics, its sessions, its pid (the status), or to end one session (`arg`, its id). */
export type GatherKind = 'metrics' | 'sessions' | 'pid' | 'kill';

type GatherMessage =
  | { readonly type: 'ferry-gather'; readonly id: number; readonly kind: GatherKind; readonly arg?: string }
  | { readonly type: 'ferry-gathered'; readonly id: number; readonly parts: unknown[] }
  | { readonly type: 'ferry-collect'; readonly id: number; readonly kind: GatherKind; readonly arg?: string }
  | { readonly type: 'ferry-collected'; readonly id: number; readonly part: unknown };

/** How long the primary waits for the workers' parts: a stuck worker must not stall a scrape. */
const COLLECT_TIMEOUT_MS = 2000;
/** The primary's collect request ids (one per gather, whichever worker asked). */
let collectSeq = 0;

/**
 * In a worker: answers the primary's collect requests with `collect(kind)`, and returns the function that asks
 * the primary for every worker's part (this one's included). Undefined outside a worker of `serve --workers N`.
 */
export function workerGatherer(
  collect: (kind: GatherKind, arg: string | undefined) => Promise<unknown>,
): ((kind: GatherKind, arg?: string) => Promise<unknown[]>) | undefined {
  const link = primaryLink();
  if (!link) return undefined;
  let next = 0;
  const waiting = new Map<number, (parts: unknown[]) => void>();
  link.onMessage((message: GatherMessage) => {
    if (message?.type === 'ferry-collect') {
      collect(message.kind, message.arg).then(
        (part) => link.send({ type: 'ferry-collected', id: message.id, part } satisfies GatherMessage),
        () => link.send({ type: 'ferry-collected', id: message.id, part: null } satisfies GatherMessage),
      );
    } else if (message?.type === 'ferry-gathered') {
      waiting.get(message.id)?.(message.parts);
      waiting.delete(message.id);
    }
  });
  return (kind, arg) =>
    new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      link.send({
        type: 'ferry-gather',
        id,
        kind,
        ...(arg !== undefined ? { arg } : {}),
      } satisfies GatherMessage);
    });
}

/**
 * In the primary: serves workers' gather requests by asking every live worker and answering with the parts
 * that came back in time (a worker that is starting or stuck is left out).
 */
export function serveGatherRequests(worker: WorkerEnd, message: unknown): boolean {
  const m = message as GatherMessage | undefined;
  if (m?.type !== 'ferry-gather') return false;
  const workers = workerEnds().filter((w) => w.isConnected());
  const parts: unknown[] = [];
  let pending = workers.length;
  let answered = false;
  const answer = () => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    for (const w of workers) w.off('message', onPart);
    if (worker.isConnected())
      worker.send({
        type: 'ferry-gathered',
        id: m.id,
        parts: parts.filter((p) => p !== null),
      } satisfies GatherMessage);
  };
  const collectId = ++collectSeq;
  const onPart = (reply: GatherMessage) => {
    if (reply?.type !== 'ferry-collected' || reply.id !== collectId) return;
    parts.push(reply.part);
    if (--pending === 0) answer();
  };
  const timer = setTimeout(answer, COLLECT_TIMEOUT_MS);
  for (const w of workers) {
    w.on('message', onPart);
    w.send({
      type: 'ferry-collect',
      id: collectId,
      kind: m.kind,
      ...(m.arg !== undefined ? { arg: m.arg } : {}),
    } satisfies GatherMessage);
  }
  if (workers.length === 0) answer();
  return true;
}
