// What the rule engine, the delivery worker and the actions share beyond the stored model (store/automation-types).
import type { DeliveryRecord, RuleAction, RuleRecord } from '../store/automation-types.js';
import type { Secret } from '../util/secret.js';

export type * from '../store/automation-types.js';
export { COUNT_KEYS, PRE_OPERATION_EVENTS, RULE_EVENTS } from '../store/automation-types.js';

/** What an action reports after one attempt. A thrown error is a failed attempt with its message. */
export interface ActionOutcome {
  readonly ok: boolean;
  readonly responseCode?: number;
  readonly error?: string;
  readonly output?: string;
  /** A permanent failure (a 4xx other than 408/429, a missing job): dead-lettered without further retries. */
  readonly permanent?: boolean;
}

/** Runs one action for one delivery. Implementations live one per kind in `actions/`. */
export interface ActionRunner<A extends RuleAction = RuleAction> {
  readonly kind: A['kind'];
  run(action: A, delivery: DeliveryRecord, context: ActionRunContext): Promise<ActionOutcome>;
}

export interface ActionRunContext {
  readonly rule: RuleRecord;
  /** The rule's webhook secret, unsealed, when it has one (a Secret: it never reaches a log). */
  readonly secret?: Secret<string>;
  readonly signal: AbortSignal;
  /**
   * Says the action is now only waiting (an e-mail held for its digest): the worker stops counting it against
   * its concurrency, so held mails never block other deliveries. Its lease is still renewed.
   */
  readonly park?: () => void;
}
