// What the admin services' table of rows shares with its test file: the secrets it hands the services, a row's
// shape and the harness the rows are built over.
import type { Actor } from '../../src/admin/actor.js';
import type { AppContext } from '../../src/context.js';
import type { AdminAction } from '../../src/events/types.js';

// Every secret the rows give a service: the test asserts none of them reaches an admin event.
export const PASSWORD = 'Adm1n-S3cret-pw';
export const NEW_PASSWORD = 'N3w-S3cret-pw';
export const PARTNER_PASSWORD = 'Partn3r-S3cret-pw';
export const RULE_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
export const NEW_RULE_SECRET = 'a plain shared webhook secret';

/** One service call and the one action it must emit. Rows run in order (later ones use earlier ones). */
export interface AdminRow {
  action: AdminAction;
  run: () => Promise<unknown>;
}

/** What the rows run against. The context and temp dir exist only once the test's `before` ran, hence getters. */
export interface AdminRowsHarness {
  readonly ctx: () => AppContext;
  readonly dir: () => string;
  readonly actor: Actor;
  /** Where a row puts the secret text a service hands out, for the test to look for in every event. */
  readonly handedOut: string[];
}
