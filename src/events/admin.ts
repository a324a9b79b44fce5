// Administrative changes as typed events: who (the actor) did what (the action) to which subject, with a redacted diff.

/** Who made a change: the OS user of a CLI command, an API key or console login, or the server itself. */
export interface Actor {
  readonly kind: 'cli' | 'api' | 'console' | 'system';
  /** The OS user (cli), the API key or console account (api, console), the process' job (system). */
  readonly name: string;
  /** Where the request came from (api, console). */
  readonly address?: string;
}

export const ACTOR_KINDS = ['cli', 'api', 'console', 'system'] as const satisfies readonly Actor['kind'][];

/** The catalogue of administrative actions (also in docs/ARCHITECTURE.md): each is one admin service call. */
export const ADMIN_ACTIONS = {
  'users.add': 'a user created',
  'users.set': "a user's permissions, required methods, home or allowed networks changed",
  'users.remove': 'a user deleted (files stay)',
  'users.passwd': "a user's password set",
  'users.disable': 'a user refused all logins',
  'users.enable': 'a disabled user allowed again',
  'users.keys.add': 'public keys accepted for a user',
  'users.keys.remove': 'public keys removed from a user',
  'users.keys.generate': 'a key pair made for a user; the private half handed out once',
  'users.totp.enable': 'TOTP required for a user (new secret and recovery codes)',
  'users.totp.disable': "a user's TOTP secret removed",
  'users.unlock': "a user's lockout ended",
  'users.export': 'every user written out (password hashes included) for a migration',
  'users.import.add': 'a user created from an export or an SFTPGo dump',
  'users.import.update': 'a user replaced from an export or an SFTPGo dump',
  'users.first-start': 'the admin account created on first start',
  'groups.add': 'a group created',
  'groups.set': "a group's defaults changed (members get them at their next login)",
  'groups.remove': 'a group without members deleted',
  'folders.add': 'a virtual folder defined (a directory with its own quota)',
  'folders.set': "a virtual folder's directory, description or quota changed",
  'folders.remove': 'a virtual folder nobody mounts deleted (its files stay)',
  'folders.mount': 'a virtual folder mounted at a virtual path for a user or a group, with its permissions',
  'folders.unmount': 'a virtual folder unmounted from a user or a group',
  'keys.host.generate': 'a host key generated',
  'keys.host.import': 'a host key imported',
  'keys.host.promote': 'a pending host key made active',
  'keys.host.promote-due': 'a pending host key made active by its grace period',
  'keys.host.retire': 'a host key retired',
  'keys.host.export': 'a private host key exported',
  'keys.host.first-start': 'a default host key generated on first start',
  'keys.host.certificate': 'an OpenSSH host certificate attached to a host key or removed',
  'keys.ca.add': 'a user certificate authority trusted',
  'keys.ca.remove': 'a user certificate authority no longer trusted',
  'keys.ca.revoke': 'user certificates revoked (by serial, key id or key fingerprint)',
  'keys.ca.unrevoke': 'a certificate revocation removed',
  'keys.client.generate': 'a client key generated',
  'keys.client.import': 'a client key imported',
  'keys.client.export': 'a private client key exported',
  'keys.client.remove': 'a client key deleted',
  'keys.pgp.generate': 'an OpenPGP key generated',
  'keys.pgp.import': 'an OpenPGP key imported',
  'keys.pgp.export': 'a private OpenPGP key exported',
  'keys.pgp.remove': 'an OpenPGP key deleted',
  'keys.x509.generate': 'a self-signed X.509 certificate generated',
  'keys.x509.import': 'an X.509 certificate chain and its key imported',
  'keys.x509.remove': 'an X.509 certificate deleted',
  'partners.add': 'a partner added',
  'partners.set': "a partner's address, login or options changed",
  'partners.trust': "a partner's host key pinned",
  'partners.remove': 'a partner removed',
  'jobs.add': 'a transfer job defined',
  'jobs.set': "a job's schedule, retries or backoff changed",
  'jobs.enable': "a job's schedule enabled",
  'jobs.disable': "a job's schedule disabled",
  'jobs.run': 'a job run by hand',
  'jobs.remove': 'a job removed with its history',
  'rules.add': 'an event rule defined',
  'rules.set': "a rule's events, conditions, actions or webhook secret changed",
  'rules.enable': 'a rule turned on',
  'rules.disable': 'a rule turned off',
  'rules.remove': 'a rule removed',
  'rules.import': 'rules added or updated from a file',
  'rules.test.run': "a rule's actions run once for a sample event (not a delivery)",
  'rules.redeliver': 'a finished or dead delivery queued again',
  'admins.add': 'an API administrator account created',
  'admins.set': "an API administrator's role changed (applies to open console sessions at once)",
  'admins.passwd': "an API administrator's password set",
  'admins.remove': 'an API administrator account deleted',
  'admins.totp.enable':
    'TOTP required at console login for an API administrator (new secret and recovery codes)',
  'admins.totp.disable': "an API administrator's TOTP secret removed",
  'apikeys.add': 'an API key issued (the key itself shown once, never recorded)',
  'apikeys.remove': 'an API key revoked',
  'defender.unban': "an address' ban lifted",
  'defender.allow.add': 'an address or CIDR put on the allow list (never banned or limited per address)',
  'defender.allow.remove': 'an address or CIDR taken off the allow list',
  'defender.deny.add': 'an address or CIDR put on the deny list (refused before authentication)',
  'defender.deny.remove': 'an address or CIDR taken off the deny list',
  'sessions.kill': 'an open SSH connection ended by an administrator',
  'audit.prune': 'audit records older than the retention period deleted',
  'data.backup': 'a backup taken',
  'data.restore': 'a backup restored',
  'storage.rekey': "stored files' data keys re-wrapped under another master key",
} as const;

export type AdminAction = keyof typeof ADMIN_ACTIONS;

/** One administrative change. `changes` never holds a secret: '(set)', 'changed', fingerprints instead. */
export interface AdminEvent {
  readonly type: 'admin';
  readonly at: Date;
  readonly actor: Actor;
  readonly action: AdminAction;
  /** The account or object changed ('bob', 'host key 3', 'partner acme'). */
  readonly subject?: string;
  readonly changes?: Readonly<Record<string, unknown>>;
}
