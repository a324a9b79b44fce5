// The webhook action: a JSON POST signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).
import { createHmac } from 'node:crypto';
import type { Secret } from '../../util/secret.js';
import { renderTemplate } from '../template.js';
import type { ActionOutcome, ActionRunner, AnyRuleEventName, WebhookAction } from '../types.js';

/** Request timeout when the action names none (seconds). */
export const DEFAULT_WEBHOOK_TIMEOUT_S = 10;
/** How much of a response body an attempt keeps. */
const OUTPUT_BYTES = 1024;
/** Headers the signature covers or that Ferry sets: an action's own headers never replace them. */
const RESERVED_HEADERS = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type']);

export interface WebhookMessage {
  /** The delivery id: the same on every attempt, so a receiver can drop repeats. */
  readonly id: string;
  readonly eventName: AnyRuleEventName;
  readonly fields: Readonly<Record<string, string>>;
}

export interface WebhookOutcome extends ActionOutcome {
  /** The signed body that was sent (for the delivery log and tests). */
  readonly body: string;
}

/**
 * The HMAC key of a rule secret. A secret written as `whsec_<base64>` (the form Standard Webhooks libraries
 * generate and print) is the base64-decoded bytes after the prefix; any other secret is used as its UTF-8
 * bytes, exactly as given.
 */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/** `v1,<base64 HMAC-SHA256(key, "${id}.${timestamp}.${body}")>`: the webhook-signature header value. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', webhookKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The payload: the event name as `type`, the event's time, its fields as `data`. */
export function webhookBody(message: WebhookMessage): string {
  return JSON.stringify({
    type: message.eventName,
    timestamp: message.fields.at ?? new Date().toISOString(),
    data: message.fields,
  });
}

function reveal(secret: Secret<string> | string | undefined): string | undefined {
  return typeof secret === 'string' || secret === undefined ? secret : secret.reveal();
}

/** Up to OUTPUT_BYTES of the body as text; the rest is not downloaded. */
async function bodyStart(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < OUTPUT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, OUTPUT_BYTES).toString('utf8');
}

/** A fetch failure as one line: the system error under undici's "fetch failed" says what happened. */
function networkError(err: unknown, timedOut: boolean, timeoutS: number): string {
  if (timedOut) return `no response within ${timeoutS} s`;
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  // fetch refuses the ports browsers block (9, 25, 6000, ...) with "bad port" and no code.
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Sends one signed webhook and judges the answer: 2xx ok; 408, 429, 5xx and network failures or timeouts are
 * retried; other 4xx are permanent. Redirects are not followed and count as permanent failures: the signature
 * and the event's data were meant for the configured URL only, and following one would let whoever answers there
 * send the data on (to an internal address, say); the operator fixes the rule's URL instead. Private addresses
 * are allowed: rules are written by administrators, and internal receivers are the common case.
 * Usable on its own by pre-operation hooks (synchronous, with their own signal); without a secret nothing is
 * signed (no webhook-signature header).
 */
export async function sendWebhook(
  action: WebhookAction,
  message: WebhookMessage,
  secret: Secret<string> | string | undefined,
  signal?: AbortSignal,
): Promise<WebhookOutcome> {
  const body = webhookBody(message);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(action.headers ?? {})) {
    if (!RESERVED_HEADERS.has(name.toLowerCase()))
      headers[name] = renderTemplate(value, message.fields, 'header');
  }
  headers['content-type'] = 'application/json';
  headers['webhook-id'] = message.id;
  headers['webhook-timestamp'] = String(timestamp);
  const key = reveal(secret);
  if (key !== undefined && key !== '')
    headers['webhook-signature'] = signWebhook(key, message.id, timestamp, body);

  const timeoutS = action.timeout ?? DEFAULT_WEBHOOK_TIMEOUT_S;
  const timeout = AbortSignal.timeout(timeoutS * 1000);
  const signals = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(action.url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: signals,
    });
  } catch (err) {
    if (signal?.aborted) return { ok: false, error: 'cancelled: the server is stopping', body };
    return { ok: false, error: networkError(err, timeout.aborted, timeoutS), body };
  }
  let output: string;
  try {
    output = await bodyStart(response);
  } catch {
    output = '';
  }
  const status = response.status;
  const common = { responseCode: status, body, ...(output !== '' ? { output } : {}) };
  if (status >= 200 && status < 300) return { ok: true, ...common };
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    return {
      ok: false,
      permanent: true,
      error: `HTTP ${status}: redirect${location ? ` to ${location}` : ''} not followed; point the rule at the final URL`,
      ...common,
    };
  }
  const retried = status === 408 || status === 429 || status >= 500;
  return { ok: false, ...(retried ? {} : { permanent: true }), error: `HTTP ${status}`, ...common };
}

export const webhookRunner: ActionRunner<WebhookAction> = {
  kind: 'webhook',
  async run(action, delivery, context) {
    const { body: _body, ...outcome } = await sendWebhook(
      action,
      { id: delivery.id, eventName: delivery.eventName, fields: delivery.fields },
      context.secret,
      context.signal,
    );
    return outcome;
  },
};
