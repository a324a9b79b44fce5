// Rules and their deliveries (the outbox): what a rule listens to, when it matches, what it does, and the record
// of each delivery and attempt. The rule engine and actions are in automation/; this is what the store keeps.

/**
 * Rule event names, kebab-case. Each typed bus event maps to one of these (see `event-names.ts`); `schedule`
 * fires from the rule's own cron; the `pre-*` names are synchronous hooks that can refuse the operation.
 */
export const RULE_EVENTS = [
  // file system: completed or failed (condition `status`)
  'upload',
  'download',
  'delete',
  'rename',
  'mkdir',
  'rmdir',
  'copy',
  // sessions and the defender
  'login',
  'login-failed',
  'ban',
  // administrative changes (field `action` holds the admin action: users.add, keys.host.promote, ...)
  'admin',
  // transfer jobs
  'job-started',
  'job-succeeded',
  'job-failed',
  // the server itself
  'server-started',
  'server-stopping',
  'disk-space-low',
  'store-error',
  'host-key-rotated',
  'partner-key-changed',
  'key-expiring',
  // what a retention rule removed (its report)
  'retention-swept',
  // OpenPGP folders and jobs: a file encrypted on arrival, decrypted (and verified), or quarantined
  'pgp-encrypted',
  'pgp-decrypted',
  'pgp-quarantined',
  // the rule's own cron schedule
  'schedule',
] as const;
export type RuleEventName = (typeof RULE_EVENTS)[number];

/** Synchronous hooks: run before the operation, a deny (or, by default, a failure) refuses it. */
export const PRE_OPERATION_EVENTS = ['pre-upload', 'pre-download', 'pre-delete'] as const;
export type PreOperationEventName = (typeof PRE_OPERATION_EVENTS)[number];

export type AnyRuleEventName = RuleEventName | PreOperationEventName;

/** All conditions must hold; an absent one holds always. Globs match like the shell (`*` never crosses `/`). */
export interface RuleConditions {
  /** Account names (globs), any of them; `!glob` excludes. */
  readonly users?: readonly string[];
  /** Group names (globs), any of them: for when groups exist; a user in no group never matches. */
  readonly groups?: readonly string[];
  /** Virtual paths (globs, `**` crosses `/`), any of them; `!glob` excludes. */
  readonly paths?: readonly string[];
  readonly protocols?: readonly string[];
  /** Bytes, inclusive. */
  readonly minSize?: number;
  readonly maxSize?: number;
  /** Completed or failed operations only; absent: both. */
  readonly status?: 'ok' | 'failed';
  /** Source address ranges (CIDR or single addresses, IPv4 and IPv6), any of them. */
  readonly sources?: readonly string[];
  /** Local time window, `HH:MM-HH:MM` (may wrap midnight), with optional weekdays `mon,tue,...`. */
  readonly timeWindow?: { readonly from: string; readonly to: string; readonly days?: readonly string[] };
  /** A threshold, checked after every other condition held: see RuleCount. */
  readonly count?: RuleCount;
}

/** What a counting rule counts its events by: one user, one client address, one path, or the whole rule. */
export const COUNT_KEYS = ['user', 'address', 'path', 'rule'] as const;
export type CountKey = (typeof COUNT_KEYS)[number];

/**
 * The rule fires once when `atLeast` matching events with the same `per` value arrive within `within` (a
 * sliding window); those events are then forgotten, so the next `atLeast` fire it again.
 */
export interface RuleCount {
  readonly atLeast: number;
  /** A duration: a whole number and a unit, `90s`, `10m`, `2h`, `1d` (stored in its shortest exact form). */
  readonly within: string;
  readonly per: CountKey;
}

export interface WebhookAction {
  readonly kind: 'webhook';
  readonly url: string;
  /** Extra request headers (templates allowed in values). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Request timeout in seconds (default 10). */
  readonly timeout?: number;
}

export interface EmailAction {
  readonly kind: 'email';
  readonly to: readonly string[];
  readonly cc?: readonly string[];
  /** Templates; defaults name the event, user and path. */
  readonly subject?: string;
  readonly body?: string;
}

export interface CommandAction {
  readonly kind: 'command';
  /** argv: argv[0] is the program (absolute path); each element is a template, never passed to a shell. */
  readonly argv: readonly string[];
  /** Seconds (default 30). */
  readonly timeout?: number;
}

/** A file action runs through the core as the event's user (or `user`), so permissions, atomic writes and audit apply. */
export interface FileAction {
  readonly kind: 'move' | 'copy' | 'rename' | 'delete' | 'sha256';
  /** Template of the target virtual path (move, copy, rename); `sha256` writes `{{path}}.sha256`. */
  readonly target?: string;
  /** Whose home and permissions (default: the event's user). */
  readonly user?: string;
}

export interface RunJobAction {
  readonly kind: 'run-job';
  readonly job: string;
}

/** Deletes (or moves to `moveTo`) files under `path` older than `olderThanDays` or beyond the newest `keepFiles`. */
export interface RetentionAction {
  readonly kind: 'retention';
  readonly user: string;
  readonly path: string;
  readonly olderThanDays?: number;
  readonly keepFiles?: number;
  readonly moveTo?: string;
  readonly dryRun?: boolean;
}

/**
 * OpenPGP-encrypts the event's file through the core as the user: `{{path}}.pgp` (`.asc` with armor) unless
 * `target` says otherwise. Keys are fingerprints (names given when the rule is saved are resolved to them).
 */
export interface PgpEncryptAction {
  readonly kind: 'encrypt';
  readonly encryptTo: readonly string[];
  readonly signWith?: string;
  readonly armor?: boolean;
  readonly target?: string;
  /** Remove the plaintext once the message is complete. */
  readonly removeSource?: boolean;
  readonly user?: string;
}

/** Decrypts the event's OpenPGP file (to its name without .pgp/.gpg/.asc unless `target`), optionally verified. */
export interface PgpDecryptAction {
  readonly kind: 'decrypt';
  /**
   * Only these private keys (fingerprints) may decrypt; required when a rule is saved (a rule saved before that
   * was required, without it: every key Ferry holds).
   */
  readonly decryptWith?: readonly string[];
  /** A valid signature by one of these (fingerprints) is required. */
  readonly verifyWith?: readonly string[];
  readonly target?: string;
  readonly removeSource?: boolean;
  readonly user?: string;
}

export type RuleAction =
  | WebhookAction
  | EmailAction
  | CommandAction
  | FileAction
  | RunJobAction
  | RetentionAction
  | PgpEncryptAction
  | PgpDecryptAction;
export type RuleActionKind = RuleAction['kind'];

/** What a pre-operation hook does when its action fails or times out (deny by default). */
export type HookFailurePolicy = 'deny' | 'allow';

export interface RuleDefinition {
  readonly name: string;
  readonly description?: string;
  readonly enabled: boolean;
  readonly events: readonly AnyRuleEventName[];
  readonly conditions: RuleConditions;
  readonly actions: readonly RuleAction[];
  /** Cron expression (croner syntax) when `events` holds `schedule`. */
  readonly schedule?: string;
  /** Pre-operation hooks: longest wait in milliseconds (default 5000), and what a failure means. */
  readonly hookTimeoutMs?: number;
  readonly onHookFailure?: HookFailurePolicy;
  /** Attempts before a delivery is dead-lettered (default 8). */
  readonly maxAttempts?: number;
}

/** A stored rule. The webhook secret is sealed in the store and never part of the definition. */
export interface RuleRecord extends RuleDefinition {
  readonly id: number;
  readonly hasSecret: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type DeliveryStatus = 'pending' | 'running' | 'succeeded' | 'dead';

/**
 * One action of one rule for one event: the outbox row. Written before the triggering operation is acknowledged;
 * `id` is the stable idempotency id (sent as `webhook-id`).
 */
export interface DeliveryRecord {
  readonly id: string;
  readonly ruleId: number;
  readonly ruleName: string;
  readonly actionIndex: number;
  readonly eventName: AnyRuleEventName;
  /** The template fields of the event, as strings (see `event-names.ts`). */
  readonly fields: Readonly<Record<string, string>>;
  readonly status: DeliveryStatus;
  /**
   * Attempts started in this round (since it was enqueued or redelivered): a claim counts its attempt at
   * once, so an attempt lost with a crashed process still counts towards `maxAttempts`.
   */
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly leaseOwner?: string;
  readonly leaseUntil?: Date;
  readonly lastError?: string;
  readonly createdAt: Date;
  readonly finishedAt?: Date;
}

export interface DeliveryAttempt {
  readonly deliveryId: string;
  readonly attempt: number;
  readonly at: Date;
  readonly ok: boolean;
  readonly latencyMs: number;
  /** HTTP status, SMTP reply code or exit status, when there was one. */
  readonly responseCode?: number;
  readonly error?: string;
  /** Captured output (command stdout/stderr, response body start), bounded. */
  readonly output?: string;
}

export interface NewDelivery {
  readonly id: string;
  readonly ruleId: number;
  readonly actionIndex: number;
  readonly eventName: AnyRuleEventName;
  readonly fields: Readonly<Record<string, string>>;
}

export interface RuleRepository {
  /** ERR_ALREADY_EXISTS when the name is taken. `secretSealed`: MasterKey.seal output (label 'rule-secret'). */
  create(rule: RuleDefinition, secretSealed?: string | null): Promise<RuleRecord>;
  get(name: string): Promise<RuleRecord | undefined>;
  getById(id: number): Promise<RuleRecord | undefined>;
  list(): Promise<RuleRecord[]>;
  /** Replaces the definition (name kept); `secretSealed` undefined keeps the secret, null removes it. */
  update(name: string, rule: RuleDefinition, secretSealed?: string | null): Promise<RuleRecord | undefined>;
  remove(name: string): Promise<boolean>;
  sealedSecret(id: number): Promise<string | undefined>;
  /** Bumped on every change, so each process can cache the enabled rules and notice changes by others. */
  version(): Promise<number>;
}

/** Where a delivery goes after an attempt: done, retried at `nextAttemptAt`, or dead-lettered. */
export interface DeliveryNext {
  readonly status: 'succeeded' | 'pending' | 'dead';
  readonly nextAttemptAt?: Date;
}

export interface DeliveryFinish {
  readonly id: string;
  readonly attempt: DeliveryAttempt;
  readonly next: DeliveryNext;
}

export interface DeliveryQuery {
  readonly rule?: string;
  readonly status?: DeliveryStatus;
  /** Dead or with a failed last attempt. */
  readonly failed?: boolean;
  readonly limit?: number;
  /** Oldest first (by creation, then id) instead of newest first. */
  readonly oldestFirst?: boolean;
  /**
   * Keyset paging: only deliveries listed after this one (newest first: older, or as old with a greater id;
   * oldest first: newer, or as old with a greater id).
   */
  readonly after?: { readonly createdAt: Date; readonly id: string };
}

/** What `enqueueClaimed` claims its rows for. */
export interface DeliveryClaim {
  readonly owner: string;
  readonly leaseUntil: Date;
  /** Rows claimed at most (the first ones); the rest are stored pending. */
  readonly limit: number;
  /** The name of a rule as the caller knows it (its rule cache); rules it does not know are read from the store. */
  readonly ruleName?: (ruleId: number) => string | undefined;
}

export interface DeliveryRepository {
  /**
   * Inserts the outbox rows in one transaction (before the triggering operation is acknowledged), due at
   * `now`. A row whose id already exists is skipped (schedules use deterministic ids so that of several
   * processes exactly one fires a tick); returns how many were inserted.
   */
  enqueue(deliveries: readonly NewDelivery[], now: Date): Promise<number>;
  /**
   * `enqueue`, with the first `claim.limit` rows taken at once by `claim.owner` (running under its lease, attempt
   * 1), as `claim` would take them: the process whose operation caused them runs them, without a claim of its
   * own and without another process picking them up first. Returns how many were inserted and the claimed rows
   * it inserted (a row whose id existed is neither).
   */
  enqueueClaimed(
    deliveries: readonly NewDelivery[],
    now: Date,
    claim: DeliveryClaim,
  ): Promise<{ inserted: number; claimed: DeliveryRecord[] }>;
  /**
   * Takes up to `limit` due deliveries (pending and due, or running with a lease that ended before `now`: its
   * holder died) for `owner` until `leaseUntil`, atomically: two processes never hold the same one. Each
   * comes back `running` with `attempts` already counting the attempt about to be made.
   */
  claim(owner: string, limit: number, now: Date, leaseUntil: Date): Promise<DeliveryRecord[]>;
  /** Extends the leases `owner` still holds on `ids` (a slow action); returns how many it still held. */
  renew(owner: string, ids: readonly string[], leaseUntil: Date): Promise<number>;
  /**
   * Gives back deliveries `owner` claimed but never started (a stopping process's held ones): pending again, due
   * as they were, the claim's attempt not counted. Returns how many it still held.
   */
  release(owner: string, ids: readonly string[]): Promise<number>;
  /**
   * Records an attempt and moves the delivery on: succeeded, pending again at `nextAttemptAt`, or dead. The
   * attempt is always recorded; the state moves only while `owner` holds the lease (false when it lost it).
   */
  finish(id: string, owner: string, attempt: DeliveryAttempt, next: DeliveryNext): Promise<boolean>;
  /** `finish` for many deliveries in one transaction (the worker group-commits); returns the ids still held. */
  finishMany(owner: string, items: readonly DeliveryFinish[]): Promise<string[]>;
  get(id: string): Promise<DeliveryRecord | undefined>;
  list(query: DeliveryQuery): Promise<DeliveryRecord[]>;
  attempts(id: string): Promise<DeliveryAttempt[]>;
  /**
   * Makes a dead or finished delivery pending again, due now, with a fresh attempt budget (attempts 0), keeping
   * its id and attempt history. Undefined when there is no such delivery or it is running right now.
   */
  redeliver(id: string, now: Date): Promise<DeliveryRecord | undefined>;
  /**
   * Deletes up to `limit` finished deliveries (succeeded or dead) that finished before `finishedBefore`, with
   * their attempts: the history's retention. Pending and running ones stay whatever their age. Returns how many.
   */
  prune(finishedBefore: Date, limit: number): Promise<number>;
}

/** One matching event of a counting rule, for the shared counter (RuleCounterRepository.record). */
export interface CounterHit {
  readonly ruleId: number;
  /** What is counted (the counted field's value, qualified by what it is: `user:alice`); at most 512 characters. */
  readonly key: string;
  /** When the event happened (its `at`). */
  readonly at: Date;
  readonly atLeast: number;
  readonly withinMs: number;
  /** Keys a rule may hold at once; the least recently hit go first (a spray of fresh names cannot grow the table). */
  readonly maxKeys: number;
  /**
   * The deliveries stored, in the same transaction, when this hit makes the count reach `atLeast`: given the
   * count and when the oldest counted event happened.
   */
  readonly fire: (count: number, since: Date) => readonly NewDelivery[];
}

export interface CounterOutcome {
  /** Events counted for the key within the window, this one included. */
  readonly count: number;
  /** True when this hit reached `atLeast`: its deliveries were stored (due at `now`) and the key starts over. */
  readonly fired: boolean;
  /** Keys of the rule dropped to stay within `maxKeys` (their counts are lost: worth a warning). */
  readonly evicted: number;
}

/**
 * Counters of counting rules, shared by every process through the store (so `serve --workers N` counts one
 * user's failures across all of them).
 */
export interface RuleCounterRepository {
  /**
   * Records the hits in order, in one write transaction: each prunes its key's events older than its window,
   * counts itself, and when the count reaches `atLeast` stores `fire()`'s deliveries and clears the key. A key
   * new to its rule first drops the rule's keys whose window has passed, then the least recently hit beyond
   * `maxKeys`.
   */
  record(hits: readonly CounterHit[], now: Date): Promise<CounterOutcome[]>;
  /** How many keys a rule holds counts for (for tests and diagnostics). */
  keys(ruleId: number): Promise<number>;
}
