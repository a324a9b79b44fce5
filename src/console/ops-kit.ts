// What the partners, jobs, rules and deliveries pages share: who is signed in and what the API lets them do, the
// page answer, the API's problem as an alert, the cursor pager, and labelled form fields.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ApiAnswer, ConsoleApi } from './api-client.js';
import { type ConsolePage, type ConsoleWho, consolePage } from './layout.js';
import { whoIs } from './request.js';

export const CONFIG = { permission: 'public' } as const;
export const HIDDEN = { hide: true };

/** The signed-in administrator and the permissions the API grants their role (GET /api/permissions). */
export interface Operator {
  readonly who: ConsoleWho;
  /** Whether the API would accept a change needing this permission: forms are shown only then. */
  readonly may: (permission: string) => boolean;
}

export async function operatorOf(api: ConsoleApi, request: FastifyRequest): Promise<Operator> {
  const who = await whoIs(api, request);
  const grants = await api.get<{ permissions: string[] }>(request, '/api/permissions');
  // Unknown grants: no forms (the API would decide anyway).
  const held = new Set(grants.status === 200 ? grants.body.permissions : []);
  return { who, may: (permission) => held.has(permission) };
}

export function sendPage(reply: FastifyReply, options: ConsolePage, body: Html, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').send(consolePage(options, body));
}

/** The API's refusal or failure, as the page's one-line alert; nothing when the call succeeded. */
export function problemOf(answer: ApiAnswer, fallback: string): Html {
  return answer.status >= 400
    ? html`<p class="error" role="alert">${answer.problem ?? fallback}</p>`
    : html``;
}

/** "First page" and "Next page" links over the API's opaque cursor, keeping the page's other query fields. */
export function pager(
  path: string,
  keep: Record<string, string | undefined>,
  cursor: string | undefined,
  next: string | null,
): Html {
  const link = (c: string | undefined) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(keep)) if (v) params.set(k, v);
    if (c) params.set('cursor', c);
    const query = params.toString();
    return query ? `${path}?${query}` : path;
  };
  if (!cursor && !next) return html``;
  return html`<nav class="pager" aria-label="Pages">${cursor ? html`<a href="${link(undefined)}">First page</a>` : ''}
${next ? html`<a href="${link(next)}" rel="next">Next page</a>` : ''}</nav>`;
}

/** ISO time as "2026-11-30 09:00:00" (UTC). */
export const utc = (iso: string | null | undefined) => (iso ? iso.slice(0, 19).replace('T', ' ') : '');

interface FieldOptions {
  readonly value?: string | number | null | undefined;
  readonly hint?: string;
  readonly required?: boolean;
  readonly type?: string;
  readonly placeholder?: string;
  readonly extra?: Html;
}

/** A labelled input: the label names it for screen readers and clicking it focuses the field. */
export function input(id: string, label: string, o: FieldOptions = {}): Html {
  return html`<label for="${id}">${label}${o.hint ? html` <span class="hint">(${o.hint})</span>` : ''}</label>
<input id="${id}" name="${id}" type="${o.type ?? 'text'}"${o.value !== undefined && o.value !== null ? html` value="${o.value}"` : ''}${o.required ? html` required` : ''}${o.placeholder ? html` placeholder="${o.placeholder}"` : ''}${o.extra ?? ''}>`;
}

export function select(
  id: string,
  label: string,
  options: readonly (string | readonly [value: string, text: string])[],
  value: string | undefined,
): Html {
  return html`<label for="${id}">${label}</label><select id="${id}" name="${id}">${options.map((o) => {
    const [v, text] = typeof o === 'string' ? [o, o] : o;
    return html`<option value="${v}"${v === value ? html` selected` : ''}>${text}</option>`;
  })}</select>`;
}

export function checkbox(id: string, label: string, checked: boolean): Html {
  return html`<label class="check" for="${id}"><input id="${id}" name="${id}" type="checkbox" value="on"${checked ? html` checked` : ''}> ${label}</label>`;
}

/** A whole-number form field, or undefined when left empty; anything else goes on as text for the API to refuse. */
export function numberField(text: string | undefined): number | string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return /^\s*-?\d{1,15}\s*$/.test(text) ? Number(text) : text;
}
