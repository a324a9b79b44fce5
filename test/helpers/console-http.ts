// A browser without JavaScript for console tests: keeps its session cookie, follows nothing by itself; and the
// checks every console page must pass (a strict CSP, no inline code).
import assert from 'node:assert/strict';

export interface Page {
  readonly status: number;
  readonly location: string;
  readonly text: string;
  readonly headers: Headers;
}

export class ConsoleBrowser {
  cookie = '';
  constructor(readonly base: string) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<Page> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    const set = response.headers.get('set-cookie');
    if (set) {
      const m = /^(ferry_session=[^;]*)/.exec(set);
      if (m) this.cookie = m[1]!.endsWith('=') ? '' : m[1]!;
    }
    return {
      status: response.status,
      location: response.headers.get('location') ?? '',
      text: await response.text(),
      headers: response.headers,
    };
  }

  get(path: string): Promise<Page> {
    return this.request('GET', path);
  }

  /** Follows one redirect, as a browser would. */
  async follow(page: Page): Promise<Page> {
    assert.equal(page.status, 303, page.text);
    return this.request('GET', page.location);
  }

  /** Posts a form and follows the console's redirect (POST-redirect-GET), as a browser does; else the answer. */
  async submit(path: string, form: Record<string, string>): Promise<Page> {
    const posted = await this.request('POST', path, form);
    if (posted.status !== 303) return posted;
    return this.request('GET', posted.location);
  }

  async signIn(name: string, password: string, code?: string): Promise<Page> {
    return this.request('POST', '/console/login', { name, password, ...(code ? { code } : {}) });
  }
}

/** The CSRF field of the page's forms. */
export function csrfOf(page: Page): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(page.text);
  assert.ok(m, 'a CSRF field on the page');
  return m[1]!;
}

/** No inline script, event handler attribute, inline style or javascript: URL in a page, under a strict CSP. */
export function assertNoInlineCode(page: Page): void {
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /img-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-(inline|eval)|data:/);
  for (const tag of page.text.matchAll(/<script\b[^>]*>/g))
    assert.match(tag[0], /\ssrc="\/console\/assets\//);
  assert.doesNotMatch(page.text, /<script\b[^>]*>[^<]+<\/script>/);
  assert.doesNotMatch(page.text, /\son[a-z]+\s*=/i);
  assert.doesNotMatch(page.text, /\sstyle\s*=/i);
  assert.doesNotMatch(page.text, /<style\b/i);
  assert.doesNotMatch(page.text, /javascript:/i);
  assert.doesNotMatch(page.text, /src="data:/i);
}

/** The forms of a page that change something (everything posted except the logout). */
export function changeForms(page: Page): string[] {
  return [...page.text.matchAll(/<form\b[^>]*method="post"[^>]*action="([^"]+)"/g)]
    .map((m) => m[1]!)
    .filter((action) => action !== '/console/logout');
}
