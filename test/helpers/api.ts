// A test server with one API key per role, and a small fetch client for its REST API.
import assert from 'node:assert/strict';
import { cliActor } from '../../src/admin/actor.js';
import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON of any route; each test asserts the fields it reads.
export type Json = any;

export interface Reply {
  readonly status: number;
  readonly type: string;
  readonly headers: Headers;
  readonly body: Json;
}

export interface ApiTestServer {
  readonly server: TestServer;
  readonly base: string;
  readonly keys: { readonly admin: string; readonly operator: string; readonly auditor: string };
  call(method: string, path: string, options?: { key?: string; body?: unknown }): Promise<Reply>;
  /** The newest admin records of the trail (through the API, as the auditor sees them). */
  adminRecords(): Promise<Json[]>;
  close(): Promise<void>;
}

export async function startApiTestServer(options: TestServerOptions = {}): Promise<ApiTestServer> {
  const server = await startTestServer(options);
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const access = server.running.context.admin.apiAccess;
  const issue = async (role: 'admin' | 'operator' | 'auditor') =>
    (await access.addKey(cliActor(), { name: `${role}-key`, role })).key.reveal();
  const keys = {
    admin: await issue('admin'),
    operator: await issue('operator'),
    auditor: await issue('auditor'),
  };
  const call: ApiTestServer['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = {};
    if (o.key !== undefined) headers.authorization = `Bearer ${o.key}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      type,
      headers: response.headers,
      body: type.includes('json') ? JSON.parse(text) : text,
    };
  };
  return {
    server,
    base,
    keys,
    call,
    adminRecords: async () => {
      await server.running.context.audit.flush();
      const reply = await call('GET', '/api/audit?limit=50&action=admin', { key: keys.auditor });
      assert.equal(reply.status, 200);
      return reply.body.items;
    },
    close: () => server.close(),
  };
}

/** An RFC 9457 problem with this status and stable code. */
export function assertProblem(reply: Reply, status: number, code: string): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.match(reply.type, /^application\/problem\+json/);
  assert.equal(reply.body.status, status);
  assert.equal(reply.body.code, code);
  assert.equal(reply.body.type, `urn:ferry:error:${code}`);
  assert.equal(typeof reply.body.title, 'string');
  assert.equal(typeof reply.body.detail, 'string');
}
