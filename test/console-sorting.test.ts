// The console's list tables sort on the server: each sortable column title is a link (keyboard reachable, with
// aria-sort) that asks the REST API for that order and keeps the page's filters; clicking it again reverses it.
// And a web client sign-in appears on the sessions page, where ending it signs the browser out.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { assertNoInlineCode, csrfOf, type Page } from './helpers/console-http.js';
import { type OpsFixture, said, startOpsFixture } from './helpers/console-ops-fixture.js';
import { WebClient } from './helpers/web-client.js';

let fx: OpsFixture;

before(async () => {
  fx = await startOpsFixture();
  for (const name of ['zed', 'abe', 'eve', 'lee'])
    await fx.server.addUser(name, { password: `${name}-pw-12345` });
});

after(async () => {
  await fx?.close();
});

/** A header cell: its aria-sort and its link (HTML entities undone, as a browser follows it). */
function header(page: Page, label: string): { ariaSort: string; href: string } {
  const cell = new RegExp(
    `<th scope="col" aria-sort="(\\w+)"><a class="sort" href="([^"]+)"[^>]*>${label}<`,
  ).exec(page.text);
  assert.ok(cell, `a sortable "${label}" header`);
  return { ariaSort: cell[1]!, href: cell[2]!.replaceAll('&amp;', '&') };
}

const userNames = (page: Page) =>
  [...page.text.matchAll(/<td class="name"><a href="\/console\/users\/[^"]+">([^<]+)<\/a>/g)].map(
    (m) => m[1],
  );

describe('console: sortable tables', () => {
  test('the users table sorts by name both ways from its header link, keeping the search', async () => {
    const b = await fx.signedIn('ada');
    const first = await b.get('/console/users?search=e');
    assert.equal(first.status, 200);
    assertNoInlineCode(first);
    assert.deepEqual(userNames(first), ['abe', 'dave', 'eve', 'lee', 'zed']);
    const name = header(first, 'Name');
    assert.equal(name.ariaSort, 'ascending');
    assert.equal(name.href, '/console/users?search=e&sort=-name');
    assert.equal(header(first, 'Created').ariaSort, 'none');
    assert.doesNotMatch(
      first.text,
      /<th scope="col" aria-sort="\w+"><a class="sort"[^>]*>Folders/,
      'not sortable',
    );

    const reversed = await b.get(name.href);
    assert.equal(reversed.status, 200);
    assert.deepEqual(userNames(reversed), ['zed', 'lee', 'eve', 'dave', 'abe']);
    assert.equal(header(reversed, 'Name').ariaSort, 'descending');
    assert.equal(header(reversed, 'Name').href, '/console/users?search=e&sort=name');
    assert.match(
      reversed.text,
      /<input type="hidden" name="sort" value="-name">/,
      'a new search keeps the order',
    );

    const byChange = await b.get(header(reversed, 'Changed').href);
    assert.equal(header(byChange, 'Changed').ariaSort, 'ascending');
    assert.equal(header(byChange, 'Name').ariaSort, 'none');

    // Hostile search and sort texts come back escaped, in the links and the form, never as markup.
    const hostile = await b.get(
      `/console/users?search=${encodeURIComponent('"><script>alert(1)</script>')}&sort=${encodeURIComponent('"><img src=x>')}`,
    );
    assertNoInlineCode(hostile);
    assert.doesNotMatch(hostile.text, /<script>alert|<img src=x>/);
    assert.match(hostile.text, /&quot;&gt;&lt;img src=x&gt;/, 'the sort shown as text in the API problem');

    // An order the API does not know: its one-line problem on the page, and no table.
    const bad = await b.get('/console/users?sort=password');
    assert.equal(bad.status, 200);
    assert.match(
      bad.text,
      /role="alert">sort: must be one of name, -name, created, -created, updated, -updated/,
    );
    assert.doesNotMatch(bad.text, /<table/);
  });

  test('audit, sessions, partners, jobs and deliveries have sortable headers that keep their filters', async () => {
    const b = await fx.signedIn('ada');
    // Some audit records of this test: user changes by the API.
    const audit = await b.get('/console/audit?action=admin');
    assertNoInlineCode(audit);
    const time = header(audit, 'Time \\(UTC\\)');
    assert.equal(time.ariaSort, 'descending', 'newest first by default');
    assert.equal(time.href, '/console/audit?action=admin&sort=seq');
    const seqs = (page: Page) =>
      [...page.text.matchAll(/<tr class="[^"]*"><td>(\d+)<\/td>/g)].map((m) => Number(m[1]));
    const newest = seqs(audit);
    assert.ok(newest.length >= 2, audit.text);
    assert.deepEqual(
      newest,
      [...newest].sort((x, y) => y - x),
    );
    const oldest = await b.get(time.href);
    assert.equal(header(oldest, 'Time \\(UTC\\)').ariaSort, 'ascending');
    assert.deepEqual(seqs(oldest), [...newest].reverse());

    for (const [path, label, state] of [
      ['/console/sessions', 'Since \\(UTC\\)', 'ascending'],
      ['/console/deliveries?status=dead', 'Created \\(UTC\\)', 'descending'],
    ] as const) {
      // Empty lists show no table; the headers are checked with rows below (sessions) or by the API tests.
      const page = await b.get(path);
      assert.equal(page.status, 200, path);
      assertNoInlineCode(page);
      if (page.text.includes('<table')) assert.equal(header(page, label).ariaSort, state, path);
    }
    // Partners and jobs, made through the REST API: their address and transfer columns sort.
    const key = (
      await fx.server.running.context.admin.apiAccess.addKey(cliActor(), { name: 'sorting', role: 'admin' })
    ).key.reveal();
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${fx.base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(r.status, 201, await r.text());
    };
    for (const [name, host] of [
      ['p-one', 'c.example'],
      ['p-two', 'a.example'],
      ['p-three', 'b.example'],
    ])
      await post('/api/partners', { name, host, user: 'ferry', password: 'remote-pw' });
    for (const [name, partner] of [
      ['j-a', 'p-two'],
      ['j-b', 'p-one'],
    ])
      await post('/api/jobs', { name, partner, direction: 'push', remoteDir: '/in', localDir: fx.outbox });
    const partners = await b.get('/console/partners');
    assertNoInlineCode(partners);
    const byHost = await b.get(header(partners, 'Address').href);
    assert.equal(header(byHost, 'Address').ariaSort, 'ascending');
    const partnerNames = (p: Page) =>
      [...p.text.matchAll(/href="\/console\/partners\/(p-\w+)\/hostkey"/g)].map((m) => m[1]);
    assert.deepEqual(partnerNames(byHost), ['p-two', 'p-three', 'p-one']);
    const jobs = await b.get('/console/jobs?sort=-name');
    assertNoInlineCode(jobs);
    const jobNames = (p: Page) =>
      [...p.text.matchAll(/<td class="name"><a href="\/console\/jobs\/(j-\w+)">/g)].map((m) => m[1]);
    assert.deepEqual(jobNames(jobs), ['j-b', 'j-a']);
    assert.equal(header(jobs, 'Name').ariaSort, 'descending');
    const byPartner = await b.get(header(jobs, 'Transfer').href);
    assert.deepEqual(jobNames(byPartner), ['j-b', 'j-a'], 'p-one before p-two');
    assert.deepEqual(jobNames(await b.get(header(byPartner, 'Transfer').href)), ['j-a', 'j-b']);

    const bad = await b.get('/console/deliveries?status=dead&sort=rule');
    assert.match(bad.text, /role="alert">sort: must be one of created, -created/);
  });

  test('a web client sign-in is on the sessions page, sorts by user, and ending it signs the browser out', async () => {
    const webs: WebClient[] = [];
    for (const name of ['zed', 'abe']) {
      const web = new WebClient(fx.base);
      assert.equal((await web.login(name, `${name}-pw-12345`)).status, 303);
      webs.push(web);
    }
    const b = await fx.signedIn('olga');
    const page = await b.get('/console/sessions');
    assertNoInlineCode(page);
    const rowsOf = (p: Page) =>
      [...p.text.matchAll(/<tr><td>(\w+)<\/td><td>[^<]*<\/td><td>(\w+)<\/td>/g)].map(
        (m) => `${m[1]} ${m[2]}`,
      );
    assert.deepEqual(rowsOf(page), ['zed https', 'abe https'], 'oldest first');
    const byUser = await b.get(header(page, 'User').href);
    assert.equal(header(byUser, 'User').ariaSort, 'ascending');
    assert.deepEqual(rowsOf(byUser), ['abe https', 'zed https']);

    const action =
      /<form method="post" action="(\/console\/sessions\/web-[^/]+\/kill)"[^>]*data-confirm="End zed session/.exec(
        byUser.text,
      )?.[1];
    assert.ok(action, 'an End button for the web session');
    const ended = await b.submit(action, { _csrf: csrfOf(byUser) });
    assert.match(said(ended), /Ended the session of zed/);
    assert.deepEqual(rowsOf(ended), ['abe https']);
    const [zed, abe] = webs;
    assert.equal((await zed!.request('GET', '/files/')).headers.get('location'), '/files/login');
    assert.equal((await abe!.request('GET', '/files/')).status, 200, 'the other web session goes on');
  });
});
