// The action runners, one per kind: the delivery worker looks each delivery's action up here.
import type { Logger } from '../../logger.js';
import type { ActionRunner, RuleActionKind } from '../types.js';
import { webhookRunner } from './webhook.js';

/** What runners may need from the server; runners that need more (SMTP, the core, the scheduler) add it here. */
export interface ActionRunnerDeps {
  readonly log: Logger;
}

export type ActionRunners = ReadonlyMap<RuleActionKind, ActionRunner>;

/** Every runner this build has. A kind without one is dead-lettered with a message naming it. */
export function createActionRunners(_deps: ActionRunnerDeps): Map<RuleActionKind, ActionRunner> {
  const runners = new Map<RuleActionKind, ActionRunner>();
  // The map holds runners of every kind; each is only ever called with an action of its own kind.
  runners.set('webhook', webhookRunner as ActionRunner);
  return runners;
}
