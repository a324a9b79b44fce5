// The session a rule's actions act in, and the loop guard: a rule never fires on what its own actions did.

/**
 * A file action (or retention sweep) works in a core session whose id is `rule:<chain>:<delivery id>`, where
 * `<chain>` lists the rules whose actions led to it, oldest first, joined by `>`: a move by rule `archive`
 * of a file that rule `inbound` had renamed runs in `rule:inbound>archive:<id>`. The core stamps every event
 * of that session with this id, so the outbox writer and the pre-operation hooks can tell that a rule's own
 * action caused an event: a rule never fires on an event whose chain holds its name (`firedByRule`). Other
 * rules do (a move into /outbound may still trigger the partner push), so chains work and cycles (A → B → A)
 * stop at the second A. Rule names hold no ':' or '>' (the rule name syntax).
 */
export const RULE_SESSION_PREFIX = 'rule:';

/** The rules that led to an event of session `sessionId`, oldest first; empty for a user's own session. */
export function ruleChainOf(sessionId: string | undefined): string[] {
  if (!sessionId?.startsWith(RULE_SESSION_PREFIX)) return [];
  const end = sessionId.lastIndexOf(':');
  if (end < RULE_SESSION_PREFIX.length) return [];
  return sessionId.slice(RULE_SESSION_PREFIX.length, end).split('>').filter(Boolean);
}

/** The session id of rule `ruleName` acting for delivery `deliveryId` on an event of session `cause`. */
export function ruleSessionId(ruleName: string, deliveryId: string, cause?: string): string {
  return `${RULE_SESSION_PREFIX}${[...ruleChainOf(cause), ruleName].join('>')}:${deliveryId}`;
}

/** True when the event of session `sessionId` was caused (directly or through other rules) by rule `ruleName`. */
export function firedByRule(ruleName: string, sessionId: string | undefined): boolean {
  return ruleChainOf(sessionId).includes(ruleName);
}
