import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../config/load.js';
import { ActiveTransfers } from '../../core/active-transfers.js';
import { rootLogger } from '../../logger.js';
import { transfersPaused } from '../held-deliveries.js';
import type { EmailAction } from '../types.js';
import { contextOf, deliveryOf, ruleOf, startSmtpReceiver } from './action-fixture.js';
import { createEmailRunner, SMTP_MAX_CONNECTIONS } from './email.js';

const log = rootLogger.child({ logger: 'test' });

function smtpTo(port: number, extra: NodeJS.ProcessEnv = {}) {
  return loadConfig({
    env: {
      FERRY_SMTP_HOST: '127.0.0.1',
      FERRY_SMTP_PORT: String(port),
      FERRY_SMTP_FROM: 'ferry@example.com',
      ...extra,
    },
  }).smtp;
}

test('an alert mail carries the event in its headers and body, and the SMTP reply code', async (t) => {
  const smtp = await startSmtpReceiver({
    onAuth(auth, _session, callback) {
      if (auth.username === 'ferry' && auth.password === 's3cret') callback(null, { user: auth.username });
      else callback(new Error('bad login'));
    },
  });
  t.after(() => smtp.close());
  const runner = createEmailRunner({
    smtp: smtpTo(smtp.port, { FERRY_SMTP_USER: 'ferry', FERRY_SMTP_PASSWORD: 's3cret' }),
    log,
  });
  t.after(() => runner.close());
  const action: EmailAction = {
    kind: 'email',
    to: ['ops@example.com'],
    cc: ['audit@example.com'],
    subject: 'Upload by {{user}}: {{name}}',
    body: 'File {{path}} ({{size}} bytes, sha256 {{sha256}}) arrived at {{at}}.',
  };
  const rule = ruleOf('arrivals', [action]);
  // A file name with CR/LF must not add a header (a Bcc) or end the header block.
  const path = '/in/report\r\nBcc: evil@example.com\r\n\r\nbody.csv';
  const delivery = deliveryOf(rule, {
    event: 'upload',
    user: 'alice',
    path,
    name: path.slice(4),
    size: '42',
    sha256: 'ab'.repeat(32),
    at: '2026-01-02T03:04:05.000Z',
  });
  const outcome = await runner.run(action, delivery, contextOf(rule));
  assert.equal(outcome.ok, true, outcome.error);
  assert.equal(outcome.responseCode, 250);
  assert.equal(smtp.mails.length, 1);
  const mail = smtp.mails[0]!;
  assert.equal(mail.user, 'ferry', 'logged in with the configured user');
  assert.equal(mail.from, 'ferry@example.com');
  assert.deepEqual(mail.to.sort(), ['audit@example.com', 'ops@example.com'], 'no Bcc smuggled in');
  assert.equal(mail.headers.get('subject'), 'Upload by alice: report Bcc: evil@example.com body.csv');
  assert.equal(mail.headers.has('bcc'), false);
  assert.equal(mail.headers.get('cc'), 'audit@example.com');
  assert.equal(mail.headers.get('message-id'), `<${delivery.id}@ferry>`);
  assert.match(mail.body, /^File \/in\/report\n/);
  assert.match(mail.body, /\(42 bytes, sha256 (ab){32}\) arrived at 2026-01-02T03:04:05\.000Z\./);
  assert.match(mail.body, /Ferry rule arrivals, delivery /);
});

test('the default mail names the event, user, path and error', async (t) => {
  const smtp = await startSmtpReceiver();
  t.after(() => smtp.close());
  const runner = createEmailRunner({ smtp: smtpTo(smtp.port), log });
  t.after(() => runner.close());
  const action: EmailAction = { kind: 'email', to: ['ops@example.com'] };
  const rule = ruleOf('failures', [action]);
  const fields = {
    event: 'upload',
    status: 'failed',
    user: 'bob',
    path: '/in/a.csv',
    error: 'No space left on device',
  };
  const outcome = await runner.run(action, deliveryOf(rule, fields), contextOf(rule));
  assert.equal(outcome.ok, true, outcome.error);
  const mail = smtp.mails[0]!;
  assert.equal(mail.headers.get('subject'), '[Ferry] upload failed bob /in/a.csv No space left on device');
  assert.match(mail.body, /^Event: +upload$/m);
  assert.match(mail.body, /^User: +bob$/m);
  assert.match(mail.body, /^Path: +\/in\/a\.csv$/m);
  assert.match(mail.body, /^Error: +No space left on device$/m);
  assert.doesNotMatch(mail.body, /^Size:/m, 'empty fields are left out');
});

test('a burst of 20 alerts within the window becomes two mails: the first at once, then one digest of 19', async (t) => {
  const smtp = await startSmtpReceiver();
  t.after(() => smtp.close());
  const runner = createEmailRunner({ smtp: smtpTo(smtp.port), log, digestWindowMs: 700 });
  t.after(() => runner.close());
  const action: EmailAction = { kind: 'email', to: ['ops@example.com'], subject: 'failed login {{user}}' };
  const rule = ruleOf('logins', [action]);
  const started = Date.now();
  const first = await runner.run(action, deliveryOf(rule, { user: 'u0' }), contextOf(rule));
  assert.equal(first.ok, true);
  assert.equal(smtp.mails.length, 1, 'the first alert is not delayed');
  const rest = Array.from({ length: 19 }, (_, i) =>
    runner.run(action, deliveryOf(rule, { user: `u${i + 1}` }), contextOf(rule)),
  );
  // Another alert (other recipients) is not folded into this burst.
  const other: EmailAction = { ...action, to: ['security@example.com'] };
  assert.equal((await runner.run(other, deliveryOf(rule, { user: 'x' }, 1), contextOf(rule))).ok, true);
  assert.equal(smtp.mails.length, 2);
  const outcomes = await Promise.all(rest);
  assert.ok(
    Date.now() - started >= 650,
    'collected deliveries are acknowledged only once the digest went out',
  );
  assert.ok(outcomes.every((o) => o.ok && o.responseCode === 250));
  assert.equal(smtp.mails.length, 3, 'one digest for the 19 collected alerts');
  const digest = smtp.mails[2]!;
  assert.deepEqual(digest.to, ['ops@example.com']);
  assert.match(digest.headers.get('subject') ?? '', /digest: 19 more events of rule logins/);
  for (let i = 1; i <= 19; i++) assert.match(digest.body, new RegExp(`: failed login u${i}\\n`));
});

test('collected alerts are sent when the runner closes, and a refused recipient is a permanent failure', async (t) => {
  const smtp = await startSmtpReceiver({
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('nobody')) {
        const err = new Error('no such mailbox') as Error & { responseCode: number };
        err.responseCode = 550;
        callback(err);
      } else callback();
    },
  });
  t.after(() => smtp.close());
  const runner = createEmailRunner({ smtp: smtpTo(smtp.port), log, digestWindowMs: 60_000 });
  const action: EmailAction = { kind: 'email', to: ['ops@example.com'] };
  const rule = ruleOf('r', [action]);
  await runner.run(action, deliveryOf(rule, { user: 'a' }), contextOf(rule));
  const waiting = runner.run(action, deliveryOf(rule, { user: 'b' }), contextOf(rule));
  await runner.close();
  assert.equal((await waiting).ok, true);
  assert.equal(smtp.mails.length, 2, 'the digest went out at close, not a minute later');

  const refusing = createEmailRunner({ smtp: smtpTo(smtp.port), log });
  t.after(() => refusing.close());
  const bad: EmailAction = { kind: 'email', to: ['nobody@example.com'] };
  const outcome = await refusing.run(bad, deliveryOf(rule, {}), contextOf(rule));
  assert.equal(outcome.ok, false);
  assert.equal(outcome.responseCode, 550);
  assert.equal(outcome.permanent, true);
  const unset = createEmailRunner({ smtp: loadConfig({ env: {} }).smtp, log });
  const missing = await unset.run(bad, deliveryOf(rule, {}), contextOf(rule));
  assert.deepEqual([missing.ok, missing.permanent], [false, true]);
  assert.match(missing.error ?? '', /smtp\.host is not set/);
});

test('twenty alerts delivered at once (concurrent worker slots) also make two mails', async (t) => {
  const smtp = await startSmtpReceiver();
  t.after(() => smtp.close());
  const runner = createEmailRunner({ smtp: smtpTo(smtp.port), log, digestWindowMs: 500 });
  t.after(() => runner.close());
  const action: EmailAction = { kind: 'email', to: ['ops@example.com'], subject: 'upload {{path}}' };
  const rule = ruleOf('uploads', [action]);
  const outcomes = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      runner.run(action, deliveryOf(rule, { path: `/in/${i}.csv` }), contextOf(rule)),
    ),
  );
  assert.ok(outcomes.every((o) => o.ok));
  assert.equal(smtp.mails.length, 2);
  assert.equal(smtp.mails[0]?.headers.get('subject'), 'upload /in/0.csv');
  assert.match(smtp.mails[1]?.headers.get('subject') ?? '', /digest: 19 more events of rule uploads/);
});

test('a failed first mail opens no window: its retry goes out at once', async (t) => {
  let refuse = true;
  const smtp = await startSmtpReceiver({
    onMailFrom(_address, _session, callback) {
      if (refuse) {
        const err = new Error('try later') as Error & { responseCode: number };
        err.responseCode = 451;
        callback(err);
      } else callback();
    },
  });
  t.after(() => smtp.close());
  const runner = createEmailRunner({ smtp: smtpTo(smtp.port), log, digestWindowMs: 60_000 });
  t.after(() => runner.close());
  const action: EmailAction = { kind: 'email', to: ['ops@example.com'] };
  const rule = ruleOf('r', [action]);
  const delivery = deliveryOf(rule, { user: 'a' });
  const failed = await runner.run(action, delivery, contextOf(rule));
  assert.deepEqual([failed.ok, failed.responseCode, failed.permanent], [false, 451, undefined]);
  refuse = false;
  const retried = await runner.run(action, delivery, contextOf(rule));
  assert.equal(retried.ok, true);
  assert.equal(smtp.mails.length, 1);
});

test('a collected alert whose worker stops is not acknowledged: it fails, to be delivered again', async (t) => {
  const smtp = await startSmtpReceiver();
  t.after(() => smtp.close());
  const runner = createEmailRunner({ smtp: smtpTo(smtp.port), log, digestWindowMs: 60_000 });
  t.after(() => runner.close());
  const action: EmailAction = { kind: 'email', to: ['ops@example.com'] };
  const rule = ruleOf('r', [action]);
  await runner.run(action, deliveryOf(rule, { user: 'a' }), contextOf(rule));
  const stopping = new AbortController();
  const waiting = runner.run(action, deliveryOf(rule, { user: 'b' }), contextOf(rule, stopping.signal));
  stopping.abort();
  const outcome = await waiting;
  assert.deepEqual([outcome.ok, outcome.permanent], [false, undefined]);
  assert.match(outcome.error ?? '', /delivered again later/);
  await runner.close();
  assert.equal(smtp.mails.length, 1, 'no digest is sent for it: its retry carries it');
});

test('mails share pooled SMTP connections: sequential ones reuse one, concurrent ones open at most the bound, and an idle one is closed', async (t) => {
  let connects = 0;
  let open = 0;
  let mostOpen = 0;
  const smtp = await startSmtpReceiver({
    onConnect(_session, callback) {
      connects++;
      mostOpen = Math.max(mostOpen, ++open);
      callback();
    },
    onClose() {
      open--;
    },
  });
  t.after(() => smtp.close());
  const runner = createEmailRunner({ smtp: smtpTo(smtp.port), log, idleCloseMs: 400 });
  t.after(() => runner.close());
  const rule = ruleOf('alerts', [{ kind: 'email', to: ['ops@example.com'] }]);
  // Other recipients every time: each is its own alert, sent at once (no digest folds them).
  const mailTo = (i: number) => {
    const action: EmailAction = { kind: 'email', to: [`ops${i}@example.com`] };
    return runner.run(action, deliveryOf(rule, { user: `u${i}` }), contextOf(rule));
  };
  for (let i = 0; i < 10; i++) assert.equal((await mailTo(i)).ok, true);
  assert.equal(smtp.mails.length, 10);
  assert.equal(connects, 1, 'ten mails one after another went over one connection');

  const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => mailTo(100 + i)));
  assert.ok(outcomes.every((o) => o.ok));
  assert.equal(smtp.mails.length, 22);
  assert.ok(
    mostOpen <= SMTP_MAX_CONNECTIONS,
    `at most ${SMTP_MAX_CONNECTIONS} connections at once, saw ${mostOpen}`,
  );
  assert.ok(connects <= SMTP_MAX_CONNECTIONS, `twelve concurrent mails opened ${connects} connections`);

  // Idle connections are closed by Ferry (polled: no timing assertion, only that it happens).
  const until = Date.now() + 10_000;
  while (open > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(open, 0, 'idle pooled connections were closed');
  const before = connects;
  assert.equal((await mailTo(999)).ok, true, 'a mail after the idle close opens a connection again');
  assert.equal(connects, before + 1);
});

test('a digest whose window ends amid client transfers waits for them to pause, at most the yield', async (t) => {
  const smtp = await startSmtpReceiver();
  t.after(() => smtp.close());
  const transfers = new ActiveTransfers();
  const runner = createEmailRunner({
    smtp: smtpTo(smtp.port),
    log,
    digestWindowMs: 300,
    transfersPaused: () => transfersPaused(transfers, 1500),
  });
  t.after(() => runner.close());
  const action: EmailAction = { kind: 'email', to: ['ops@example.com'] };
  const rule = ruleOf('arrivals', [action]);
  assert.equal((await runner.run(action, deliveryOf(rule, { user: 'u0' }), contextOf(rule))).ok, true);
  const started = Date.now();
  const collected = [1, 2, 3].map((i) =>
    runner.run(action, deliveryOf(rule, { user: `u${i}` }), contextOf(rule)),
  );
  // A client's file is open when the window ends, and stays open past it.
  const closeFile = transfers.opened();
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(smtp.mails.length, 1, 'no digest while a transfer goes on');
  // An alert arriving meanwhile joins the waiting digest.
  collected.push(runner.run(action, deliveryOf(rule, { user: 'u4' }), contextOf(rule)));
  closeFile();
  const outcomes = await Promise.all(collected);
  const waited = Date.now() - started;
  assert.ok(outcomes.every((o) => o.ok));
  assert.equal(smtp.mails.length, 2, 'one digest once the transfers paused');
  assert.match(smtp.mails[1]!.headers.get('subject') ?? '', /digest: 4 more events/);
  // Sent within the quiet interval (250 ms) and a recheck (100 ms) after the file closed, not at the yield's end.
  assert.ok(waited >= 700 + 250 && waited < 1400, `digest after ${waited} ms`);

  // Transfers that never pause hold the next window's digest for the yield (1.5 s) only.
  const busy = transfers.opened();
  t.after(busy);
  const held = Date.now();
  const next = await runner.run(action, deliveryOf(rule, { user: 'u5' }), contextOf(rule));
  assert.equal(next.ok, true);
  assert.equal(smtp.mails.length, 3);
  const heldMs = Date.now() - held;
  assert.ok(heldMs >= 1400, `digest held ${heldMs} ms by the transfers`);
});
