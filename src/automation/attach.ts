// The outbox alone, for a process that changes things but serves nothing (a CLI command): no worker, no actions.
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/types.js';
import { OutboxWriter } from './outbox.js';
import { RuleCache } from './rule-cache.js';

/**
 * For a process that changes things but serves nothing (a CLI command): its admin events must reach rules too,
 * so their deliveries are stored here (before the command returns) and a serving process's worker delivers
 * them. Loads the rules once; `close()` commits what is queued.
 */
export async function attachRuleOutbox(options: {
  readonly store: Store;
  readonly events: EventBus;
  readonly log: Logger;
}): Promise<{ close(): Promise<void> }> {
  const rules = new RuleCache({ rules: options.store.rules, log: options.log });
  await rules.refresh(true);
  const outbox = new OutboxWriter({
    deliveries: options.store.deliveries,
    counters: options.store.ruleCounters,
    rules,
    log: options.log,
  });
  const unsubscribe = options.events.subscribe(outbox.listener);
  return {
    close: async () => {
      unsubscribe();
      await outbox.close();
    },
  };
}
