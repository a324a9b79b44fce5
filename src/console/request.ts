// Per-request helpers of the console: who is signed in (from the API), forms, and the signed outcome messages.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleApi } from './api-client.js';
import type { ConsoleWho } from './layout.js';

export type Form = Record<string, string | undefined>;

/** Thrown when the browser has no live console session: the error handler sends it to the login page. */
export class SignInRequired extends Error {}

/** The signed-in administrator, from GET /api/session with the browser's cookie. */
export async function whoIs(api: ConsoleApi, request: FastifyRequest): Promise<ConsoleWho> {
  const answer = await api.get<ConsoleWho>(request, '/api/session');
  if (answer.status !== 200) throw new SignInRequired(answer.problem ?? 'sign in');
  return answer.body;
}

export function formOf(request: FastifyRequest): Form {
  const body = request.body;
  return body && typeof body === 'object' ? (body as Form) : {};
}

export function queryOf(request: FastifyRequest): Form {
  return (request.query ?? {}) as Form;
}

/**
 * A notice or error carried by a redirect is MACed with the session's CSRF token (a per-session secret), and
 * shown only when the MAC matches: a crafted link cannot put an attacker's words on a console page.
 */
function outcomeMac(who: ConsoleWho, kind: string, text: string): string {
  return createHmac('sha256', who.csrfToken).update(`${kind}\0${text}`).digest('base64url').slice(0, 22);
}

/** After a change: back to `to` with what happened (POST-redirect-GET, so a reload repeats nothing). */
export function backTo(
  reply: FastifyReply,
  who: ConsoleWho,
  to: string,
  outcome: { notice: string } | { error: string },
) {
  const [kind, text] = 'error' in outcome ? ['error', outcome.error] : ['notice', outcome.notice];
  const sep = to.includes('?') ? '&' : '?';
  const sig = outcomeMac(who, kind, text);
  return reply.redirect(`${to}${sep}${kind}=${encodeURIComponent(text)}&sig=${sig}`, 303);
}

/** The redirect's message, only when this console wrote it for this session. */
export function outcomeOf(who: ConsoleWho, query: Form): { notice?: string; error?: string } {
  for (const kind of ['error', 'notice'] as const) {
    const text = query[kind];
    const given = Buffer.from(query.sig ?? '');
    if (!text) continue;
    const expected = Buffer.from(outcomeMac(who, kind, text));
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { [kind]: text };
  }
  return {};
}

/** A path segment for an API URL: names with `/`, `?` or `#` stay one segment. */
export const seg = (value: string) => encodeURIComponent(value);
