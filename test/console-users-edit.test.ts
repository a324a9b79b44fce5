// The console's user page (/console/users/{name}) over plain HTTP, as a browser without JavaScript uses it: the
// folder permissions editor makes /in upload-only and a real OpenSSH sftp login feels it; keys are added and
// removed; access, limits and groups saved; CSRF, roles and HTML escaping checked like an attacker.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { assertNoInlineCode, changeForms, csrfOf, type Page } from './helpers/console-http.js';
import { type OpsFixture, said, startOpsFixture, XSS } from './helpers/console-ops-fixture.js';
import { makeClientKey, sftpBatch } from './helpers/openssh.js';

let fx: OpsFixture;
let local: string;
const USER = 'erin';
const PASSWORD = 'erin-password-1';
const show = (name = USER) => fx.server.running.context.admin.users.show(name);

/**
 * The fields a browser would send for the page's form posting to `action`: hidden and text inputs with their
 * values, ticked checkboxes as "on", textareas with their text.
 */
function formFields(page: Page, action: string): Record<string, string> {
  const start = page.text.indexOf(`action="${action}"`);
  assert.ok(start >= 0, `a form posting to ${action}`);
  const form = page.text.slice(start, page.text.indexOf('</form>', start));
  const fields: Record<string, string> = {};
  for (const [tag] of form.matchAll(/<input\b[^>]*>/g)) {
    const name = /\sname="([^"]*)"/.exec(tag)?.[1];
    if (name === undefined) continue;
    const type = /\stype="([^"]*)"/.exec(tag)?.[1] ?? 'text';
    if (type === 'checkbox') {
      if (/\schecked\b/.test(tag)) fields[name] = 'on';
    } else fields[name] = /\svalue="([^"]*)"/.exec(tag)?.[1] ?? '';
  }
  for (const m of form.matchAll(/<textarea\b[^>]*\sname="([^"]*)"[^>]*>([^<]*)<\/textarea>/g))
    fields[m[1]!] = m[2]!;
  // A select sends its selected option (the first when none is marked).
  for (const m of form.matchAll(/<select\b[^>]*\sname="([^"]*)"[^>]*>([\s\S]*?)<\/select>/g)) {
    const options = [...m[2]!.matchAll(/<option value="([^"]*)"([^>]*)>/g)];
    fields[m[1]!] = (options.find((o) => /\sselected\b/.test(o[2]!)) ?? options[0])?.[1] ?? '';
  }
  // The page escapes values; the browser sends them unescaped.
  for (const k of Object.keys(fields))
    fields[k] = fields[k]!.replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  return fields;
}

/** The editor's row index for a folder (its hidden path field). */
function rowOf(fields: Record<string, string>, path: string): string {
  const key = Object.keys(fields).find((k) => k.startsWith('path.') && fields[k] === path);
  assert.ok(key, `a row for ${path}`);
  return key.slice('path.'.length);
}

const PAGE = `/console/users/${USER}`;

before(async () => {
  fx = await startOpsFixture();
  local = await mkdtemp(join(tmpdir(), 'ferry-users-edit-'));
  await fx.server.addUser(USER, { password: PASSWORD });
  const home = await fx.server.homeOf(USER);
  await mkdir(join(home, 'in'), { recursive: true });
  await writeFile(join(home, 'in', 'secret.txt'), 'not for download\n');
  await writeFile(join(local, 'report.csv'), 'a,b\n1,2\n');
});

after(async () => {
  await fx?.close();
  await rm(local, { recursive: true, force: true });
});

describe('console: one user', () => {
  test('the users list links each name to its page, which shows own and effective settings with sources', async () => {
    const b = await fx.signedIn('olga');
    const list = await b.get('/console/users');
    assert.ok(list.text.includes(`<a href="${PAGE}">${USER}</a>`), list.text);
    const page = await b.get(PAGE);
    assert.equal(page.status, 200);
    assertNoInlineCode(page);
    assert.match(page.text, /<h2>Effective settings<\/h2>/);
    assert.match(page.text, /<th scope="row">Folder \/<\/th><td>\*<\/td><td>user<\/td>/);
    assert.match(page.text, /<th scope="row">Quota<\/th><td>none<\/td><td>default<\/td>/);
    for (const action of ['permissions', 'settings', 'groups', 'keys', 'password', 'disable', 'unlock'])
      assert.ok(changeForms(page).includes(`${PAGE}/${action}`), action);
    assert.ok(page.text.includes(`href="${PAGE}/totp"`));
  });

  test('the editor makes /in upload-only, and a real sftp login can upload there but not download', async () => {
    const b = await fx.signedIn('olga');
    const page = await b.get(PAGE);
    const fields = formFields(page, `${PAGE}/permissions`);
    // The empty row adds the folder.
    const row = String(Number(fields.rows) - 1);
    assert.equal(fields[`path.${row}`], '');
    const saved = await b.submit(`${PAGE}/permissions`, {
      ...fields,
      [`path.${row}`]: '/in',
      [`p.${row}.list`]: 'on',
      [`p.${row}.upload`]: 'on',
    });
    assert.match(said(saved), /Saved the folder permissions of erin/, saved.text);
    assert.deepEqual((await show()).permissions, { '/': ['*'], '/in': ['list', 'upload'] });

    // Saving the form as shown changes nothing: every ticked box is rendered back ticked.
    const again = formFields(saved, `${PAGE}/permissions`);
    const inRow = rowOf(again, '/in');
    assert.equal(again[`p.${inRow}.list`], 'on');
    assert.equal(again[`p.${inRow}.upload`], 'on');
    assert.equal(again[`p.${inRow}.download`], undefined);
    await b.submit(`${PAGE}/permissions`, again);
    assert.deepEqual((await show()).permissions, { '/': ['*'], '/in': ['list', 'upload'] });

    const up = await sftpBatch({
      port: fx.server.port,
      user: USER,
      password: PASSWORD,
      cwd: local,
      batch: 'put report.csv /in/report.csv\n',
    });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(
      await readFile(join(await fx.server.homeOf(USER), 'in', 'report.csv'), 'utf8'),
      'a,b\n1,2\n',
    );
    const down = await sftpBatch({
      port: fx.server.port,
      user: USER,
      password: PASSWORD,
      cwd: local,
      batch: 'get /in/secret.txt fetched.txt\n',
    });
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /denied/i);
    await assert.rejects(stat(join(local, 'fetched.txt')));

    // Removing the row drops the user's own entry: /in falls back to '/' (everything), and downloads work again.
    const removal = formFields(await b.get(PAGE), `${PAGE}/permissions`);
    const removed = await b.submit(`${PAGE}/permissions`, {
      ...removal,
      [`remove.${rowOf(removal, '/in')}`]: 'on',
    });
    assert.match(said(removed), /Saved/);
    assert.deepEqual((await show()).permissions, { '/': ['*'] });
  });

  test('a folder path with markup is stored as text and shown escaped; a bad folder is one line of error', async () => {
    const b = await fx.signedIn('ada');
    const fields = formFields(await b.get(PAGE), `${PAGE}/permissions`);
    const row = String(Number(fields.rows) - 1);
    const saved = await b.submit(`${PAGE}/permissions`, {
      ...fields,
      [`path.${row}`]: `/${XSS}`,
      [`p.${row}.list`]: 'on',
    });
    assert.match(said(saved), /Saved/);
    assertNoInlineCode(saved);
    assert.ok(!saved.text.includes(XSS));
    assert.ok(saved.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    const bad = await b.submit(`${PAGE}/permissions`, { ...fields, [`path.${row}`]: 'relative' });
    assert.match(said(bad), /must be absolute/);
    assert.deepEqual(Object.keys((await show()).permissions).sort(), ['/', `/${XSS}`].sort());
    const cleanup = formFields(bad, `${PAGE}/permissions`);
    await b.submit(`${PAGE}/permissions`, { ...cleanup, [`remove.${rowOf(cleanup, `/${XSS}`)}`]: 'on' });
    assert.deepEqual((await show()).permissions, { '/': ['*'] });
  });

  test('a key is added (its comment shown escaped), logs in with sftp, and is removed again', async () => {
    const b = await fx.signedIn('olga');
    const key = await makeClientKey(local, 'ed25519');
    const [type, blob] = key.publicText.trim().split(' ');
    const added = await b.submit(`${PAGE}/keys`, {
      _csrf: csrfOf(await b.get(PAGE)),
      publicKeys: `${type} ${blob} ${XSS}\n`,
    });
    assert.match(said(added), /Added 1 key\(s\) to erin/, added.text);
    assertNoInlineCode(added);
    assert.ok(!added.text.includes(XSS));
    assert.ok(added.text.includes('<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>'));
    const [stored] = (await show()).publicKeys;
    assert.ok(stored);
    const login = () =>
      sftpBatch({ port: fx.server.port, user: USER, identity: key.privatePath, batch: 'ls /\n' });
    assert.equal((await login()).code, 0);

    const removal = formFields(added, `${PAGE}/keys/remove`);
    assert.equal(removal.fingerprint, stored.fingerprint);
    assert.match(added.text, /class="confirm" data-confirm="Remove the key SHA256:/);
    const removed = await b.submit(`${PAGE}/keys/remove`, removal);
    assert.match(said(removed), /Removed the key SHA256:/);
    assert.equal((await show()).publicKeys.length, 0);
    assert.notEqual((await login()).code, 0);
  });

  test('access and limits, groups and the password are saved; bad input changes nothing', async () => {
    await fx.server.running.context.admin.groups.add(cliActor(), { name: 'partners', uploadRate: 4096 });
    const b = await fx.signedIn('olga');
    const page = await b.get(PAGE);
    const saved = await b.submit(`${PAGE}/settings`, {
      ...formFields(page, `${PAGE}/settings`),
      'protocol.sftp': 'on',
      'protocol.https': 'on',
      allowedSources: '127.0.0.0/8\n::1',
      quotaBytes: '1048576',
      quotaFiles: '10',
      downloadRate: '65536',
      expires: '2099-12-31',
      storageEncryption: 'on',
    });
    assert.match(said(saved), /Saved the access and limits of erin/, saved.text);
    const u = await show();
    assert.deepEqual(u.protocols, ['sftp', 'https']);
    assert.deepEqual(u.allowedSources, ['127.0.0.0/8', '::1']);
    assert.equal(u.quota.limitBytes, 1048576);
    assert.equal(u.quota.limitFiles, 10);
    assert.equal(u.downloadRate, 65536);
    assert.equal(u.expires, '2099-12-31');
    assert.equal(u.storageEncryption, true);
    assert.match(saved.text, /<option value="on" selected>/, 'the page shows the choice saved');

    // Saved again as shown: nothing is sent, so nothing changes (not even the record's update time).
    const unchanged = await b.submit(`${PAGE}/settings`, formFields(saved, `${PAGE}/settings`));
    assert.match(said(unchanged), /Saved/);
    assert.deepEqual(await show(), u);

    const bad = await b.submit(`${PAGE}/settings`, {
      ...formFields(saved, `${PAGE}/settings`),
      quotaBytes: 'lots',
      expires: '2099-02-30',
    });
    assert.match(said(bad), /quotaBytes/);
    assert.doesNotMatch(said(bad), /\n/);
    assert.deepEqual(await show(), u);

    const grouped = await b.submit(`${PAGE}/groups`, {
      ...formFields(bad, `${PAGE}/groups`),
      group: 'partners',
    });
    assert.match(said(grouped), /Saved the groups of erin/, grouped.text);
    // The group's upload rate now applies, and the page says where it came from.
    assert.match(
      grouped.text,
      /<th scope="row">Upload rate<\/th><td>4096 bytes\/s<\/td><td>group partners<\/td>/,
    );
    const none = await b.submit(`${PAGE}/groups`, {
      ...formFields(grouped, `${PAGE}/groups`),
      group: 'nope',
    });
    assert.match(said(none), /nope/);

    const pw = await b.submit(`${PAGE}/password`, { _csrf: csrfOf(none), password: 'erin-password-2' });
    assert.match(said(pw), /Set a new password for erin/);
    const login = (password: string) =>
      sftpBatch({ port: fx.server.port, user: USER, password, batch: 'ls /\n' });
    assert.equal((await login('erin-password-2')).code, 0);
    await b.submit(`${PAGE}/password`, { _csrf: csrfOf(pw), password: PASSWORD });

    // The page's own disable form comes back to the page.
    const disabled = await b.request('POST', `${PAGE}/disable`, formFields(pw, `${PAGE}/disable`));
    assert.equal(new URL(disabled.location, 'http://x').pathname, PAGE);
    assert.equal((await show()).disabled, true);
    await b.submit(`${PAGE}/enable`, { _csrf: csrfOf(pw), back: 'user' });
    assert.equal((await show()).disabled, false);
  });

  test('transfer quotas are saved from the access form and shown with their usage; a bad one changes nothing', async () => {
    const b = await fx.signedIn('olga');
    const page = await b.get(PAGE);
    const saved = await b.submit(`${PAGE}/settings`, {
      ...formFields(page, `${PAGE}/settings`),
      'transfer.upload': '10GiB/day',
      'transfer.total': '500MiB/month',
    });
    assert.match(said(saved), /Saved the access and limits of erin/, saved.text);
    const u = await show();
    assert.deepEqual(u.transferQuotas, {
      upload: { bytes: 10 * 1024 ** 3, period: 'day' },
      total: { bytes: 500 * 1024 ** 2, period: 'month' },
    });
    assert.match(
      saved.text,
      /<th scope="row">Transfer quota, upload<\/th><td>10 GiB\/day; 0 bytes used today \(UTC\)<\/td><td>user<\/td>/,
    );
    // Saved again as shown: nothing is sent, nothing changes.
    const unchanged = await b.submit(`${PAGE}/settings`, formFields(saved, `${PAGE}/settings`));
    assert.match(said(unchanged), /Saved/);
    assert.deepEqual(await show(), u);
    const bad = await b.submit(`${PAGE}/settings`, {
      ...formFields(saved, `${PAGE}/settings`),
      'transfer.download': 'lots/day',
    });
    assert.match(said(bad), /SIZE\/day or SIZE\/month/);
    assert.doesNotMatch(said(bad), /\n/);
    assert.deepEqual(await show(), u);
    // Emptied: none of its own.
    const cleared = await b.submit(`${PAGE}/settings`, {
      ...formFields(saved, `${PAGE}/settings`),
      'transfer.upload': '',
      'transfer.total': '',
    });
    assert.match(said(cleared), /Saved/);
    assert.deepEqual((await show()).transferQuotas, {});
  });

  test('a post without the CSRF token, or with another one, is refused and changes nothing', async () => {
    const b = await fx.signedIn('olga');
    const fields = formFields(await b.get(PAGE), `${PAGE}/permissions`);
    const row = String(Number(fields.rows) - 1);
    const before = await show();
    const forged = { ...fields, [`path.${row}`]: '/in', [`p.${row}.download`]: 'on' };
    const { _csrf: _dropped, ...withoutToken } = forged;
    for (const form of [withoutToken, { ...forged, _csrf: 'x'.repeat(43) }]) {
      const refused = await b.submit(`${PAGE}/permissions`, form);
      assert.match(said(refused), /CSRF/i, refused.text);
    }
    const keys = await b.submit(`${PAGE}/keys`, {
      publicKeys: (await makeClientKey(local, 'ecdsa')).publicText,
    });
    assert.match(said(keys), /CSRF/i);
    assert.deepEqual(await show(), before);
  });

  test('an auditor gets the API refusal and no forms; their posts are refused', async () => {
    const b = await fx.signedIn('audrey');
    const page = await b.get(PAGE);
    assert.equal(page.status, 200);
    assertNoInlineCode(page);
    assert.match(page.text, /role="alert">role auditor may not users read/, page.text);
    assert.deepEqual(changeForms(page), []);
    const before = await show();
    const refused = await b.submit(`${PAGE}/password`, { _csrf: csrfOf(page), password: 'taken-over-1' });
    assert.match(said(refused), /role auditor may not users write/);
    assert.deepEqual(await show(), before);
  });
});
