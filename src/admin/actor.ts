// Who performs an administrative operation: the actor every admin service function takes.
import { z } from 'zod';
import { osActor } from '../audit/entries.js';
import { ACTOR_KINDS, type Actor } from '../events/types.js';

export type { Actor };

export const actorSchema = z.object({
  kind: z.enum(ACTOR_KINDS),
  name: z.string().min(1).max(200),
  address: z.string().max(100).optional(),
});

/** The OS user running a CLI command (its uid when the account has no passwd entry). */
export function cliActor(): Actor {
  return { kind: 'cli', name: osActor() };
}

/** The server acting on its own (first start, grace periods); named after the OS user running it. */
export function systemActor(): Actor {
  return { kind: 'system', name: osActor() };
}
