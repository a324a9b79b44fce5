// The webhook action: a JSON POST signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).
import { createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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

/** Connections to receivers are kept open between deliveries (most rules send to one receiver, often). */
const AGENT_OPTIONS = { keepAlive: true, maxSockets: 16, timeout: 30_000 };
const agents = { 'http:': new HttpAgent(AGENT_OPTIONS), 'https:': new HttpsAgent(AGENT_OPTIONS) } as const;
/** A response body beyond this is not read on: the connection is dropped instead. */
const MAX_BODY_READ = 64 * 1024;

interface HttpAnswer {
  readonly status: number;
  readonly location?: string;
  /** Up to OUTPUT_BYTES of the body, as text. */
  readonly output: string;
}

/** Why a POST was cut short by `post` itself. */
class Interrupted extends Error {
  constructor(readonly reason: 'timeout' | 'cancelled') {
    super(reason === 'timeout' ? 'timed out' : 'cancelled');
  }
}

/**
 * One POST over node:http(s), never following a redirect; rejects on network failure, after `timeoutMs` (the
 * whole exchange, the answer's body included) or when `signal` aborts. A timer and one listener, not
 * AbortSignal.timeout/any and the request's `signal` option: those cost a third of a delivery's CPU here.
 */
function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<HttpAnswer> {
  return new Promise((settle, fail) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => request.destroy(new Interrupted('cancelled'));
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const resolve = (answer: HttpAnswer) => {
      done();
      settle(answer);
    };
    const reject = (err: unknown) => {
      done();
      fail(err);
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
    const request = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const answer = (): HttpAnswer => {
          const location = response.headers.location;
          return {
            status: response.statusCode ?? 0,
            ...(location !== undefined ? { location } : {}),
            output: Buffer.concat(chunks).subarray(0, OUTPUT_BYTES).toString('utf8'),
          };
        };
        response.on('data', (chunk: Buffer) => {
          if (size < OUTPUT_BYTES) chunks.push(chunk);
          size += chunk.length;
          if (size > MAX_BODY_READ) {
            // The status decides the outcome; a receiver streaming a large body does not hold the worker.
            resolve(answer());
            response.destroy();
          }
        });
        response.on('end', () => resolve(answer()));
        response.on('error', reject);
        response.on('close', () => {
          if (!response.complete) reject(new Error('the connection closed before the response ended'));
        });
      },
    );
    request.on('error', reject);
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => request.destroy(new Interrupted('timeout')), timeoutMs);
    request.end(body);
  });
}

/** A network failure as one line: its system error code and message. */
function networkError(err: unknown, timeoutS: number): string {
  if (err instanceof Interrupted && err.reason === 'timeout') return `no response within ${timeoutS} s`;
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
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
  let url: URL;
  try {
    url = new URL(action.url);
  } catch {
    return { ok: false, permanent: true, error: `'${action.url}' is not a URL`, body };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, permanent: true, error: `webhook URLs are http or https, not ${url.protocol}`, body };
  let answer: HttpAnswer;
  try {
    answer = await post(url, headers, body, timeoutS * 1000, signal);
  } catch (err) {
    if (signal?.aborted) return { ok: false, error: 'cancelled: the server is stopping', body };
    return { ok: false, error: networkError(err, timeoutS), body };
  }
  const status = answer.status;
  const common = { responseCode: status, body, ...(answer.output !== '' ? { output: answer.output } : {}) };
  if (status >= 200 && status < 300) return { ok: true, ...common };
  if (status >= 300 && status < 400) {
    return {
      ok: false,
      permanent: true,
      error: `HTTP ${status}: redirect${answer.location ? ` to ${answer.location}` : ''} not followed; point the rule at the final URL`,
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
