// One console form post = one REST API call, then back to the page with the outcome (POST-redirect-GET).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiAnswer, ConsoleApi } from './api-client.js';
import { backTo, type Form, formOf, whoIs } from './request.js';

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };

export interface ApiCall {
  readonly method: 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
}

/**
 * POST `route` calls the API with the form's CSRF token and redirects to `page` with `done(...)` as the notice,
 * or the API's problem as the error. `call` only maps form fields to the API's request: no decisions of its own.
 */
export function formAction(
  app: FastifyInstance,
  api: ConsoleApi,
  route: string,
  /** Where to go back to; a function of the route's parameters for a page per record. */
  page: string | ((params: Record<string, string>) => string),
  call: (form: Form, params: Record<string, string>) => ApiCall,
  done: (form: Form, params: Record<string, string>, answer: ApiAnswer) => string,
): void {
  app.post(route, { config: CONFIG, schema: HIDDEN }, async (request: FastifyRequest, reply) => {
    const who = await whoIs(api, request);
    const form = formOf(request);
    const params = (request.params ?? {}) as Record<string, string>;
    const { method, path, body } = call(form, params);
    const answer = await api.send(request, method, path, body, form._csrf ?? '');
    return backTo(
      reply,
      who,
      typeof page === 'string' ? page : page(params),
      answer.status < 300 ? { notice: done(form, params, answer) } : { error: answer.problem ?? 'failed' },
    );
  });
}

/** A form field as the API wants it: absent when left empty. */
export const optional = (value: string | undefined) =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/** An optional whole number field; a non-number goes to the API as it is, which refuses it with its message. */
export const optionalInt = (value: string | undefined): number | string | undefined => {
  const v = optional(value);
  if (v === undefined) return undefined;
  return /^\d+$/.test(v) ? Number(v) : v;
};

/** Drops the undefined entries, so the API's strict schemas see only the fields the form filled in. */
export const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
