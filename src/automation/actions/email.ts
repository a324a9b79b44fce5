// The e-mail action: one mail per event through nodemailer, and a burst of the same alert folded into one digest.
import { createRequire } from 'node:module';
import type { Transporter } from 'nodemailer';
import type { FerryConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { EventFields } from '../event-names.js';
import { renderTemplate } from '../template.js';
import type { ActionOutcome, ActionRunner, DeliveryRecord, EmailAction } from '../types.js';

/** Same rule, same action, same recipients within this long: one digest instead of a mail per event. */
export const DIGEST_WINDOW_MS = 60_000;
/** Events listed one by one in a digest; more are counted (`ferry rules deliveries` lists them all). */
const DIGEST_MAX_LISTED = 200;
const SMTP_TIMEOUT_MS = 30_000;
/**
 * Mails go through a pool of at most this many SMTP connections per process, each kept open between mails:
 * a mail then costs its commands, not a TCP (and TLS) handshake, EHLO and AUTH of its own.
 */
export const SMTP_MAX_CONNECTIONS = 2;
/** A pooled connection idle this long is closed by Ferry (RFC 5321 asks servers to wait at least 5 minutes). */
export const SMTP_IDLE_CLOSE_MS = 60_000;
/** Messages over one connection before it is replaced (a long-lived session on a server that leaks per session). */
const SMTP_MESSAGES_PER_CONNECTION = 100;

/** Field lines of the default body, in this order; empty ones are left out. */
const DEFAULT_BODY_FIELDS = [
  ['Event', 'event'],
  ['At', 'at'],
  ['Status', 'status'],
  ['User', 'user'],
  ['Path', 'path'],
  ['Target', 'target'],
  ['Size', 'size'],
  ['SHA-256', 'sha256'],
  ['Error', 'error'],
  ['Protocol', 'protocol'],
  ['Address', 'remoteAddress'],
  ['Job', 'job'],
  ['Partner', 'partner'],
  ['Action', 'action'],
  ['Subject', 'subject'],
  ['Actor', 'actor'],
  ['Reason', 'reason'],
  // A counting rule's firing: how many events, within which window, since when.
  ['Count', 'count'],
  ['Within', 'within'],
  ['Since', 'since'],
] as const;

export const DEFAULT_EMAIL_SUBJECT = '[Ferry] {{event}} {{status}} {{user}} {{path}} {{error}}';

export interface EmailRunnerDeps {
  readonly smtp: FerryConfig['smtp'];
  readonly log: Logger;
  /** For tests: a shorter digest window. */
  readonly digestWindowMs?: number;
  /** For tests: a shorter idle close of pooled connections. */
  readonly idleCloseMs?: number;
  /** Resolves when this process's client transfers pause (bounded): a digest waits for it before it is sent. */
  readonly transfersPaused?: () => Promise<void>;
}

export interface EmailRunner extends ActionRunner<EmailAction> {
  /** Sends every collected digest now (server stopping) and closes the SMTP transport. */
  close(): Promise<void>;
}

interface Rendered {
  readonly subject: string;
  readonly body: string;
}

interface Waiting {
  readonly delivery: DeliveryRecord;
  readonly mail: Rendered;
  readonly done: (outcome: ActionOutcome) => void;
}

/** One alert (rule, action, recipients) whose last mail went out less than a window ago. */
interface Burst {
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly ruleName: string;
  waiting: Waiting[];
  timer: NodeJS.Timeout;
}

/**
 * How a digest keeps the outbox's at-least-once promise: the first mail of a burst is sent at once; a delivery
 * of the same alert within the window is not acknowledged when it is collected: its `run` promise stays open
 * (the delivery stays leased by the worker) until the digest holding it has been accepted by the SMTP server,
 * and resolves with the digest's outcome. If the process dies before that, the delivery was never finished, so
 * its lease runs out and it is delivered again (alone or in a later digest): a digest may repeat an event, it
 * never drops one. The worker therefore has to run deliveries concurrently and lease them for longer than the
 * window. On `close` (an orderly stop) collected digests are sent at once; a delivery whose signal aborts
 * (lease lost, worker stopping) leaves its digest with a failed, retried outcome.
 */
export function createEmailRunner(deps: EmailRunnerDeps): EmailRunner {
  const windowMs = deps.digestWindowMs ?? DIGEST_WINDOW_MS;
  const bursts = new Map<string, Burst>();
  let transport: Transporter | undefined;
  let closed = false;

  const transporter = (): Transporter => {
    if (transport) return transport;
    const smtp = deps.smtp;
    // Loaded on first use: a server without e-mail rules never loads nodemailer.
    const nodemailer = createRequire(import.meta.url)('nodemailer') as typeof import('nodemailer');
    transport = nodemailer.createTransport({
      pool: true,
      maxConnections: SMTP_MAX_CONNECTIONS,
      maxMessages: SMTP_MESSAGES_PER_CONNECTION,
      idleTimeout: deps.idleCloseMs ?? SMTP_IDLE_CLOSE_MS,
      host: smtp.host,
      port: smtp.port ?? (smtp.secure ? 465 : 587),
      secure: smtp.secure,
      requireTLS: smtp.starttls === 'required',
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password?.reveal() ?? '' } } : {}),
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    });
    return transport;
  };

  const send = async (
    to: readonly string[],
    cc: readonly string[],
    mail: Rendered,
    messageId: string,
  ): Promise<ActionOutcome> => {
    try {
      const info = (await transporter().sendMail({
        from: deps.smtp.from,
        to: [...to],
        ...(cc.length > 0 ? { cc: [...cc] } : {}),
        subject: mail.subject,
        text: mail.body,
        // The delivery id: a re-sent mail (at least once) carries the same Message-ID, so mail systems can
        // fold duplicates, and a reader can find the delivery with `ferry rules deliveries`.
        messageId: `<${messageId}@ferry>`,
        headers: { 'X-Ferry-Delivery': messageId },
      })) as { response?: string; rejected?: unknown[] };
      const responseCode = replyCode(info.response);
      const rejected = (info.rejected ?? []).map(String);
      return {
        ok: true,
        ...(responseCode !== undefined ? { responseCode } : {}),
        output: rejected.length > 0 ? `rejected: ${rejected.join(', ')}` : (info.response ?? ''),
      };
    } catch (err) {
      const e = err as { responseCode?: number; message?: string; response?: string };
      const responseCode = e.responseCode ?? replyCode(e.response);
      return {
        ok: false,
        error: e.message ?? String(err),
        ...(responseCode !== undefined ? { responseCode } : {}),
        // 5xx: the server refuses for good (no such mailbox, authentication refused); 4xx and no answer retry.
        ...(responseCode !== undefined && responseCode >= 500 ? { permanent: true } : {}),
      };
    }
  };

  const flush = async (key: string): Promise<void> => {
    const burst = bursts.get(key);
    if (!burst) return;
    clearTimeout(burst.timer);
    // A window's end is a timer, not the worker's queue, so it would send the digest and finish every delivery it
    // holds amid the transfers: it waits for them to pause like queued deliveries do (alerts arriving meanwhile
    // join it). A stop does not wait; a flush that ran meanwhile (the stop's) leaves nothing to send.
    if (!closed && deps.transfersPaused) {
      await deps.transfersPaused();
      if (bursts.get(key) !== burst) return;
    }
    const waiting = burst.waiting;
    if (waiting.length === 0 || closed) {
      bursts.delete(key);
      if (waiting.length === 0) return;
    } else {
      // The digest opens a new window: a burst that goes on gets one digest per window.
      burst.waiting = [];
      burst.timer = setTimeout(() => void flush(key), windowMs);
      burst.timer.unref();
    }
    const first = waiting[0]!.delivery;
    const outcome = await send(
      burst.to,
      burst.cc,
      digestOf(burst.ruleName, waiting),
      `${first.id}.digest-${waiting.length}`,
    );
    if (!outcome.ok)
      deps.log.warn(
        { rule: burst.ruleName, events: waiting.length, error: outcome.error },
        'digest mail failed',
      );
    for (const w of waiting) w.done(outcome);
  };

  return {
    kind: 'email',
    async run(action, delivery, context) {
      if (!deps.smtp.host) {
        return {
          ok: false,
          permanent: true,
          error: 'smtp.host is not set (config smtp.host or FERRY_SMTP_HOST)',
        };
      }
      if (!deps.smtp.from) {
        return {
          ok: false,
          permanent: true,
          error: 'smtp.from is not set (config smtp.from or FERRY_SMTP_FROM)',
        };
      }
      const fields = delivery.fields as EventFields;
      const to = action.to.map((a) => renderTemplate(a, fields, 'header').trim()).filter(Boolean);
      const cc = (action.cc ?? []).map((a) => renderTemplate(a, fields, 'header').trim()).filter(Boolean);
      if (to.length === 0) return { ok: false, permanent: true, error: 'no recipient' };
      const mail = renderMail(action, fields, context.rule.name, delivery.id);
      const key = JSON.stringify([delivery.ruleId, delivery.actionIndex, [...to].sort(), [...cc].sort()]);
      const burst = bursts.get(key);
      if (burst === undefined || closed) {
        // The window opens as the first mail starts, so deliveries running alongside it (the worker runs
        // several at once) are collected rather than each sent at once.
        let opened: Burst | undefined;
        if (!closed) {
          const timer = setTimeout(() => void flush(key), windowMs);
          timer.unref();
          opened = { to, cc, ruleName: context.rule.name, waiting: [], timer };
          bursts.set(key, opened);
        }
        const outcome = await send(to, cc, mail, delivery.id);
        // A failed first mail closes its window unless others wait in it: its retry is sent at once.
        if (!outcome.ok && opened && bursts.get(key) === opened && opened.waiting.length === 0) {
          clearTimeout(opened.timer);
          bursts.delete(key);
        }
        return outcome;
      }
      return collect(burst, delivery, mail, context.signal, context.park);
    },
    async close() {
      closed = true;
      await Promise.all([...bursts.keys()].map((key) => flush(key)));
      transport?.close();
      transport = undefined;
    },
  };
}

/** Waits in the burst's digest; an aborted delivery leaves it with a failed (retried) outcome. */
function collect(
  burst: Burst,
  delivery: DeliveryRecord,
  mail: Rendered,
  signal: AbortSignal,
  park: (() => void) | undefined,
): Promise<ActionOutcome> {
  return new Promise((resolve) => {
    const onAbort = () => {
      burst.waiting = burst.waiting.filter((w) => w !== waiting);
      resolve({ ok: false, error: 'stopped before the digest mail was sent; delivered again later' });
    };
    const waiting: Waiting = {
      delivery,
      mail,
      done: (outcome) => {
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      },
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    burst.waiting.push(waiting);
    // Held for up to the window: the worker may run other deliveries meanwhile.
    park?.();
  });
}

function renderMail(
  action: EmailAction,
  fields: EventFields,
  ruleName: string,
  deliveryId: string,
): Rendered {
  // The subject is a header: a file name with a CR/LF cannot add a header (Bcc:) or end the header block.
  const subject = renderTemplate(action.subject ?? DEFAULT_EMAIL_SUBJECT, fields, 'header')
    .replace(/\s+/g, ' ')
    .trim();
  const body =
    action.body !== undefined
      ? renderTemplate(action.body, fields, 'text')
      : DEFAULT_BODY_FIELDS.filter(([, f]) => fields[f])
          .map(([label, f]) => `${`${label}:`.padEnd(10)}${fields[f]}`)
          .join('\n');
  return { subject, body: `${body}\n\n-- \nFerry rule ${ruleName}, delivery ${deliveryId}\n` };
}

function digestOf(ruleName: string, waiting: readonly Waiting[]): Rendered {
  const listed = waiting.slice(0, DIGEST_MAX_LISTED);
  const parts = listed.map((w, i) => `== ${i + 1} of ${waiting.length}: ${w.mail.subject}\n${w.mail.body}`);
  if (waiting.length > listed.length) {
    parts.push(`… and ${waiting.length - listed.length} more (ferry rules deliveries --rule ${ruleName})`);
  }
  return {
    subject: `[Ferry] digest: ${waiting.length} more events of rule ${ruleName}`.replace(
      /[\u0000-\u001f]/g,
      ' ',
    ),
    body: `${waiting.length} more events of rule ${ruleName} since its last mail:\n\n${parts.join('\n')}`,
  };
}

/** The three-digit SMTP reply code at the start of a server response ("250 2.0.0 Ok: queued"). */
function replyCode(response: string | undefined): number | undefined {
  const m = /^(\d{3})\b/.exec(response ?? '');
  return m ? Number(m[1]) : undefined;
}
