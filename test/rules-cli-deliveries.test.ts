// `ferry rules` as an operator uses it: deliveries and redelivery, `rules test`, counting rules, and the --help of
// every rules command.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runFerry } from './helpers/cli.js';
import { rulesCliFixture, SECRET } from './helpers/rules-cli.js';
import { startWebhookReceiver } from './helpers/webhook-receiver.js';

const cli = rulesCliFixture();
const { ferry, ok, auditedCommands } = cli;

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
  const store = await openSqliteStore(join(cli.dataDir, 'ferry.db'));
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
