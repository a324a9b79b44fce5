// A browser without JavaScript for console tests over real HTTP: keeps its session cookie, follows nothing by
// itself; and the CSP scan every console page must pass.
import assert from 'node:assert/strict';

export interface Page {
  readonly status: number;
  readonly location: string;
  readonly text: string;
  readonly headers: Headers;
}

export class ConsoleBrowser {
  cookie = '';
  constructor(private readonly base: string) {}

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

  /** Follows one redirect, as a browser would. */
  async follow(page: Page): Promise<Page> {
    assert.equal(page.status, 303, page.text);
    return this.request('GET', page.location);
  }

  /** A form post and the page it redirects to. */
  async submit(path: string, form: Record<string, string>): Promise<Page> {
    return this.follow(await this.request('POST', path, form));
  }

  async signIn(name: string, password: string, code?: string): Promise<Page> {
    return this.request('POST', '/console/login', { name, password, ...(code ? { code } : {}) });
  }
}

export const csrfOf = (page: Page) => {
  const m = /name="_csrf" value="([^"]+)"/.exec(page.text);
  assert.ok(m, 'a CSRF field on the page');
  return m[1]!;
};

/** No inline script, event handler attribute, inline style or javascript: URL in a page; the CSP forbids them. */
export function assertNoInlineCode(page: Page) {
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
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
