// What the parts of the automation store contract share: a runner whose test body can open a second instance on
// the same database, and the rule, attempt and times they store.
import type { DeliveryAttempt, RuleDefinition, Store } from './types.js';

/** Runs a test body on a fresh store; `reopen` opens another instance on its database (as another process would). */
export type WithReopenableStore = (
  run: (store: Store, reopen: () => Promise<Store>) => Promise<void>,
) => Promise<void>;

export const webhookRule = (name: string, extra: Partial<RuleDefinition> = {}): RuleDefinition => ({
  name,
  enabled: true,
  events: ['upload'],
  conditions: { paths: ['/in/**'], status: 'ok' },
  actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook', timeout: 5 }],
  ...extra,
});

export const attempt = (
  deliveryId: string,
  n: number,
  ok: boolean,
  extra: Partial<DeliveryAttempt> = {},
) => ({
  deliveryId,
  attempt: n,
  at: new Date(),
  ok,
  latencyMs: 12,
  ...extra,
});

export const seconds = (base: Date, s: number) => new Date(base.getTime() + s * 1000);
