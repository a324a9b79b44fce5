// The contract between the authenticator and an external identity source (LDAP/AD today) for password logins.
import type { AuthSource, UserRecord } from '../store/types.js';
import type { Secret } from '../util/secret.js';

export type ExternalLoginResult =
  | { readonly ok: true; readonly user: UserRecord }
  | { readonly ok: false; readonly reason: string };

export interface ExternalPasswordSource {
  readonly source: AuthSource;
  /**
   * Whether this source judges the password of `user`: names absent from the store, and accounts it provisioned.
   * Local accounts never reach it, so a directory outage cannot affect them.
   */
  handles(user: UserRecord | undefined): boolean;
  /** Checks the password with the source and returns the (provisioned on first login) account. Never throws. */
  login(
    username: string,
    password: Secret<string>,
    existing: UserRecord | undefined,
  ): Promise<ExternalLoginResult>;
}
