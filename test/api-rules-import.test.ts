// POST /api/rules/import: the rules file as the body (YAML or JSON), imported like `ferry rules import`: all or
// nothing, unchanged rules untouched, secrets inline (never from the server's environment) and never echoed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, type Reply, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
const SECRET = 'a-long-random-signing-secret';

before(async () => {
  api = await startApiTestServer();
});

after(async () => {
  await api?.close();
});

/** POSTs a body of this content type, as curl --data-binary @rules.yaml would. */
async function post(body: string, type: string, key = api.keys.admin): Promise<Reply> {
  const response = await fetch(`${api.base}/api/rules/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': type },
    body,
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    type: contentType,
    headers: response.headers,
    body: contentType.includes('json') ? JSON.parse(text) : text,
  };
}

const yamlFile = (url: string, secret = SECRET) => `rules:
  - name: partner-in
    events: [upload]
    conditions: { paths: ['/inbound/acme/**'] }
    actions: [{ kind: webhook, url: '${url}' }]
    secret: ${secret}
  - name: big-files
    events: [upload]
    conditions: { minSize: 1000000 }
    actions: [{ kind: webhook, url: 'https://hooks.example.com/big' }]
    secret: ${secret}
`;

const ruleNames = async () =>
  (await api.call('GET', '/api/rules', { key: api.keys.admin })).body.items.map(
    (r: { name: string }) => r.name,
  );

test('bad files are one-line 400s and store nothing; other roles are refused', async () => {
  for (const role of ['operator', 'auditor'] as const)
    assertProblem(
      await post(yamlFile('https://hooks.example.com/in'), 'application/yaml', api.keys[role]),
      403,
      'ERR_PERMISSION_DENIED',
    );
  const good =
    '  - name: fine\n    events: [upload]\n    actions: [{ kind: webhook, url: "https://h.example/" }]\n    secret: s3cret-s3cret-s3cret\n';
  const cases: [string, string, RegExp][] = [
    ['rules: [unclosed', 'application/yaml', /not valid YAML/],
    [
      `rules:\n${good}  - name: bad\n    events: [uploaded]\n    actions: [{ kind: webhook, url: "https://h.example/" }]\n`,
      'text/yaml',
      /rules\[1\] \(bad\): .*uploaded/,
    ],
    [
      `rules:\n${good}  - name: env\n    events: [upload]\n    secretEnv: HOME\n    actions: [{ kind: webhook, url: "https://h.example/" }]\n`,
      'application/yaml',
      /secretEnv: the server's environment is not read/,
    ],
    ['', 'application/yaml', /empty/],
    ['{"rules": 3}', 'application/json', /list of rules/],
    ['{"colour": []}', 'application/json', /unknown top-level key 'colour'/],
  ];
  for (const [body, type, pattern] of cases) {
    const reply = await post(body, type);
    assertProblem(reply, 400, 'ERR_INVALID_ARGUMENT');
    assert.match(reply.body.detail, pattern);
    assert.doesNotMatch(reply.body.detail, /\n/);
  }
  assert.equal((await post('a,b', 'text/csv')).status, 415);
  assert.deepEqual(await ruleNames(), [], 'nothing stored, not even the good rule of a bad file');
});

test('a YAML body adds rules; the same again changes nothing; a JSON body updates; secrets never come back', async () => {
  const first = await post(yamlFile('https://hooks.example.com/in'), 'application/yaml');
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body, { added: ['partner-in', 'big-files'], updated: [], unchanged: [] });
  const again = await post(yamlFile('https://hooks.example.com/in'), 'application/yaml');
  assert.deepEqual(again.body, { added: [], updated: [], unchanged: ['partner-in', 'big-files'] });
  // Another secret is a change (the stored one is compared, sealed), and so is another URL.
  const rotated = await post(
    yamlFile('https://hooks.example.com/in', 'another-secret-entirely-2'),
    'text/yaml',
  );
  assert.deepEqual(rotated.body, { added: [], updated: ['partner-in', 'big-files'], unchanged: [] });
  const json = await api.call('POST', '/api/rules/import', {
    key: api.keys.admin,
    body: [
      {
        name: 'partner-in',
        events: ['upload'],
        actions: [{ kind: 'webhook', url: 'https://hooks.example.com/moved' }],
      },
    ],
  });
  assert.equal(json.status, 200, JSON.stringify(json.body));
  assert.deepEqual(json.body, { added: [], updated: ['partner-in'], unchanged: [] });
  const shown = await api.call('GET', '/api/rules/partner-in', { key: api.keys.operator });
  assert.equal(shown.body.actions[0].url, 'https://hooks.example.com/moved');
  assert.equal(shown.body.secret, '(set)', 'a rule that names no secret keeps its own');
  const records = await api.adminRecords();
  const imports = records.filter((r) => r.detail.command === 'rules import');
  assert.equal(imports.length, 3, 'an import that changes nothing records nothing');
  for (const r of imports) {
    assert.equal(r.actor, 'api:admin-key');
    assert.equal(r.target, 'POST /api/rules/import');
  }
  assert.equal(
    JSON.stringify(records).includes(SECRET) || JSON.stringify(records).includes('another-secret-entirely-2'),
    false,
  );
});
