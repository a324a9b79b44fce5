// `ferry rules` as an operator uses it: define, change, import, inspect deliveries, redeliver; audited, secrets never shown.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { startWebhookReceiver } from './helpers/webhook-receiver.js';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
const DOCS = join(import.meta.dirname, '..', 'docs', 'RULES.md');

let dir: string;
let dataDir: string;

function ferry(args: string[], input = '', env: NodeJS.ProcessEnv = {}) {
  return runFerry([...args, '--data-dir', dataDir], input, env);
}

async function ok(args: string[], input = '', env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await ferry(args, input, env);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The admin commands recorded in the audit trail, oldest first. */
async function auditedCommands(): Promise<{ command: string; target: string; changes: unknown }[]> {
  const out = await ok(['audit', 'query', '--action', 'admin', '--json']);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { target: string; detail: { command: string; changes?: unknown } })
    .map((r) => ({ command: r.detail.command, target: r.target, changes: r.detail.changes }));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-rules-cli-'));
  dataDir = join(dir, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  // What the documented examples name: a user, a partner and a job.
  await ok(['users', 'add', 'acme', '--password-stdin'], 'Acme-pa55word-1\n');
  await ok(
    ['partners', 'add', 'acme', '--host', '127.0.0.1', '--port', '9', '--user', 'ferry', '--password-stdin'],
    'Partner-pa55word-1\n',
  );
  await ok([
    ...['jobs', 'add', 'acme-push', '--partner', 'acme', '--direction', 'push'],
    ...['--remote-dir', '/in', '--local-dir', dir],
  ]);
});
after(() => rm(dir, { recursive: true, force: true }));

test('a rule is added, listed, shown, changed, switched off and on, and removed; each change audited', async () => {
  const added = await ok(
    [
      ...['rules', 'add', 'arrivals', '--on', 'upload,rename', '--path', '/in/**', '--user', 'acme*'],
      ...['--action', 'email', '--to', 'ops@example.com', '--subject', '{{user}} sent {{name}}'],
    ],
    '',
  );
  assert.equal(
    added,
    "rule arrivals added: on upload,rename → email to ops@example.com subject '{{user}} sent {{name}}'\n",
  );

  const list = await ok(['rules', 'list']);
  assert.match(list, /^NAME +EVENTS +ACTIONS +ENABLED\n/);
  assert.match(list, /^arrivals +upload,rename +email +yes$/m);

  const shown = await ok(['rules', 'show', 'arrivals']);
  assert.match(shown, /^on: +upload, rename$/m);
  assert.match(shown, /^when: +user acme\*; path \/in\/\*\*$/m);
  assert.match(shown, /^actions: +1\. email to ops@example.com subject '\{\{user\}\} sent \{\{name\}\}'$/m);
  assert.match(shown, /^attempts: +8 before dead-lettering$/m);

  assert.equal(
    await ok([
      'rules',
      'set',
      'arrivals',
      '--clear',
      'user',
      '--cc',
      'audit@example.com',
      '--max-attempts',
      '3',
    ]),
    'rule arrivals changed: actions, conditions, maxAttempts\n',
  );
  assert.equal(await ok(['rules', 'set', 'arrivals', '--max-attempts', '3']), 'rule arrivals unchanged\n');
  const json = JSON.parse(await ok(['rules', 'show', 'arrivals', '--json']));
  assert.deepEqual(json.conditions, { paths: ['/in/**'] });
  assert.deepEqual(json.actions, [
    { kind: 'email', to: ['ops@example.com'], cc: ['audit@example.com'], subject: '{{user}} sent {{name}}' },
  ]);
  assert.equal(json.maxAttempts, 3);
  assert.equal(json.secret, 'none');

  assert.equal(await ok(['rules', 'disable', 'arrivals']), 'rule arrivals disabled\n');
  assert.equal(await ok(['rules', 'disable', 'arrivals']), 'rule arrivals already disabled\n');
  assert.match(await ok(['rules', 'list']), /^arrivals .* no$/m);
  assert.equal(await ok(['rules', 'enable', 'arrivals']), 'rule arrivals enabled\n');
  assert.equal(await ok(['rules', 'remove', 'arrivals']), 'rule arrivals removed\n');
  const gone = await ferry(['rules', 'show', 'arrivals']);
  assert.deepEqual([gone.code, gone.stderr], [1, 'ferry: no rule named arrivals\n']);

  const audited = (await auditedCommands()).filter((r) => r.target === 'rule arrivals');
  assert.deepEqual(
    audited.map((r) => r.command),
    ['rules add', 'rules set', 'rules disable', 'rules enable', 'rules remove'],
  );
  assert.deepEqual((audited[1]?.changes as Record<string, unknown> | undefined)?.maxAttempts, {
    from: null,
    to: 3,
  });
});

test('bad input is refused with one line naming the problem, and nothing changes', async () => {
  await ok(['rules', 'add', 'keep', '--on', 'job-failed', '--action', 'email', '--to', 'ops@example.com']);
  const rulesBefore = await ok(['rules', 'list', '--json']);
  const auditBefore = (await auditedCommands()).length;
  const cases: [string[], number, RegExp][] = [
    [
      ['add', 'x', '--on', 'uplod', '--action', 'email', '--to', 'a@b.example'],
      1,
      /^events\[0\]: unknown event 'uplod'/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--action', 'webhook', '--url', 'ftp://x.example/'],
      1,
      /^actions\[0\]\.url: must be http/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--action', 'webhook', '--url', 'https://x.example/'],
      1,
      /needs a signing secret/,
    ],
    [
      [
        'add',
        'x',
        '--on',
        'upload',
        '--action',
        'email',
        '--to',
        'a@b.example',
        '--url',
        'https://x.example/',
      ],
      2,
      /^--url is not used by --action email\n/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--action', 'email', '--to', 'nobody'],
      1,
      /^actions\[0\]\.to\[0\]: must be one e-mail address/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--action', 'email', '--to', 'a@b.example', '--subject', '{{usr}}'],
      1,
      /^actions\[0\]\.subject: unknown template field \{\{usr\}\}/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--action', 'command', '--command', 'scan'],
      1,
      /argv\[0\] must be the absolute path/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--source', '10.0.0.0/33', '--action', 'delete'],
      1,
      /^conditions\.sources\[0\]: must be an IP address or CIDR/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--time-window', '9-5', '--action', 'delete'],
      2,
      /^--time-window: time window '9-5' must be HH:MM-HH:MM/,
    ],
    [
      [
        'add',
        'x',
        '--on',
        'schedule',
        '--action',
        'retention',
        '--run-as',
        'acme',
        '--under',
        '/in',
        '--keep-files',
        '3',
      ],
      1,
      /^schedule: is required/,
    ],
    [
      [
        'add',
        'x',
        '--on',
        'schedule',
        '--cron',
        'daily',
        '--action',
        'retention',
        '--run-as',
        'acme',
        '--under',
        '/in',
        '--keep-files',
        '3',
      ],
      1,
      /^schedule: 'daily' is not a cron expression/,
    ],
    [
      ['add', 'x', '--on', 'pre-upload', '--action', 'email', '--to', 'a@b.example'],
      1,
      /^actions: pre-upload rules can only run webhook or command actions/,
    ],
    [
      ['add', 'x', '--on', 'upload', '--action', 'run-job', '--job', 'nope'],
      1,
      /^actions\[0\]\.job: no job named nope/,
    ],
    [['add', 'keep', '--on', 'upload', '--action', 'delete'], 1, /^a rule named keep exists/],
    [
      ['set', 'keep', '--on', 'login', '--action', 'copy', '--target', '/x'],
      1,
      /^actions\[0\]\.kind: copy needs a file event/,
    ],
    [['set', 'keep', '--clear', 'colour'], 2, /^--clear: unknown 'colour'/],
    [['set', 'nope', '--max-attempts', '2'], 1, /^no rule named nope\n/],
    [['remove', 'nope'], 1, /^no rule named nope\n/],
  ];
  for (const [args, code, message] of cases) {
    const r = await ferry(['rules', ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^ferry: [^\n]*\n$/, `one line for ${args.join(' ')}`);
    assert.match(r.stderr.slice('ferry: '.length), message, args.join(' '));
  }
  assert.equal(await ok(['rules', 'list', '--json']), rulesBefore);
  assert.equal((await auditedCommands()).length, auditBefore, 'no admin record for a refused change');
  await ok(['rules', 'remove', 'keep']);
});

/** The first fenced block of `lang` in docs/RULES.md after the heading `## Examples`. */
async function docsBlock(lang: string): Promise<string> {
  const text = (await readFile(DOCS, 'utf8')).split('## Examples')[1] ?? '';
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(text);
  assert.ok(m, `a ${lang} block in docs/RULES.md`);
  return m[1] ?? '';
}

test('the documented examples run as commands, and importing their file afterwards changes nothing', async () => {
  const script = `ferry() { node ${JSON.stringify(FERRY_BIN)} "$@" --data-dir ${JSON.stringify(dataDir)}; }\nset -e\n${await docsBlock('sh')}`;
  const env = { ...process.env, FERRY_LOG_LEVEL: 'silent', ACME_HOOK_SECRET: SECRET };
  const { stdout } = await promisify(execFile)('bash', ['-c', script], { env });
  assert.equal(stdout.split('\n').filter((l) => l.includes(' added: ')).length, 7, stdout);
  // The shipped "alert on 5 failed logins for one user" is a counting rule.
  assert.match(
    stdout,
    /^rule failed-logins added: on login-failed, once 5 events within 10m for one user → email/m,
  );

  const file = join(dir, 'rules.yaml');
  await writeFile(file, await docsBlock('yaml'));
  const importEnv = { ACME_HOOK_SECRET: SECRET };
  const auditBefore = (await auditedCommands()).length;
  assert.equal(
    await ok(['rules', 'import', file], '', importEnv),
    `${file}: 0 added, 0 updated, 7 unchanged (failed-logins, banned, failed-jobs, push-acme, notify-acme, sweep-inbound, sweep-report)\n`,
  );
  assert.equal(
    (await auditedCommands()).length,
    auditBefore,
    'an import that changes nothing records nothing',
  );

  // A changed rule (and a changed secret) is updated; the rest stay as they are.
  const yaml = (await readFile(file, 'utf8')).replace('olderThanDays: 30', 'olderThanDays: 45');
  await writeFile(file, yaml);
  assert.match(
    await ok(['rules', 'import', file], '', importEnv),
    /: 0 added, 1 updated \(sweep-inbound\), 6 unchanged/,
  );
  assert.match(
    await ok(['rules', 'import', file], '', { ACME_HOOK_SECRET: `${SECRET.slice(0, -4)}AAA=` }),
    /: 0 added, 1 updated \(notify-acme\), 6 unchanged/,
  );
  const imports = (await auditedCommands()).filter((r) => r.command === 'rules import');
  assert.deepEqual(
    imports.map((r) => [r.target, r.changes]),
    [
      ['rules.yaml', { added: [], updated: ['sweep-inbound'], unchanged: 6 }],
      ['rules.yaml', { added: [], updated: ['notify-acme'], unchanged: 6 }],
    ],
  );

  // A new file: added once, unchanged the second time; a bad rule anywhere in a file saves none of them.
  const json = join(dir, 'more.json');
  await writeFile(
    json,
    JSON.stringify({ rules: [{ name: 'any-login', events: ['login'], actions: [{ kind: 'sha256' }] }] }),
  );
  const bad = await ferry(['rules', 'import', json]);
  assert.equal(
    bad.stderr,
    'ferry: rules[0] (any-login): actions[0].kind: sha256 needs a file event (upload, download, delete, rename, mkdir, rmdir, copy), not login\n',
  );
  await writeFile(
    json,
    JSON.stringify([
      { name: 'any-login', events: ['login'], actions: [{ kind: 'email', to: ['ops@example.com'] }] },
      {
        name: 'no-exe',
        events: ['pre-upload'],
        conditions: { paths: ['**/*.exe'] },
        actions: [{ kind: 'command', argv: ['/bin/false'] }],
      },
    ]),
  );
  assert.match(
    await ok(['rules', 'import', json]),
    /: 2 added \(any-login, no-exe\), 0 updated, 0 unchanged$/m,
  );
  assert.match(
    await ok(['rules', 'import', json]),
    /: 0 added, 0 updated, 2 unchanged \(any-login, no-exe\)$/m,
  );
  await writeFile(
    json,
    JSON.stringify([
      { name: 'later', events: ['login'], actions: [{ kind: 'email', to: ['a@b.example'] }] },
      { name: 'any-login', events: ['lgin'], actions: [] },
    ]),
  );
  assert.match(
    (await ferry(['rules', 'import', json])).stderr,
    /^ferry: rules\[1\] \(any-login\): events\[0\]: unknown event 'lgin'/,
  );
  assert.equal((await ferry(['rules', 'show', 'later'])).code, 1, 'nothing of a refused file is saved');
});

test('the webhook secret never appears in list, show, JSON, the audit trail, its export or the store file', async () => {
  const secret = 'a-plain-secret-of-32-characters!';
  await ok(
    [
      'rules',
      'add',
      'signed',
      '--on',
      'upload',
      '--action',
      'webhook',
      '--url',
      'https://hooks.example.com/x',
      '--secret-stdin',
    ],
    `${secret}\n`,
  );
  await ok(['rules', 'set', 'signed', '--secret-stdin'], `${secret}-2\n`);
  assert.equal(
    await ok(['rules', 'set', 'signed', '--secret-stdin'], `${secret}-2\n`),
    'rule signed unchanged\n',
  );
  const outputs = [
    await ok(['rules', 'list']),
    await ok(['rules', 'list', '--json']),
    await ok(['rules', 'show', 'signed']),
    await ok(['rules', 'show', 'signed', '--json']),
    await ok(['audit', 'query', '--json']),
    await ok(['audit', 'export', '--format', 'jsonl']),
    await ok(['audit', 'export', '--format', 'csv']),
  ];
  for (const out of outputs) assert.ok(!out.includes(secret), `no secret in ${out.slice(0, 200)}`);
  assert.match(await ok(['rules', 'show', 'signed']), /^secret: +\(set\)$/m);
  const audited = (await auditedCommands()).filter((r) => r.target === 'rule signed');
  assert.equal((audited[0]?.changes as { secret: string } | undefined)?.secret, '(set)');
  assert.deepEqual(audited[1]?.changes, { secret: 'changed' });
  for (const name of await readdir(dataDir)) {
    if (!name.startsWith('ferry.db')) continue;
    const bytes = await readFile(join(dataDir, name));
    assert.ok(!bytes.includes(secret), `${name} holds the secret only sealed`);
  }
});

test('deliveries show every attempt; a dead one is redelivered with its id and history', async () => {
  await ok(
    [
      'rules',
      'add',
      'hook',
      '--on',
      'upload',
      '--action',
      'webhook',
      '--url',
      'https://hooks.example.com/y',
      '--secret-stdin',
    ],
    SECRET,
  );
  await ok(['rules', 'add', 'gone', '--on', 'upload', '--action', 'email', '--to', 'ops@example.com']);
  const store = await openSqliteStore(join(dataDir, 'ferry.db'));
  try {
    const rule = await store.rules.get('hook');
    assert.ok(rule);
    const t0 = new Date(Date.now() - 60_000);
    const fields = { event: 'upload', user: 'acme', path: '/in/a.csv' };
    await store.deliveries.enqueue(
      ['d-dead', 'd-done'].map((id) => ({
        id,
        ruleId: rule.id,
        actionIndex: 0,
        eventName: 'upload' as const,
        fields,
      })),
      t0,
    );
    const lease = new Date(Date.now() + 60_000);
    const attempt = (id: string, n: number, ok: boolean, code: number, latencyMs: number) => ({
      deliveryId: id,
      attempt: n,
      at: new Date(t0.getTime() + n * 1000),
      ok,
      latencyMs,
      responseCode: code,
      ...(ok ? {} : { error: `HTTP ${code}` }),
      output: ok ? 'thanks' : 'upstream down',
    });
    assert.equal((await store.deliveries.claim('test', 2, t0, lease)).length, 2);
    await store.deliveries.finish('d-done', 'test', attempt('d-done', 1, true, 200, 12), {
      status: 'succeeded',
    });
    await store.deliveries.finish('d-dead', 'test', attempt('d-dead', 1, false, 500, 31), {
      status: 'pending',
      nextAttemptAt: t0,
    });
    assert.equal((await store.deliveries.claim('test', 2, t0, lease)).length, 1);
    await store.deliveries.finish('d-dead', 'test', attempt('d-dead', 2, false, 503, 47), { status: 'dead' });
    // A dead delivery of a rule removed afterwards.
    const gone = await store.rules.get('gone');
    assert.ok(gone);
    await store.deliveries.enqueue(
      [{ id: 'd-orphan', ruleId: gone.id, actionIndex: 0, eventName: 'upload', fields }],
      t0,
    );
    assert.equal((await store.deliveries.claim('test', 2, t0, lease)).length, 1);
    await store.deliveries.finish('d-orphan', 'test', attempt('d-orphan', 1, false, 500, 9), {
      status: 'dead',
    });
  } finally {
    await store.close();
  }
  await ok(['rules', 'remove', 'gone']);

  const all = JSON.parse(await ok(['rules', 'deliveries', '--json'])) as {
    id: string;
    status: string;
    history: unknown[];
  }[];
  assert.deepEqual(all.map((d) => [d.id, d.status, d.history.length]).sort(), [
    ['d-dead', 'dead', 2],
    ['d-done', 'succeeded', 1],
    ['d-orphan', 'dead', 1],
  ]);
  const failed = await ok(['rules', 'deliveries', '--failed', '--rule', 'hook']);
  assert.match(failed, /^ID +RULE +EVENT +STATUS +ATTEMPTS +CREATED\n/);
  assert.match(failed, /^d-dead +hook +upload +dead +2 /m);
  assert.match(failed, /^ {4}attempt 1 +\S+ +failed +31 ms +code 500 +HTTP 500$/m);
  assert.match(failed, /^ {4}attempt 2 +\S+ +failed +47 ms +code 503 +HTTP 503$/m);
  assert.doesNotMatch(failed, /d-done/);
  assert.equal(
    (await ok(['rules', 'deliveries', '--rule', 'other'])).split('\n').length,
    2,
    'the header only',
  );
  const one = await ok(['rules', 'deliveries', 'd-dead']);
  assert.match(one, /^ {4}path: \/in\/a\.csv$/m);
  assert.match(one, /^ {6}upstream down$/m);

  assert.equal(
    await ok(['rules', 'redeliver', 'd-dead']),
    'delivery d-dead of rule hook queued again; ferry serve delivers it\n',
  );
  const again = JSON.parse(await ok(['rules', 'deliveries', 'd-dead', '--json']));
  assert.deepEqual(
    [again.id, again.status, again.attempts, again.history.length],
    ['d-dead', 'pending', 0, 2],
  );
  const twice = await ferry(['rules', 'redeliver', 'd-dead']);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /^ferry: delivery d-dead is pending already/);
  assert.match((await ferry(['rules', 'redeliver', 'nope'])).stderr, /^ferry: no delivery nope/);
  assert.match(
    await ok(['rules', 'deliveries', '--failed']),
    /^d-orphan +\(removed rule \d+\) +upload +dead /m,
  );
  const orphan = await ferry(['rules', 'redeliver', 'd-orphan']);
  assert.equal(orphan.code, 1);
  assert.match(
    orphan.stderr,
    /^ferry: delivery d-orphan belongs to \(removed rule \d+\): there is nothing to deliver it with\n$/,
  );
  const audited = (await auditedCommands()).filter((r) => r.command === 'rules redeliver');
  assert.deepEqual(audited, [
    {
      command: 'rules redeliver',
      target: 'delivery d-dead',
      changes: { rule: 'hook', event: 'upload', previousStatus: 'dead', attempts: 2 },
    },
  ]);
});

test('every rules command documents its defaults and an example in --help', async () => {
  for (const sub of [
    'add',
    'set',
    'list',
    'show',
    'enable',
    'disable',
    'remove',
    'import',
    'deliveries',
    'redeliver',
  ]) {
    const r = await runFerry(['rules', sub, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\nExample:\n {2}.*ferry rules /, sub);
  }
  const add = (await runFerry(['rules', 'add', '--help'])).stdout;
  for (const text of [
    '(default 5000)',
    '(default deny)',
    '(default 8)',
    'whsec_',
    '(default 10 for a webhook, 30 for a command)',
  ]) {
    assert.ok(add.replace(/\s+/g, ' ').includes(text), `rules add --help mentions ${text}`);
  }
});

test('rules test tells whether a rule fires for a sample, and --run sends its signed webhook once, now', async () => {
  const receiver = await startWebhookReceiver(SECRET);
  try {
    await ok(
      [
        ...['rules', 'add', 'probe', '--on', 'upload', '--path', '/in/*.csv', '--action', 'webhook'],
        ...['--url', receiver.url, '--secret-stdin'],
      ],
      SECRET,
    );
    const miss = await ferry(['rules', 'test', 'probe', '--path', '/in/a.txt']);
    assert.equal(miss.code, 1);
    assert.match(miss.stdout, /^rule probe does not fire for upload of \/in\/a\.txt by test$/m);
    const hit = await ok(['rules', 'test', 'probe', '--path', '/in/a.csv', '--user', 'acme']);
    assert.match(hit, /rule probe fires for upload of \/in\/a\.csv by acme/);
    assert.match(hit, /would run: webhook POST/);
    assert.equal(receiver.received.length, 0, 'without --run nothing is sent');

    const ran = await ok(['rules', 'test', 'probe', '--path', '/in/a.csv', '--user', 'acme', '--run']);
    assert.match(ran, /action 1 webhook POST .*: ok \(200\)/);
    assert.equal(receiver.received.length, 1);
    const [hook] = receiver.received;
    assert.equal(hook?.verified, true);
    assert.equal(hook?.body.data.path, '/in/a.csv');
    assert.equal(hook?.body.data.user, 'acme');
    // A test run is not a delivery: nothing is queued for the server to send again.
    assert.doesNotMatch(await ok(['rules', 'deliveries', '--rule', 'probe']), /probe/);

    const bad = await ferry(['rules', 'test', 'probe', '--event', 'uplaod']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ferry: unknown event 'uplaod'; known: /);
  } finally {
    await receiver.close();
    await ok(['rules', 'remove', 'probe']);
  }
});

test('a counting rule is added, shown, listed, tested, changed and cleared; bad counts are one line, nothing saved', async () => {
  const receiver = await startWebhookReceiver(SECRET);
  try {
    const added = await ok(
      [
        ...['rules', 'add', 'brute', '--on', 'login-failed', '--count', '5', '--within', '600s'],
        ...['--action', 'webhook', '--url', receiver.url, '--secret-stdin'],
      ],
      SECRET,
    );
    assert.match(
      added,
      /^rule brute added: on login-failed, once 5 events within 10m for one user → webhook/,
    );
    assert.match(
      await ok(['rules', 'show', 'brute']),
      /^when: +once 5 events within 10m for one user \(then counts again\)$/m,
    );
    assert.match(await ok(['rules', 'list']), /^brute +login-failed ×5\/10m per user +webhook +yes$/m);
    assert.deepEqual(JSON.parse(await ok(['rules', 'show', 'brute', '--json'])).conditions, {
      count: { atLeast: 5, per: 'user', within: '10m' },
    });

    // One sample counts but never fires the rule alone; --run sends what the fifth would.
    const tested = await ok(['rules', 'test', 'brute', '--user', 'alice']);
    assert.match(
      tested,
      /^rule brute counts login-failed of \S+ by alice: it fires once 5 events within 10m for one user arrive \(here user alice\), never for one event alone$/m,
    );
    assert.match(tested, /would run: webhook POST/);
    await ok(['rules', 'test', 'brute', '--user', 'alice', '--run']);
    const data = receiver.received[0]?.body.data;
    assert.deepEqual([data?.count, data?.within, data?.key], ['5', '10m', 'alice']);

    assert.equal(await ok(['rules', 'set', 'brute', '--within', '30m']), 'rule brute changed: conditions\n');
    assert.equal(
      await ok(['rules', 'set', 'brute', '--per', 'address', '--count', '3']),
      'rule brute changed: conditions\n',
    );
    assert.match(
      await ok(['rules', 'show', 'brute']),
      /^when: +once 3 events within 30m for one address \(then counts again\)$/m,
    );
    const bySource = await ferry(['rules', 'test', 'brute', '--source', '192.0.2.9']);
    assert.match(bySource.stdout, /\(here address 192\.0\.2\.9\)/);

    const before = await ok(['rules', 'list', '--json']);
    const refused: [string[], RegExp][] = [
      [['--count', '1', '--within', '1m'], /^ferry: conditions\.count\.atLeast: must be at least 2/],
      [['--count', '5'], /^ferry: --count needs --within, e\.g\. --within 10m\n$/],
      [['--within', '5m'], /^ferry: --within and --per need --count N/],
      [['--count', '5', '--within', '5min'], /^ferry: conditions\.count\.within: '5min' is not a duration/],
      [
        ['--count', '5', '--within', '40d'],
        /^ferry: conditions\.count\.within: a window of 40d is out of range/,
      ],
      [
        ['--count', '5', '--within', '1m', '--per', 'group'],
        /^ferry: conditions\.count\.per: must be one of user, address, path, rule\n$/,
      ],
      [['--count', '5x', '--within', '1m'], /^ferry: --count must be a whole number/],
    ];
    for (const [flags, message] of refused) {
      const r = await ferry([
        'rules',
        'add',
        'bad',
        '--on',
        'login-failed',
        ...flags,
        '--action',
        'email',
        '--to',
        'a@b.example',
      ]);
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, message, flags.join(' '));
    }
    const hook = await ferry([
      ...['rules', 'add', 'bad', '--on', 'pre-upload', '--count', '5', '--within', '1m'],
      ...['--action', 'command', '--command', '/bin/true'],
    ]);
    assert.match(hook.stderr, /^ferry: conditions\.count: cannot count pre-upload events\n$/);
    assert.equal(await ok(['rules', 'list', '--json']), before, 'nothing was saved');

    assert.equal(await ok(['rules', 'set', 'brute', '--clear', 'count']), 'rule brute changed: conditions\n');
    assert.match(await ok(['rules', 'show', 'brute']), /^when: +always$/m);
  } finally {
    await receiver.close();
    await ok(['rules', 'remove', 'brute']);
  }
});
