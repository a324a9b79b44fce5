// HTML for the web client: escaping, the one page layout, and the Content-Security-Policy every response carries.

/** Strict: only Ferry's own files; no inline script or style, no eval, no framing, forms post only to Ferry. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** A value made safe for HTML text and quoted attributes. */
export function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Markup already escaped (built by `html`); plain strings interpolated into `html` are escaped. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | undefined | false | null | readonly Html[];

/** Tagged template: interpolated values are escaped unless they are Html (or lists of it). */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    if (value instanceof Html) out += value.text;
    else if (Array.isArray(value)) out += value.map((v: Html) => v.text).join('');
    else if (value !== undefined && value !== null && value !== false) out += esc(value as string | number);
    out += strings[i + 1] ?? '';
  });
  return new Html(out);
}

export interface PageOptions {
  readonly title: string;
  /** The signed-in user, shown with a logout button. */
  readonly user?: string | undefined;
  readonly csrf?: string | undefined;
  readonly notice?: string | undefined;
  readonly error?: string | undefined;
}

export function page(options: PageOptions, body: Html): string {
  const account = options.user
    ? html`<form class="logout" method="post" action="/files/logout">
        <span class="who">${options.user}</span>
        <input type="hidden" name="_csrf" value="${options.csrf ?? ''}">
        <button type="submit">Log out</button></form>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Ferry</title>
<link rel="stylesheet" href="/files/assets/files.css">
${options.csrf ? html`<meta name="csrf-token" content="${options.csrf}">` : ''}
<script src="/files/assets/files.js" defer></script>
</head><body>
<header><a class="brand" href="/files/">Ferry files</a>${account}</header>
<main>
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
${body}
</main></body></html>`.text;
}

/** Bytes as people read them (1.5 MiB). */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
