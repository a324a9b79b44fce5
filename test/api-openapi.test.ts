// The OpenAPI 3.1 document the API serves: every route in it, every operation with examples that fit its schemas,
// and live responses of the read operations checked against the documented schemas.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { cliActor } from '../src/admin/actor.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON of any route or document; each test asserts what it reads.
type Json = any;
let server: TestServer;
let base: string;
let key = '';
let adminKey = '';
let operatorKey = '';
let auditorKey = '';
// The OpenAPI document as parsed JSON: its shape is what this test checks.
let doc: Json;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every route the API serves, as the OpenAPI path templates name them. */
const EXPECTED = [
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /api/users',
  'POST /api/users',
  'GET /api/users/{name}',
  'PATCH /api/users/{name}',
  'DELETE /api/users/{name}',
  'POST /api/users/{name}/keys',
  'DELETE /api/users/{name}/keys/{fingerprint}',
  'POST /api/users/{name}/disable',
  'POST /api/users/{name}/enable',
  'POST /api/users/{name}/unlock',
  'DELETE /api/users/{name}/totp',
  'GET /api/users/{name}/effective',
  'GET /api/groups',
  'POST /api/groups',
  'GET /api/groups/{name}',
  'PATCH /api/groups/{name}',
  'DELETE /api/groups/{name}',
  'GET /api/folders',
  'POST /api/folders',
  'GET /api/folders/{name}',
  'PATCH /api/folders/{name}',
  'DELETE /api/folders/{name}',
  'POST /api/folders/{name}/mounts',
  'DELETE /api/folders/{name}/mounts',
  'GET /api/audit',
  'GET /api/audit/verify',
  'GET /api/audit/export',
  'GET /api/defender',
  'GET /api/events',
  'GET /api/keys/host',
  'POST /api/keys/host',
  'POST /api/keys/host/import',
  'POST /api/keys/pgp',
  'POST /api/keys/pgp/import',
  'DELETE /api/keys/pgp/{name}',
  'POST /api/keys/host/{id}/promote',
  'POST /api/keys/host/{id}/retire',
  'GET /api/keys/client',
  'POST /api/keys/client',
  'POST /api/keys/client/import',
  'GET /api/keys/pgp',
  'GET /api/keys/x509',
  'POST /api/keys/x509',
  'POST /api/keys/x509/import',
  'GET /api/keys/x509/{name}/chain',
  'DELETE /api/keys/x509/{name}',
  'DELETE /api/defender/{address}',
  'GET /api/defender/allow',
  'POST /api/defender/allow',
  'DELETE /api/defender/allow/{cidr}',
  'GET /api/defender/deny',
  'POST /api/defender/deny',
  'DELETE /api/defender/deny/{cidr}',
  'GET /api/sessions',
  'DELETE /api/sessions/{id}',
  'GET /api/partners',
  'GET /api/partners/{name}',
  'GET /api/partners/{name}/hostkey',
  'POST /api/partners',
  'PATCH /api/partners/{name}',
  'DELETE /api/partners/{name}',
  'POST /api/partners/{name}/trust',
  'GET /api/jobs/{name}/runs',
  'GET /api/jobs/{name}/runs/{id}',
  'POST /api/jobs',
  'PATCH /api/jobs/{name}',
  'DELETE /api/jobs/{name}',
  'GET /api/jobs',
  'GET /api/jobs/{name}',
  'POST /api/jobs/{name}/run',
  'GET /api/status',
  'GET /api/cluster',
  'GET /api/apikeys',
  'POST /api/apikeys',
  'DELETE /api/apikeys/{name}',
  'POST /api/login',
  'POST /api/logout',
  'GET /api/session',
  'GET /api/admins',
  'POST /api/admins',
  'PATCH /api/admins/{name}',
  'DELETE /api/admins/{name}',
  'POST /api/admins/{name}/totp',
  'DELETE /api/admins/{name}/totp',
  'GET /api/rules',
  'POST /api/rules',
  'GET /api/rules/{name}',
  'PATCH /api/rules/{name}',
  'DELETE /api/rules/{name}',
  'POST /api/rules/{name}/enable',
  'POST /api/rules/{name}/disable',
  'POST /api/rules/{name}/test',
  'POST /api/rules/import',
  'POST /api/rules/{name}/test/run',
  'GET /api/deliveries',
  'GET /api/deliveries/{id}',
  'POST /api/deliveries/{id}/redeliver',
  'POST /api/session/totp/draft',
  'POST /api/session/totp',
  'POST /api/users/{name}/totp/draft',
  'POST /api/users/{name}/totp',
  'GET /api/permissions',
  'GET /api/users/export',
  'POST /api/users/import',
];

function operations(): { id: string; op: Json }[] {
  return Object.entries(doc.paths).flatMap(([path, item]: [string, Json]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ id: `${m.toUpperCase()} ${path}`, op: item[m] })),
  );
}

/** A validator resolving the document's `#/components/schemas/X` references. */
function validatorFor(schema: unknown) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'components', $defs: doc.components.schemas });
  const rewritten = JSON.parse(
    JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/$defs/'),
  );
  return ajv.compile(rewritten);
}

function resolve(schema: Json): Json {
  const ref = schema?.$ref as string | undefined;
  return ref ? doc.components.schemas[ref.replace('#/components/schemas/', '')] : schema;
}

function jsonContent(content: Json): Json {
  return (
    content?.['application/json'] ??
    content?.['text/plain'] ??
    content?.['application/x-ndjson'] ??
    content?.['text/event-stream'] ??
    content?.['application/pem-certificate-chain']
  );
}

before(async () => {
  server = await startTestServer();
  base = `http://127.0.0.1:${server.running.httpPort}`;
  const access = server.running.context.admin.apiAccess;
  const issue = async (name: string, role: 'admin' | 'operator' | 'auditor') =>
    (await access.addKey(cliActor(), { name, role })).key.reveal();
  key = await issue('docs', 'admin');
  adminKey = await issue('role-admin', 'admin');
  operatorKey = await issue('role-operator', 'operator');
  auditorKey = await issue('role-auditor', 'auditor');
  const response = await fetch(`${base}/api/openapi.json`);
  assert.equal(response.status, 200);
  doc = JSON.parse(await response.text());
});

after(async () => {
  await server?.close();
});

/** Changes that are not administrative: console logins and logouts (audited as sessions), dry runs. */
const UNRECORDED = ['POST /api/login', 'POST /api/logout', 'POST /api/rules/{name}/test'];

/** The newest admin record of the trail (after the audit writer's queue is committed). */
async function newestAdminRecord(): Promise<Json | undefined> {
  await server.running.context.audit.flush();
  const response = await fetch(`${base}/api/audit?limit=1&action=admin`, {
    headers: { authorization: `Bearer ${auditorKey}` },
  });
  return ((await response.json()) as Json).items.at(-1);
}

describe('OpenAPI document', () => {
  test('validates against the OpenAPI 3.1 specification schema (an independent validator)', async () => {
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1)?.slice(0, 2000));
    // The same validator refuses a document broken on purpose, so it is not waving everything through.
    const broken = structuredClone(doc);
    broken.paths['/api/users'].get.responses = 'none';
    assert.equal((await new Validator().validate(broken)).valid, false);
  });

  test('is OpenAPI 3.1 with every route the API serves, and nothing else', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.title, 'Ferry REST API');
    assert.deepEqual(
      operations()
        .map((o) => o.id)
        .sort(),
      [...EXPECTED].sort(),
    );
    assert.deepEqual(doc.components.securitySchemes.apiKey, {
      type: 'http',
      scheme: 'bearer',
      description: 'ferry_… API key',
    });
    assert.equal(doc.components.securitySchemes.consoleSession.in, 'cookie');
    assert.deepEqual(doc.paths['/healthz'].get.security, []);
    assert.deepEqual(doc.paths['/api/login'].post.security, []);
  });

  test('every $ref names a component that exists', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    assert.ok(refs.length > 0);
    for (const name of new Set(refs)) assert.ok(doc.components.schemas[name], `component ${name}`);
  });

  test('every operation has examples for its body and its success response, and they fit the schemas', () => {
    for (const { id, op } of operations()) {
      assert.ok(op.summary, `${id} has a summary`);
      const body = op.requestBody?.content?.['application/json'];
      if (body) {
        assert.ok(body.schema.example !== undefined, `${id}: request body example`);
        const validate = validatorFor(body.schema);
        assert.ok(validate(body.schema.example), `${id} request example: ${JSON.stringify(validate.errors)}`);
      }
      const success = Object.entries(op.responses).find(([status]) => status.startsWith('2'));
      assert.ok(success, `${id} documents a success response`);
      const content = jsonContent((success[1] as Json).content);
      if (!content) continue; // 204: no body.
      const schema = resolve(content.schema);
      assert.ok(schema?.example !== undefined, `${id}: response example`);
      const validate = validatorFor(content.schema);
      assert.ok(validate(schema.example), `${id} response example: ${JSON.stringify(validate.errors)}`);
    }
  });

  test('live answers of the read operations match their documented schemas', async () => {
    await server.addUser('alice', { password: 'alice-pw-123456' });
    let checked = 0;
    for (const { id, op } of operations()) {
      // Not JSON (metrics, the export) or only for a console session (api-console.test.ts).
      const skipped = ['GET /metrics', 'GET /api/audit/export', 'GET /api/session', 'GET /api/events'];
      if (!id.startsWith('GET ') || id.includes('{') || skipped.includes(id)) continue;
      const response = await fetch(`${base}${id.slice(4)}`, { headers: { authorization: `Bearer ${key}` } });
      const status = String(response.status);
      assert.equal(status, '200', id);
      const validate = validatorFor(op.responses[status].content['application/json'].schema);
      const body = await response.json();
      assert.ok(validate(body), `${id}: ${JSON.stringify(validate.errors)}`);
      checked++;
    }
    const one = await fetch(`${base}/api/users/alice`, { headers: { authorization: `Bearer ${key}` } });
    const validate = validatorFor(
      doc.paths['/api/users/{name}'].get.responses['200'].content['application/json'].schema,
    );
    assert.ok(validate(await one.json()));
    assert.ok(checked >= 10, `${checked} operations checked`);
  });

  test('every operation states its permission, each role is allowed or refused exactly as it says, and every answer to its example fits the documented schema', async () => {
    const roles = { admin: adminKey, operator: operatorKey, auditor: auditorKey };
    const fill = (path: string) =>
      path
        .replace('{name}', 'nobody')
        .replace('{id}', '9999')
        .replace('{fingerprint}', 'SHA256:none')
        .replace('{address}', '192.0.2.1')
        .replace('{cidr}', '192.0.2.0%2F24');
    let checked = 0;
    let answered = 0;
    let recorded = 0;
    let lastSeq = (await newestAdminRecord())?.seq ?? 0;
    for (const { id, op } of operations()) {
      const permission = op['x-permission'] as string | undefined;
      assert.ok(permission, `${id} states its permission`);
      assert.match(op.description, /^Requires /, id);
      if (permission === 'public') continue;
      const allowed = new Set(op.description.replace(/^.*: /, '').replace(/\.$/, '').split(', '));
      const [method, path] = id.split(' ') as [string, string];
      const body = op.requestBody?.content?.['application/json']?.schema?.example;
      for (const [role, key] of Object.entries(roles)) {
        const response = await fetch(`${base}${fill(path)}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        });
        // Whatever the example got (made, found, refused as a problem), the answer is one the document states.
        const documented = op.responses[String(response.status)];
        assert.ok(documented, `${role} ${id}: status ${response.status} is documented`);
        const content = jsonContent(documented.content);
        const type = response.headers.get('content-type') ?? '';
        if (content?.schema && /^application\/(problem\+)?json/.test(type)) {
          const validate = validatorFor(content.schema);
          const answer = await response.json();
          assert.ok(validate(answer), `${role} ${id} ${response.status}: ${JSON.stringify(validate.errors)}`);
          answered++;
        } else await response.body?.cancel();
        // A change made through the API is in the audit trail as an admin record of the key's account.
        if (method !== 'GET' && response.status < 300 && !UNRECORDED.includes(id)) {
          const newest = await newestAdminRecord();
          assert.ok(newest && newest.seq > lastSeq, `${role} ${id}: an admin record`);
          assert.equal(newest.actor, `api:role-${role}`, `${role} ${id}: the record names the key`);
          lastSeq = newest.seq;
          recorded++;
        }
        if (allowed.has(role)) assert.notEqual(response.status, 403, `${role} may ${id}`);
        else assert.equal(response.status, 403, `${role} may not ${id}`);
        assert.notEqual(response.status, 401, `${role} is authenticated for ${id}`);
        checked++;
      }
    }
    assert.ok(checked >= 40 * 3, `${checked} role checks`);
    assert.ok(answered >= checked / 2, `${answered} answers checked against their schemas`);
    assert.ok(recorded >= 8, `${recorded} changes found audited with their actor`);
  });

  test('every operation with a JSON body refuses a malformed one with a 400 problem, and the trail records nothing', async () => {
    const fill = (path: string) =>
      path
        .replace('{name}', 'nobody')
        .replace('{id}', '9999')
        .replace('{fingerprint}', 'SHA256:none')
        .replace('{address}', '192.0.2.1')
        .replace('{cidr}', '192.0.2.0%2F24');
    const before = (await newestAdminRecord())?.seq ?? 0;
    const validate = validatorFor({ $ref: '#/components/schemas/Problem' });
    let refused = 0;
    for (const { id, op } of operations()) {
      if (!op.requestBody?.content?.['application/json']) continue;
      const [method, path] = id.split(' ') as [string, string];
      // An array where every body is an object: wrong whatever the fields.
      const response = await fetch(`${base}${fill(path)}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: '[1,2,3]',
      });
      assert.equal(response.status, 400, `${id} refuses a malformed body`);
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/, id);
      const problem = (await response.json()) as Json;
      assert.ok(validate(problem), `${id}: ${JSON.stringify(validate.errors)}`);
      assert.equal((problem as Json).code, 'ERR_INVALID_ARGUMENT', id);
      refused++;
    }
    assert.ok(refused >= 30, `${refused} operations with a body`);
    assert.equal((await newestAdminRecord())?.seq ?? 0, before, 'no admin record for a refused body');
  });

  test('a problem answer matches the documented Problem schema', async () => {
    const response = await fetch(`${base}/api/users/nobody`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(response.status, 404);
    const validate = validatorFor({ $ref: '#/components/schemas/Problem' });
    assert.ok(validate(await response.json()), JSON.stringify(validate.errors));
  });

  test('/api/docs serves the interactive documentation', async () => {
    const response = await fetch(`${base}/api/docs`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /swagger-ui/i);
    const css = await fetch(`${base}/api/docs/static/swagger-ui.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
  });
});
