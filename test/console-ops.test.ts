// The console's partners and jobs pages over plain HTTP, as a browser without JavaScript uses them, against a
// real server whose own SFTP port is the partner: add a partner and trust its host key in the dialog (both
// fingerprints shown), page through partners, define and run a push job and read its history down to each file.
// Roles, CSRF, HTML escaping and sessions on these pages: console-ops-guards.test.ts. Rules and deliveries:
// console-rules.test.ts.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { assertNoInlineCode, csrfOf, type Page } from './helpers/console-http.js';
import { type OpsFixture, said, startOpsFixture } from './helpers/console-ops-fixture.js';
import type { TestServer } from './helpers/server.js';

let fx: OpsFixture;
let server: TestServer;
let work: string;
let outbox: string;
const olga = () => fx.signedIn('olga');

/** What the dialog's "Trust this key" button would pin: its hidden fields. */
function confirmed(page: Page): { algorithm: string; sha256: string } {
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page.text)?.[1] ?? '';
  return { algorithm: field('algorithm'), sha256: field('sha256') };
}

/** The SFTP host key the server presents, as the API's store pins it ("ALG SHA256:..."). */
async function hostKeyOfServer(): Promise<string> {
  const reply = await server.running.context.admin.partners.presentedHostKey('self');
  return `${reply.algorithm} ${reply.sha256}`;
}

before(async () => {
  fx = await startOpsFixture();
  ({ server, work, outbox } = fx);
});

after(async () => {
  await fx?.close();
});

describe('console: partners and jobs', () => {
  test('an operator adds a partner and trusts its host key in the dialog that shows both fingerprints', async () => {
    const b = await olga();
    const list = await b.get('/console/partners');
    assert.equal(list.status, 200);
    assertNoInlineCode(list);
    assert.match(list.text, /No partners yet/);
    assert.match(list.text, /<label for="host">Host/);
    const dialog = await b.submit('/console/partners', {
      _csrf: csrfOf(list),
      name: 'self',
      protocol: 'sftp',
      host: '127.0.0.1',
      port: String(server.port),
      user: 'dave',
      password: 'dave-password-1',
      algorithms: 'modern',
      renameUploads: 'on',
    });
    assert.equal(dialog.status, 200, dialog.text);
    assertNoInlineCode(dialog);
    assert.match(said(dialog), /Added partner self/);
    const presented = await hostKeyOfServer();
    // Both fingerprints: the one the server presents now, and the stored one (none yet).
    assert.match(dialog.text, /<dialog open class="modal"/);
    assert.ok(dialog.text.includes(`<dd id="fp-presented"><code>${presented}</code>`), dialog.text);
    assert.match(dialog.text, /<dd id="fp-stored"><span class="badge off">none: never trusted/);
    assert.equal(
      (await server.running.context.admin.partners.get('self')).hostKeySha256,
      null,
      'nothing is trusted before the confirm button',
    );
    const [algorithm, sha256] = presented.split(' ') as [string, string];
    // The confirm button posts the key the dialog showed, not one fetched again later.
    assert.deepEqual(confirmed(dialog), { algorithm, sha256 });
    const trusted = await b.submit('/console/partners/self/trust', {
      _csrf: csrfOf(dialog),
      ...confirmed(dialog),
    });
    assert.equal(said(trusted), `Trusted ${presented} for self.`);
    assert.equal((await server.running.context.admin.partners.get('self')).hostKeySha256, sha256);

    // A stale pin: the dialog shows both, different, and says the key changed; confirming pins the new one.
    await server.running.context.admin.partners.trust(cliActor(), {
      name: 'self',
      algorithm,
      sha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    const changed = await b.get('/console/partners/self/hostkey');
    assert.ok(changed.text.includes(`<dd id="fp-presented"><code>${presented}</code>`));
    assert.ok(
      changed.text.includes(
        `<dd id="fp-stored"><code>${algorithm} SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</code>`,
      ),
    );
    assert.match(changed.text, /The key has CHANGED/);
    assert.deepEqual(confirmed(changed), { algorithm, sha256 }, 'the key presented now, not the stored one');
    await b.submit('/console/partners/self/trust', { _csrf: csrfOf(changed), ...confirmed(changed) });
    const same = await b.get('/console/partners/self/hostkey');
    assert.match(same.text, /presents the key you trust/);
    assert.doesNotMatch(same.text, /Trust this key/, 'nothing to confirm when the key is the trusted one');

    // Edit: the form carries every field; the same address keeps the pin.
    const edit = await b.get('/console/partners/self');
    assertNoInlineCode(edit);
    assert.match(edit.text, /id="host" name="host" type="text" value="127.0.0.1"/);
    const saved = await b.submit('/console/partners/self', {
      _csrf: csrfOf(edit),
      protocol: 'sftp',
      host: '127.0.0.1',
      port: String(server.port),
      user: 'dave',
      algorithms: 'modern',
      renameUploads: 'on',
      readBack: 'on',
    });
    assert.equal(said(saved), 'Saved self.');
    const after = await server.running.context.admin.partners.get('self');
    assert.deepEqual(
      [after.readBack, after.hostKeySha256, after.passwordSealed !== null],
      [true, sha256, true],
    );
    const refused = await b.submit('/console/partners/self', {
      _csrf: csrfOf(edit),
      host: '127.0.0.1',
      user: 'dave',
      port: '99999',
    });
    assert.match(said(refused), /port/i);
    assert.equal(
      (await server.running.context.admin.partners.get('self')).port,
      server.port,
      'nothing changed',
    );
  });

  test('partners page through the API cursor; a refused form comes back filled in, with the reason', async () => {
    const partners = server.running.context.admin.partners;
    for (let i = 0; i < 50; i++)
      await partners.add(cliActor(), {
        name: `p${String(i).padStart(2, '0')}`,
        host: 'h.example',
        user: 'u',
        password: new Secret('x'),
      });
    const b = await olga();
    const first = await b.get('/console/partners');
    assert.equal([...first.text.matchAll(/<td class="name">/g)].length, 50);
    const next = /<a href="(\/console\/partners\?sort=name&amp;cursor=[^"]+)" rel="next">Next page/.exec(
      first.text,
    );
    assert.ok(next, 'a next page link');
    const second = await b.get(next[1]!.replaceAll('&amp;', '&'));
    assert.equal([...second.text.matchAll(/<td class="name">/g)].length, 1);
    assert.match(second.text, /<a href="\/console\/partners\/self">self<\/a>/);
    assert.match(second.text, /First page/);
    assert.doesNotMatch(second.text, /rel="next"/);

    const bad = await b.request('POST', '/console/partners', {
      _csrf: csrfOf(first),
      name: 'half',
      host: 'sftp.example',
      user: 'x',
      port: 'twenty-two',
      password: 'never-shown-again',
    });
    assert.equal(bad.status, 400);
    assert.match(said(bad), /port/);
    assert.match(bad.text, /<details class="create" open>/);
    assert.match(bad.text, /id="host" name="host" type="text" value="sftp.example"/);
    assert.doesNotMatch(bad.text, /never-shown-again/);
    await assert.rejects(partners.get('half'));
    for (let i = 0; i < 50; i++) await partners.remove(cliActor(), `p${String(i).padStart(2, '0')}`);
  });

  test('an operator defines a push job, runs it now, and reads the run with its per-file result in the history', async () => {
    const b = await olga();
    const list = await b.get('/console/jobs');
    assertNoInlineCode(list);
    assert.match(list.text, /No jobs yet/);
    assert.match(list.text, /<option value="self">self<\/option>/, 'partners offered by name');
    const defined = await b.submit('/console/jobs', {
      _csrf: csrfOf(list),
      name: 'push-invoices',
      partner: 'self',
      direction: 'push',
      remoteDir: '/',
      localDir: outbox,
      pattern: '*.csv',
      retries: '0',
    });
    assert.equal(said(defined), 'Defined job push-invoices.');
    assert.match(defined.text, /This job has not run yet/);
    const ran = await b.submit('/console/jobs/push-invoices/run', { _csrf: csrfOf(defined), back: 'job' });
    assertNoInlineCode(ran);
    const m = /Run (\d+) of push-invoices succeeded: 1 file, 15 bytes\./.exec(said(ran));
    assert.ok(m, said(ran));
    assert.equal(
      await readFile(join(await server.homeOf('dave'), 'invoice.csv'), 'utf8'),
      'id,amount\n1,42\n',
    );
    assert.match(ran.text, new RegExp(`<a href="/console/jobs/push-invoices/runs/${m[1]}">#${m[1]}</a>`));
    const run = await b.get(`/console/jobs/push-invoices/runs/${m[1]}`);
    assertNoInlineCode(run);
    assert.match(run.text, /<td class="name">invoice\.csv<\/td><td>15<\/td>/);
    assert.match(run.text, /<span class="badge on">ok<\/span>/);

    // A run that fails shows its error in the history and on the run's page.
    const failing = await b.submit('/console/jobs', {
      _csrf: csrfOf(list),
      name: 'pull-missing',
      partner: 'self',
      direction: 'pull',
      remoteDir: '/no-such-folder',
      localDir: join(work, 'in'),
      retries: '0',
    });
    assert.equal(said(failing), 'Defined job pull-missing.');
    const failed = await b.submit('/console/jobs/pull-missing/run', { _csrf: csrfOf(failing), back: 'job' });
    const f = /Run (\d+) of pull-missing failed: (.+)/.exec(said(failed));
    assert.ok(f, said(failed));
    assert.match(failed.text, /<tr class="bad">/);
    const failedRun = await b.get(`/console/jobs/pull-missing/runs/${f[1]}`);
    assert.ok(failedRun.text.includes(`<p class="error run-error" role="alert">${f[2]}</p>`), failedRun.text);
    assert.match(failedRun.text, /No file was transferred in this run/);

    // Change the schedule; remove the failing job with its confirmation form.
    const job = await b.get('/console/jobs/pull-missing');
    const changed = await b.submit('/console/jobs/pull-missing', {
      _csrf: csrfOf(job),
      schedule: '0 3 * * *',
      retries: '2',
      backoff: '5',
    });
    assert.equal(said(changed), 'Saved pull-missing.');
    const stored = await server.running.context.admin.jobs.get('pull-missing');
    assert.deepEqual(
      [stored.schedule, stored.retries, stored.backoffMs, stored.enabled],
      ['0 3 * * *', 2, 5000, false],
    );
    assert.match(job.text, /class="confirm" data-confirm="Remove job pull-missing with its history\?"/);
    const removed = await b.submit('/console/jobs/pull-missing/remove', { _csrf: csrfOf(job) });
    assert.equal(said(removed), 'Removed job pull-missing.');
    await assert.rejects(server.running.context.admin.jobs.get('pull-missing'));
  });
});
