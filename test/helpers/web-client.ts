// A plain HTTP client for the /files web client: a cookie jar, the sign-in form, CSRF tokens and tus calls.
import assert from 'node:assert/strict';

export interface WebReply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** One browser's worth of cookies against one server. */
export class WebClient {
  readonly cookies = new Map<string, string>();
  /** Every HTML page this client received, for the inline-script scan. */
  readonly pages: { url: string; reply: WebReply }[] = [];
  csrf = '';

  constructor(readonly base: string) {}

  async request(
    method: string,
    path: string,
    o: { form?: Record<string, string>; headers?: Record<string, string>; body?: Buffer | string } = {},
  ): Promise<WebReply> {
    const headers: Record<string, string> = { ...o.headers };
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    let body = o.body;
    if (o.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(o.form).toString();
    }
    const response = await fetch(`${this.base}${path}`, { method, headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /max-age=0/i.test(a) || /expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const reply = { status: response.status, headers: response.headers, text: await response.text() };
    if ((response.headers.get('content-type') ?? '').startsWith('text/html'))
      this.pages.push({ url: path, reply });
    return reply;
  }

  /** Signs in through the form; returns the POST's reply (303 to /files/ on success). */
  async login(username: string, password: string, code = ''): Promise<WebReply> {
    const form = await this.request('GET', '/files/login');
    assert.equal(form.status, 200);
    const token = /name="_csrf" value="([^"]+)"/.exec(form.text)?.[1];
    assert.ok(token, 'the login form carries a CSRF token');
    const reply = await this.request('POST', '/files/login', {
      form: { _csrf: token, username, password, code },
    });
    if (reply.status === 303) await this.refreshCsrf();
    return reply;
  }

  /** Reads the session's CSRF token from the folder page. */
  async refreshCsrf(): Promise<void> {
    const home = await this.request('GET', '/files/');
    assert.equal(home.status, 200, home.text);
    this.csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(home.text)?.[1] ?? '';
    assert.ok(this.csrf);
  }

  /** tus creation; returns the reply (201 with Location on success). */
  createUpload(dir: string, name: string, size: number, csrf = this.csrf): Promise<WebReply> {
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    return this.request('POST', '/files/tus', {
      headers: {
        'tus-resumable': '1.0.0',
        'upload-length': String(size),
        'upload-metadata': `dir ${b64(dir)},name ${b64(name)}`,
        ...(csrf ? { 'x-csrf-token': csrf } : {}),
      },
    });
  }

  patch(location: string, offset: number, data: Buffer, csrf = this.csrf): Promise<WebReply> {
    return this.request('PATCH', location, {
      headers: {
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        ...(csrf ? { 'x-csrf-token': csrf } : {}),
      },
      body: data,
    });
  }

  offsetOf(location: string): Promise<WebReply> {
    return this.request('HEAD', location, { headers: { 'tus-resumable': '1.0.0' } });
  }
}

/** Inline script or style, or event-handler attributes: what a strict CSP would block and we must never send. */
export function inlineCode(page: string): string[] {
  const found: string[] = [];
  for (const m of page.matchAll(/<script\b[^>]*>/gi)) if (!/\bsrc=/.test(m[0])) found.push(m[0]);
  for (const m of page.matchAll(/<style\b[^>]*>/gi)) found.push(m[0]);
  for (const m of page.matchAll(/\s(on[a-z]+|style)\s*=/gi)) found.push(m[0]);
  if (/javascript:/i.test(page)) found.push('javascript: URL');
  return found;
}
