// The console's page frame: navigation, who is signed in (with their role), the logout form, and messages.
import { type Html, html } from '../web/html.js';

/** Who is signed in, as GET /api/session tells it. */
export interface ConsoleWho {
  readonly name: string;
  readonly role: 'admin' | 'operator' | 'auditor';
  readonly csrfToken: string;
}

export interface ConsolePage {
  readonly title: string;
  /** The nav entry to mark as current. */
  readonly section: string;
  readonly who?: ConsoleWho | undefined;
  readonly notice?: string | undefined;
  readonly error?: string | undefined;
}

const NAV: readonly { section: string; href: string; label: string }[] = [
  { section: 'dashboard', href: '/console/', label: 'Dashboard' },
  { section: 'users', href: '/console/users', label: 'Users' },
  { section: 'sessions', href: '/console/sessions', label: 'Sessions' },
  { section: 'audit', href: '/console/audit', label: 'Audit' },
  { section: 'defender', href: '/console/defender', label: 'Defender' },
  { section: 'partners', href: '/console/partners', label: 'Partners' },
  { section: 'jobs', href: '/console/jobs', label: 'Jobs' },
  { section: 'rules', href: '/console/rules', label: 'Rules' },
  { section: 'deliveries', href: '/console/deliveries', label: 'Deliveries' },
  { section: 'keys', href: '/console/keys', label: 'Keys' },
  { section: 'admins', href: '/console/admins', label: 'Admins' },
  { section: 'apikeys', href: '/console/apikeys', label: 'API keys' },
  { section: 'status', href: '/console/status', label: 'Status' },
  { section: 'totp', href: '/console/totp', label: 'My 2FA' },
];

/** The hidden field every console form carries; the console sends it on as the API's X-CSRF-Token. */
export function csrfField(who: ConsoleWho): Html {
  return html`<input type="hidden" name="_csrf" value="${who.csrfToken}">`;
}

/** Whether the signed-in role may change things (auditors only read: no edit controls for them). */
export const canChange = (who: ConsoleWho) => who.role !== 'auditor';

export function consolePage(options: ConsolePage, body: Html): string {
  const who = options.who;
  const nav = who
    ? html`<nav aria-label="Console"><ul>${NAV.map(
        (n) =>
          html`<li><a href="${n.href}"${n.section === options.section ? html` aria-current="page"` : ''}>${n.label}</a></li>`,
      )}</ul></nav>
<form class="logout" method="post" action="/console/logout">${csrfField(who)}
  <span class="who">${who.name} <span class="role">(${who.role})</span></span>
  <button type="submit">Log out</button></form>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}'>
<title>${options.title} · Ferry console</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/htmx.min.js" defer></script>
<script src="/console/assets/console.js" defer></script>
</head><body>
<header><a class="brand" href="/console/">Ferry console</a>${nav}</header>
<main>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
${body}
</main></body></html>`.text;
}
