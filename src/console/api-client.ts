// The console's only way to read or change anything: the REST API, called in-process with the browser's own
// session cookie (and CSRF token), so the API's roles, validation, audit and problem details hold for every page.
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface ApiAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
  /** The problem's one-line message (RFC 9457 detail, else its title) when the call failed. */
  readonly problem?: string;
  readonly setCookie?: string | string[];
}

export interface ConsoleApi {
  get<T>(request: FastifyRequest, path: string): Promise<ApiAnswer<T>>;
  /** A change: the form's CSRF token travels as the API's X-CSRF-Token header, which the API checks. */
  send<T>(
    request: FastifyRequest,
    method: 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body: unknown,
    csrf: string,
    /** A text body of this type (a YAML rules file) instead of JSON. */
    contentType?: string,
  ): Promise<ApiAnswer<T>>;
}

function problemOf(status: number, body: unknown): string | undefined {
  if (status < 400) return undefined;
  const p = body as { detail?: unknown; title?: unknown } | undefined;
  if (p && typeof p.detail === 'string' && p.detail !== '') return p.detail;
  if (p && typeof p.title === 'string') return p.title;
  return `the API answered ${status}`;
}

export function consoleApi(app: FastifyInstance): ConsoleApi {
  async function call<T>(
    request: FastifyRequest,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    csrf?: string,
    contentType?: string,
  ): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    // Only the cookie: never an Authorization header, so a page cannot be driven with someone's API key.
    if (request.headers.cookie) headers.cookie = request.headers.cookie;
    if (csrf !== undefined) headers['x-csrf-token'] = csrf;
    if (request.headers['user-agent']) headers['user-agent'] = request.headers['user-agent'];
    const answer = await app.inject({
      method,
      url,
      headers,
      // The caller's address: the API's defender verdict, rate limits and audit see the browser, not loopback.
      remoteAddress: request.ip,
      ...(body === undefined ? {} : { payload: body as object }),
    });
    let parsed: unknown;
    try {
      parsed = answer.body === '' ? undefined : JSON.parse(answer.body);
    } catch {
      parsed = answer.body;
    }
    const problem = problemOf(answer.statusCode, parsed);
    const setCookie = answer.headers['set-cookie'];
    return {
      status: answer.statusCode,
      body: parsed as T,
      ...(problem === undefined ? {} : { problem }),
      ...(setCookie === undefined ? {} : { setCookie }),
    };
  }
  return {
    get: (request, path) => call(request, 'GET', path),
    send: (request, method, path, body, csrf, contentType) =>
      call(request, method, path, body, csrf, contentType),
  };
}
