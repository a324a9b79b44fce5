// Shared by the delivery worker's tests: a webhook receiver, a store with one rule, workers on it, and a wait.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { EventBus } from '../events/bus.js';
import { loggers } from '../logger.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { RuleDefinition, Store } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { createActionRunners } from './actions/index.js';
import { type OutboxWorker, OutboxWriter } from './outbox.js';
import { RuleCache } from './rule-cache.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from './worker.js';

export async function receiver(
  t: TestContext,
  answer: (n: number, req: IncomingMessage, res: ServerResponse) => void,
) {
  const ids: string[] = [];
  let active = 0;
  let maxActive = 0;
  const server = createServer((req, res) => {
    active++;
    maxActive = Math.max(maxActive, active);
    res.on('close', () => active--);
    req.resume();
    req.on('end', () => {
      ids.push(String(req.headers['webhook-id']));
      answer(ids.length, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    ids,
    maxActive: () => maxActive,
  };
}

export async function setUp(
  t: TestContext,
  rule: Omit<RuleDefinition, 'name' | 'enabled' | 'events' | 'conditions'>,
) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-worker-'));
  const store: Store = await openSqliteStore(join(dir, 'ferry.db'));
  const record = await store.rules.create(
    { name: 'hook', enabled: true, events: ['upload'], conditions: {}, ...rule },
    'sealed-secret',
  );
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation, checkEveryMs: 20 });
  await rules.refresh(true);
  const workers: DeliveryWorker[] = [];
  const start = (options: Partial<DeliveryWorkerOptions> = {}) => {
    const worker = new DeliveryWorker({
      deliveries: store.deliveries,
      rules,
      ruleRepository: store.rules,
      runners: createActionRunners({ log: loggers.automation }).runners,
      // The store holds a sealed value; unsealing is the server's business (index.ts), not the worker's.
      secretOf: async () => new Secret('s3cret'),
      log: loggers.automation,
      retry: { baseMs: 20, capMs: 100 },
      pollMs: 25,
      ...options,
    });
    workers.push(worker);
    worker.start();
    return worker;
  };
  t.after(async () => {
    for (const w of workers) await w.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const enqueue = (...ids: string[]) =>
    store.deliveries.enqueue(
      ids.map((id) => ({
        id,
        ruleId: record.id,
        actionIndex: 0,
        eventName: 'upload' as const,
        fields: { path: `/${id}` },
      })),
      new Date(),
    );
  return { store, rule: record, start, enqueue };
}

/**
 * An outbox on `store` as a serving process has one (handing its deliveries to `worker`, or waking one), and a
 * function that reports one finished upload of `path` through it; resolves once its deliveries are stored.
 */
export async function outboxOf(store: Store, link: { worker?: OutboxWorker; onEnqueued?: () => void } = {}) {
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation });
  await rules.refresh(true);
  const outbox = new OutboxWriter({ deliveries: store.deliveries, rules, log: loggers.automation, ...link });
  const bus = new EventBus();
  bus.subscribe(outbox.listener);
  return (path: string) =>
    bus.emit({
      type: 'transfer',
      at: new Date(),
      sessionId: 's',
      username: 'alice',
      direction: 'upload',
      protocol: 'sftp',
      path,
      bytes: 1,
      durationMs: 1,
      resumedFrom: 0,
      completed: true,
    });
}

export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 10_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
