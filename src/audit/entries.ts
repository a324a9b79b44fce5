// What gets recorded: session, transfer and file-operation events and admin changes, as chain fields.
import { userInfo } from 'node:os';
import { InvalidArgumentError } from '../errors.js';
import { sessionProtocol } from '../events/session-protocol.js';
import type { AdminAction, AdminEvent, FerryEvent } from '../events/types.js';
import type { AuditAction } from '../store/types.js';
import { withFields } from '../util/with-fields.js';
import { type AuditFields, canonicalJson } from './chain.js';

/** A record to append; everything optional defaults to null (or an empty detail object). */
export interface AuditEntry {
  readonly at?: Date;
  readonly action: AuditAction;
  readonly user?: string | null | undefined;
  readonly sessionId?: string | null | undefined;
  readonly address?: string | null | undefined;
  readonly protocol?: string | null | undefined;
  readonly path?: string | null | undefined;
  readonly target?: string | null | undefined;
  /** 'ok', 'denied', 'failed', 'interrupted', 'partial'. */
  readonly result: string;
  readonly reason?: string | null | undefined;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** An administrative change; never put a secret or a hash in `changes` (say 'set' or 'changed'). */
export interface AdminChange {
  /** The command, e.g. 'users add'. */
  readonly command: string;
  /** The account or object changed. */
  readonly subject?: string;
  readonly changes?: Readonly<Record<string, unknown>>;
}

/** Detail values as JSON has them (Dates become ISO strings, undefined members vanish), then canonical. */
function detailText(detail: Readonly<Record<string, unknown>> | undefined): string {
  let plain: unknown;
  try {
    plain = JSON.parse(
      JSON.stringify(detail ?? {}, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    );
  } catch (err) {
    throw new InvalidArgumentError(`audit detail is not JSON data: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) {
    throw new InvalidArgumentError('audit detail must be an object');
  }
  return canonicalJson(plain);
}

export function toAuditFields(entry: AuditEntry, now: () => Date = () => new Date()): AuditFields {
  return {
    at: (entry.at ?? now()).toISOString(),
    action: entry.action,
    user: entry.user ?? null,
    sessionId: entry.sessionId ?? null,
    address: entry.address ?? null,
    protocol: entry.protocol ?? null,
    path: entry.path ?? null,
    target: entry.target ?? null,
    result: entry.result,
    reason: entry.reason ?? null,
    detail: detailText(entry.detail),
  };
}

const AUTH_RESULTS: Readonly<Record<string, string>> = { accepted: 'ok', partial: 'partial' };

/**
 * The audit record of an event, or undefined for events the trail does not hold: job runs are recorded per
 * file and per failed run by the job runner itself, and system events (start, stop, disk space) are log lines.
 */
export function entryFromEvent(event: FerryEvent): AuditEntry | undefined {
  if (event.type === 'admin') return entryFromAdminEvent(event);
  const base = {
    at: event.at,
    user: event.username,
    sessionId: event.sessionId,
    address: event.remoteAddress,
  };
  switch (event.type) {
    case 'session': {
      if (event.phase !== 'auth')
        return withFields(base, {
          action: event.phase,
          protocol: sessionProtocol(event.detail),
          result: 'ok',
          detail: event.detail,
        });
      const { result, ...detail } = event.detail;
      const outcome = AUTH_RESULTS[String(result)] ?? 'failed';
      return withFields(base, {
        action: 'auth',
        protocol: sessionProtocol(event.detail),
        result: outcome,
        reason: outcome === 'failed' ? String(result ?? 'unknown') : null,
        detail,
      });
    }
    case 'transfer':
      return withFields(base, {
        action: event.direction,
        protocol: event.protocol,
        path: event.path,
        // Refused before it began (a pre-operation hook): denied, with the rule in the reason.
        result: event.completed
          ? 'ok'
          : event.errorCode === 'ERR_PERMISSION_DENIED'
            ? 'denied'
            : 'interrupted',
        ...(event.error !== undefined ? { reason: event.error } : {}),
        detail: {
          bytes: event.bytes,
          durationMs: event.durationMs,
          resumedFrom: event.resumedFrom,
          ...(event.sha256 !== undefined ? { sha256: event.sha256 } : {}),
        },
      });
    case 'file-op':
      return withFields(base, {
        action: event.operation === 'hardlink' ? 'link' : event.operation,
        protocol: event.protocol,
        path: event.path,
        target: event.target,
        result: event.ok ? 'ok' : event.errorCode === 'ERR_PERMISSION_DENIED' ? 'denied' : 'failed',
        reason: event.error,
        ...(event.detail !== undefined ? { detail: event.detail } : {}),
      });
    case 'security':
      // Bans, lockouts and limit hits: what the server did to defend itself, and against whom.
      return withFields(base, {
        action: 'security',
        protocol: sessionProtocol(event.detail),
        result: event.action,
        detail: event.detail,
      });
    case 'pgp':
      // An OpenPGP folder policy at work: stored encrypted, decrypted (with the verified signer), quarantined.
      return withFields(base, {
        action: 'pgp',
        protocol: event.protocol,
        path: event.path,
        target: event.target,
        result: event.phase === 'quarantined' ? 'failed' : 'ok',
        reason: event.error,
        detail: {
          phase: event.phase,
          ...(event.signer ? { signer: event.signer } : {}),
          ...(event.reason ? { reason: event.reason } : {}),
        },
      });
    case 'job':
    case 'system':
      return undefined;
  }
}

/** Who runs this process: the OS account, or its uid when the account has no passwd entry (containers). */
export function osActor(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

export function adminEntry(change: AdminChange, actor: string = osActor()): AuditEntry {
  return {
    action: 'admin',
    user: actor,
    protocol: 'cli',
    target: change.subject,
    result: 'ok',
    detail: { command: change.command, ...(change.changes ? { changes: change.changes } : {}) },
  };
}

/** Commands whose records predate the admin events keep their names, so `audit query` finds old and new alike. */
const COMMAND_NAMES: Partial<Readonly<Record<AdminAction, string>>> = {
  'users.first-start': 'serve (first start)',
  'keys.host.first-start': 'serve (first start)',
  'keys.host.promote-due': 'keys host promote (grace period)',
  'data.backup': 'backup',
  'data.restore': 'restore',
};

/** The record's `detail.command`: the CLI command that makes the change ('users.keys.add' → 'users keys add'). */
export function adminCommandName(action: AdminAction): string {
  return COMMAND_NAMES[action] ?? action.replaceAll('.', ' ');
}

/** An admin event as a record of the same shape `recordAdmin` writes: the actor is the user, its kind the protocol. */
export function entryFromAdminEvent(event: AdminEvent): AuditEntry {
  return {
    ...adminEntry(
      {
        command: adminCommandName(event.action),
        ...(event.subject !== undefined ? { subject: event.subject } : {}),
        ...(event.changes !== undefined ? { changes: event.changes } : {}),
      },
      event.actor.name,
    ),
    at: event.at,
    protocol: event.actor.kind,
    address: event.actor.address,
  };
}
