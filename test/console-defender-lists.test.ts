// The console's defender lists page over plain HTTP against a real server: an operator puts an address on the deny
// list and a real OpenSSH login from it is refused, then takes it off and the login works; the API's own refusals
// (locking oneself out, a bad CIDR) reach the page as one line and change nothing; an auditor reads the lists with
// no forms; a post without its CSRF field changes nothing; notes are shown escaped; no inline code.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertNoInlineCode, changeForms, csrfOf } from './helpers/console-http.js';
import { type OpsFixture, said, startOpsFixture, XSS } from './helpers/console-ops-fixture.js';
import { sftpBatch } from './helpers/openssh.js';

let fx: OpsFixture;
before(async () => {
  fx = await startOpsFixture();
});
after(async () => {
  await fx?.close();
});

const stored = async () =>
  (await fx.server.running.context.store.defenderLists.list()).map((e) => `${e.list} ${e.cidr}`);
/** An OpenSSH login as dave from `source` (a loopback address of this machine). */
const loginFrom = (source: string) =>
  sftpBatch({
    port: fx.server.port,
    user: 'dave',
    password: 'dave-password-1',
    batch: 'pwd\n',
    options: [`BindAddress=${source}`],
  });

test('an operator denies an address and a real login from it is refused; removing it lets it in again', async () => {
  const olga = await fx.signedIn('olga');
  const page = await olga.request('GET', '/console/defender/lists');
  assert.equal(page.status, 200);
  assertNoInlineCode(page);
  assert.match(page.text, /The deny list is empty\./);
  assert.equal((await loginFrom('127.0.0.3')).code, 0, 'allowed before');

  const added = await olga.submit('/console/defender/lists/deny', {
    _csrf: csrfOf(page),
    cidr: '127.0.0.3',
    note: XSS,
  });
  assert.equal(said(added), 'Added 127.0.0.3 to the deny list.');
  assert.ok(added.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the note is shown escaped');
  assert.ok(!added.text.includes(XSS));
  assertNoInlineCode(added);
  assert.deepEqual(await stored(), ['deny 127.0.0.3']);
  const refused = await loginFrom('127.0.0.3');
  assert.notEqual(refused.code, 0, 'denied address refused');
  assert.equal((await loginFrom('127.0.0.4')).code, 0, 'another address still logs in');

  const removed = await olga.submit('/console/defender/lists/deny/127.0.0.3/remove', {
    _csrf: csrfOf(added),
  });
  assert.equal(said(removed), 'Took 127.0.0.3 off the deny list.');
  assert.deepEqual(await stored(), []);
  assert.equal((await loginFrom('127.0.0.3')).code, 0, 'allowed again');
});

test("the API's refusals reach the page as one line and change nothing", async () => {
  const ada = await fx.signedIn('ada');
  const page = await ada.request('GET', '/console/defender/lists');
  // The browser comes from 127.0.0.1: denying its own network would lock the admin out.
  const self = await ada.submit('/console/defender/lists/deny', { _csrf: csrfOf(page), cidr: '127.0.0.0/8' });
  assert.match(said(self), /lock you out/);
  const bad = await ada.submit('/console/defender/lists/allow', {
    _csrf: csrfOf(page),
    cidr: '300.1.2.3/99',
  });
  assert.notEqual(said(bad), '');
  assert.doesNotMatch(said(bad), /^Added/);
  const forged = await ada.request('POST', '/console/defender/lists/allow', { cidr: '203.0.113.9' });
  assert.notEqual(forged.status, 200);
  assert.deepEqual(await stored(), [], 'nothing stored');
});

test('an auditor reads both lists and is offered no form; a post from an auditor changes nothing', async () => {
  const audrey = await fx.signedIn('audrey');
  const page = await audrey.request('GET', '/console/defender/lists');
  assert.equal(page.status, 200);
  assert.match(page.text, /<h2 id="allow-title">Allow list<\/h2>/);
  assert.match(page.text, /The deny list is empty\./);
  assert.deepEqual(changeForms(page), []);
  const tried = await audrey.submit('/console/defender/lists/deny', {
    _csrf: csrfOf(page),
    cidr: '198.51.100.7',
  });
  assert.match(said(tried), /may not/);
  assert.deepEqual(await stored(), []);
});
