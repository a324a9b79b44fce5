// What each top-level command does, in one line: its own `.description()` and the root help's list share it, so
// the root help needs no command module loaded (cli/program.ts). Data only; imports nothing.

/** Top-level commands in help order, with how the root help lists each (commander's subcommand term). */
export const COMMAND_SUMMARIES = {
  init: {
    term: 'init [options]',
    description:
      'create a data dir (one level, mode 0700; its parent must exist) with its store, master key, host keys, the admin SFTP user and the admin API account',
  },
  serve: {
    term: 'serve [options]',
    description:
      'run the SFTP server (store: SQLite in the data dir, or PostgreSQL with --store; files on local disk)',
  },
  users: {
    term: 'users [options]',
    description: 'manage SFTP users (works offline against the data dir)',
  },
  groups: {
    term: 'groups [options]',
    description:
      'manage groups: defaults (home template, permissions, protocols, networks, quota, rates, OpenPGP) members inherit',
  },
  folders: {
    term: 'folders [options]',
    description:
      'manage virtual folders: directories with their own quota, mounted at a virtual path for users and groups (users set --folder, groups set --folder)',
  },
  keys: {
    term: 'keys [options]',
    description:
      'Key Manager: host keys (and their OpenSSH certificates), client keys, OpenPGP keys, X.509 certificates (private halves sealed with the master key), trusted OpenSSH user CAs and revocations',
  },
  defender: {
    term: 'defender [options]',
    description:
      'addresses the defender scored or banned (failed logins, protocol errors, limit hits), and its allow and deny lists',
  },
  audit: {
    term: 'audit [options]',
    description: 'read, verify, export and prune the tamper-evident audit trail (works against the data dir)',
  },
  partners: {
    term: 'partners [options]',
    description: 'remote SFTP servers for transfer jobs (credentials sealed, host keys pinned)',
  },
  jobs: {
    term: 'jobs [options]',
    description: 'transfer jobs: pull from or push to partners, now or on a schedule run by `ferry serve`',
  },
  rules: {
    term: 'rules [options]',
    description:
      'event rules: on uploads, logins, job results or a schedule, send webhooks and mail, run commands, move files, run jobs, sweep old files',
  },
  sftp: {
    term: 'sftp [options] <destination>',
    description:
      'interactive SFTP client (OpenSSH sftp commands); SSHPASS in the environment gives the password',
  },
  apikeys: {
    term: 'apikeys [options]',
    description: 'API keys for the REST API (Authorization: Bearer ferry_…)',
  },
  admins: {
    term: 'admins [options]',
    description: 'administrator accounts of the REST API and console (roles admin, operator, auditor; TOTP)',
  },
  migrate: {
    term: 'migrate [options]',
    description:
      "apply pending schema migrations to the data dir's store (forward only; every command also applies them on open)",
  },
  quota: {
    term: 'quota [options]',
    description:
      "disk quotas (set with ferry users set --quota-bytes/--quota-files): rebuild a user's usage from disk",
  },
  storage: {
    term: 'storage [options]',
    description: "encrypted storage of users' files (ferry serve --storage-encryption): rekey",
  },
  store: {
    term: 'store',
    description:
      'whole-store operations: copy an installation into a new store (SQLite → PostgreSQL), verified',
  },
  cluster: {
    term: 'cluster',
    description:
      'cluster mode: the nodes serving this store, with version, uptime, sessions, last heartbeat, up or down',
  },
  backup: {
    term: 'backup [options]',
    description: "write a consistent backup of the data dir's store (online: servers may keep running)",
  },
  restore: {
    term: 'restore [options] <file>',
    description: 'restore a backup into a new, empty data dir',
  },
} as const satisfies Record<string, { term: string; description: string }>;

export type CommandName = keyof typeof COMMAND_SUMMARIES;

/** The description of a top-level command, for its module's `.description()`. */
export function commandDescription(name: CommandName): string {
  return COMMAND_SUMMARIES[name].description;
}
