// Maps a typed bus event to the rule event it fires and the flat string fields its templates and conditions read.
import { sessionProtocol } from '../events/session-protocol.js';
import type { FerryEvent } from '../events/types.js';
import { withFields } from '../util/with-fields.js';
import type { RuleEventName } from './types.js';

/** The fields every template may name; absent ones render as the empty string. */
export const TEMPLATE_FIELDS = [
  'event',
  'at',
  'user',
  'path',
  /** The last segment of `path`. */
  'name',
  /** `path` without its last segment ('/' at the top). */
  'dir',
  'target',
  'size',
  'sha256',
  'status',
  'error',
  'errorCode',
  'protocol',
  'remoteAddress',
  'sessionId',
  'job',
  'run',
  'partner',
  'action',
  'subject',
  'actor',
  'reason',
  'freePercent',
  /** When the key of a key-expiring event expires (ISO 8601). */
  'expiresAt',
  /** Counting rules only (a `count` condition): events counted when the rule fired (its threshold). */
  'count',
  /** Counting rules: the window, as written (`10m`). */
  'within',
  /** Counting rules: what was counted by: the user name, address or path ('' when counted per rule). */
  'key',
  /** Counting rules: when the oldest counted event happened (ISO 8601). */
  'since',
] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];
export type EventFields = Partial<Record<TemplateField, string>>;

export interface RuleEventMatch {
  readonly name: RuleEventName;
  readonly fields: EventFields;
  /**
   * Set when every serving process emits the same fact (a key expiring): deliveries get ids derived from it,
   * so the store keeps one per rule action however many processes saw it.
   */
  readonly dedupeKey?: string;
}

const FILE_OPS: Readonly<Record<string, RuleEventName>> = {
  delete: 'delete',
  rename: 'rename',
  mkdir: 'mkdir',
  rmdir: 'rmdir',
  copy: 'copy',
};

/**
 * The fields every event has, then `extra`'s. Added to this object rather than spread into a literal after it:
 * every event a rule may want passes here, and Node 20 builds `{ ...base(), path }` slowly (util/with-fields.ts).
 */
function base(name: RuleEventName, event: FerryEvent, extra?: EventFields): EventFields {
  const fields: EventFields = { event: name, at: event.at.toISOString() };
  if ('sessionId' in event && event.sessionId) fields.sessionId = event.sessionId;
  if ('username' in event && event.username) fields.user = event.username;
  if ('remoteAddress' in event && event.remoteAddress) fields.remoteAddress = event.remoteAddress;
  return extra === undefined ? fields : Object.assign(fields, extra);
}

/**
 * The rule event a bus event fires, with its fields; undefined for events no rule listens to (a connect, a
 * setstat, a disk-space-ok). A failed upload is still `upload`, with `status` failed and its `error`.
 */
export function ruleEventOf(event: FerryEvent): RuleEventMatch | undefined {
  return ruleEventsOf(event)[0];
}

/**
 * Every rule event a bus event fires: its own (see ruleEventOf) and the facts derived from it — a job that
 * failed because the partner's host key changed is also `partner-key-changed`.
 */
export function ruleEventsOf(event: FerryEvent): RuleEventMatch[] {
  const match = withPathFields(mapEvent(event));
  if (!match) return [];
  if (event.type === 'job' && event.phase === 'failed' && event.errorCode === 'ERR_HOST_KEY_CHANGED')
    return [
      match,
      { name: 'partner-key-changed', fields: withFields(match.fields, { event: 'partner-key-changed' }) },
    ];
  return [match];
}

function withPathFields(match: RuleEventMatch | undefined): RuleEventMatch | undefined {
  if (match?.fields.path !== undefined) {
    const path = match.fields.path;
    const cut = path.lastIndexOf('/');
    match.fields.name = path.slice(cut + 1);
    match.fields.dir = cut <= 0 ? '/' : path.slice(0, cut);
  }
  return match;
}

function mapEvent(event: FerryEvent): RuleEventMatch | undefined {
  switch (event.type) {
    case 'transfer': {
      // A dropped transfer (closed without CLOSE) counts as failed with the reason it was dropped.
      const ok = event.completed && event.error === undefined;
      const fields: EventFields = base(event.direction, event, {
        path: event.path,
        size: String(event.bytes),
        protocol: event.protocol,
        status: ok ? 'ok' : 'failed',
      });
      if (event.sha256) fields.sha256 = event.sha256;
      if (!ok) fields.error = event.error ?? 'transfer not completed';
      if (event.errorCode !== undefined) fields.errorCode = event.errorCode;
      return { name: event.direction, fields };
    }
    case 'file-op': {
      const name = FILE_OPS[event.operation];
      if (!name) return undefined;
      const fields: EventFields = base(name, event, {
        path: event.path,
        protocol: event.protocol,
        status: event.ok ? 'ok' : 'failed',
      });
      if (event.target !== undefined) fields.target = event.target;
      if (event.error !== undefined) fields.error = event.error;
      if (event.errorCode !== undefined) fields.errorCode = event.errorCode;
      return { name, fields };
    }
    case 'session': {
      // The SSH layer emits an auth event per accepted login ('accepted'), per partial success of a
      // multi-factor login ('partial': not a login yet) and per counted failure (its reason).
      if (event.phase !== 'auth' || event.detail.result === 'partial') return undefined;
      const ok = event.detail.result === 'accepted';
      const name: RuleEventName = ok ? 'login' : 'login-failed';
      const fields: EventFields = base(name, event, {
        protocol: sessionProtocol(event.detail),
        status: ok ? 'ok' : 'failed',
      });
      if (typeof event.detail.method === 'string') fields.action = event.detail.method;
      if (!ok && typeof event.detail.result === 'string') fields.error = event.detail.result;
      return { name, fields };
    }
    case 'security': {
      if (event.action !== 'ban') return undefined;
      const fields: EventFields = base('ban', event);
      const reason = event.detail.reason;
      if (typeof reason === 'string') fields.reason = reason;
      return { name: 'ban', fields };
    }
    case 'job': {
      const name: RuleEventName = `job-${event.phase}`;
      const fields: EventFields = base(name, event, {
        job: event.job,
        run: String(event.run),
        partner: event.partner,
        status: event.phase === 'failed' ? 'failed' : 'ok',
      });
      if (event.bytes !== undefined) fields.size = String(event.bytes);
      if (event.error !== undefined) fields.error = event.error;
      if (event.errorCode !== undefined) fields.errorCode = event.errorCode;
      return { name, fields };
    }
    case 'system': {
      switch (event.phase) {
        case 'started':
          return { name: 'server-started', fields: base('server-started', event) };
        case 'stopping':
          return {
            name: 'server-stopping',
            fields: base('server-stopping', event, { reason: event.reason }),
          };
        case 'store-error':
          return {
            name: 'store-error',
            fields: base('store-error', event, {
              error: event.error,
              errorCode: event.errorCode,
              status: 'failed',
            }),
          };
        case 'retention-swept': {
          const verb = event.dryRun ? 'would remove' : 'removed';
          const summary = `${event.dryRun ? 'dry run: ' : ''}${verb} ${event.removed} files (${event.bytes} bytes) under ${event.path}, kept ${event.kept}${event.failed > 0 ? `, ${event.failed} failed` : ''}`;
          const fields: EventFields = base('retention-swept', event, {
            path: event.path,
            size: String(event.bytes),
            subject: event.rule,
            status: event.failed > 0 ? 'failed' : 'ok',
            // The report itself: one line of totals, then the names (a mail body's {{reason}}).
            reason: [summary, ...event.names, ...event.errors.map((e) => `failed: ${e}`)].join('\n'),
          });
          if (event.errors.length > 0) fields.error = event.errors[0];
          return { name: 'retention-swept', fields };
        }
        case 'key-expiring':
          return {
            name: 'key-expiring',
            fields: base('key-expiring', event, {
              subject: `${event.keyKind} key ${event.keyName} (${event.fingerprint})`,
              expiresAt: event.expiresAt.toISOString(),
              reason: `expires in ${event.daysLeft} days`,
            }),
            dedupeKey: `key-expiring:${event.fingerprint}:${event.at.toISOString().slice(0, 10)}`,
          };
        case 'disk-space-low':
          return {
            name: 'disk-space-low',
            fields: base('disk-space-low', event, {
              path: event.path,
              freePercent: String(event.freePercent),
            }),
          };
        default:
          return undefined;
      }
    }
    case 'pgp': {
      const name: RuleEventName = `pgp-${event.phase}`;
      const fields: EventFields = base(name, event, {
        path: event.path,
        target: event.target,
        protocol: event.protocol,
        status: event.phase === 'quarantined' ? 'failed' : 'ok',
      });
      if (event.signer !== undefined) fields.subject = event.signer;
      if (event.reason !== undefined) fields.reason = event.reason;
      if (event.error !== undefined) fields.error = event.error;
      return { name, fields };
    }
    case 'admin': {
      const name: RuleEventName =
        event.action === 'keys.host.promote' || event.action === 'keys.host.promote-due'
          ? 'host-key-rotated'
          : 'admin';
      const fields: EventFields = {
        event: name,
        at: event.at.toISOString(),
        action: event.action,
        actor: `${event.actor.kind}:${event.actor.name}`,
        status: 'ok',
      };
      if (event.subject !== undefined) fields.subject = event.subject;
      return { name, fields };
    }
  }
}
