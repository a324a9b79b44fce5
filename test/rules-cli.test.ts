// `ferry rules` as an operator uses it: define, change, import; audited, secrets never shown. Deliveries, tests and
// counting rules: rules-cli-deliveries.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FERRY_BIN } from './helpers/cli.js';
import { rulesCliFixture, SECRET } from './helpers/rules-cli.js';

const DOCS = join(import.meta.dirname, '..', 'docs', 'RULES.md');

const cli = rulesCliFixture();
const { ferry, ok, auditedCommands } = cli;

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
  const script = `ferry() { node ${JSON.stringify(FERRY_BIN)} "$@" --data-dir ${JSON.stringify(cli.dataDir)}; }\nset -e\n${await docsBlock('sh')}`;
  const env = { ...process.env, FERRY_LOG_LEVEL: 'silent', ACME_HOOK_SECRET: SECRET };
  const { stdout } = await promisify(execFile)('bash', ['-c', script], { env });
  assert.equal(stdout.split('\n').filter((l) => l.includes(' added: ')).length, 7, stdout);
  // The shipped "alert on 5 failed logins for one user" is a counting rule.
  assert.match(
    stdout,
    /^rule failed-logins added: on login-failed, once 5 events within 10m for one user → email/m,
  );

  const file = join(cli.dir, 'rules.yaml');
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
  const json = join(cli.dir, 'more.json');
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
  for (const name of await readdir(cli.dataDir)) {
    if (!name.startsWith('ferry.db')) continue;
    const bytes = await readFile(join(cli.dataDir, name));
    assert.ok(!bytes.includes(secret), `${name} holds the secret only sealed`);
  }
});
