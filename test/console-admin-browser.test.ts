// The console's admin pages in a real browser (Debian's Chromium through playwright-core): an admin enrols TOTP
// by reading the secret shown next to the QR code, confirms with a current code, signs in again with password and
// code; generates a host key and retires it after a confirmation; issues an API key and uses it with curl. An
// operator adds an upload-only folder in a user's permissions editor and removes their key after a confirmation.
// No page reports a CSP violation.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { hotp, totpStep } from './helpers/rfc6238.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;
/** As in console-browser.test.ts: docs/console is rewritten only with FERRY_CONSOLE_SCREENSHOTS=1. */
const SHOT_DOCS = process.env.FERRY_CONSOLE_SCREENSHOTS === '1';
const run = promisify(execFile);

let server: TestServer;
let browser: Browser;
let work: string;
let shots = '';

before(async () => {
  if (skip) return;
  server = await startTestServer();
  await server.running.context.admin.apiAccess.addAdmin(cliActor(), {
    name: 'ada',
    role: 'admin',
    password: new Secret('ada-passphrase-1'),
  });
  work = await mkdtemp(join(tmpdir(), 'ferry-console-admin-browser-'));
  shots = SHOT_DOCS ? join(import.meta.dirname, '..', 'docs', 'console') : join(work, 'shots');
  await mkdir(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
    timeout: 30_000,
  });
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

async function newPage(violations: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  return page;
}

async function signIn(page: Page, base: string, code?: string) {
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Administrator').fill('ada');
  await page.getByLabel('Password').fill('ada-passphrase-1');
  if (code !== undefined) await page.getByLabel(/One-time code/).fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('an admin enrols TOTP from the QR page, signs in with a code, makes a host key and an API key for curl', {
  skip,
  timeout: 120_000,
}, async () => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const violations: string[] = [];
  const page = await newPage(violations);
  await signIn(page, base);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  // TOTP: the QR code is an inline SVG image; the secret beside it is what a phone would read from it.
  await page.getByRole('link', { name: 'My 2FA' }).click();
  await page.getByRole('button', { name: 'Show a new QR code' }).click();
  const qr = page.getByRole('img', { name: 'QR code of the TOTP secret for ada' });
  await qr.waitFor();
  const box = await qr.boundingBox();
  assert.ok(box && box.width >= 150, 'the QR code is drawn at a scannable size');
  await page.screenshot({ path: join(shots, 'totp.png') });
  const secret = (await page.locator('#totp-secret').textContent())?.trim() ?? '';
  assert.match(secret, /^[A-Z2-7]{32,}$/);
  await page.getByLabel('Your password').fill('ada-passphrase-1');
  await page.getByLabel('Current code from the app').fill(hotp(secret, totpStep()));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('TOTP is on for ada.').waitFor();
  assert.equal(await page.locator('ul.recovery li').count(), 10);
  const recovery = (await page.locator('ul.recovery li').first().textContent())?.trim() ?? '';

  // Enrolling ended the session: the console asks for a sign-in, and from now on for a code too.
  await page.goto(`${base}/console/`);
  await page.getByText('Your session ended; sign in again.').waitFor();
  await signIn(page, base);
  await page.getByText('wrong name, password or one-time code').waitFor();
  await signIn(page, base, hotp(secret, totpStep() + 1));
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Sign in to the Ferry console' }).waitFor();
  // The next code is one step away; a recovery code from the enrolment page works once instead.
  await signIn(page, base, recovery);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  // A host key: generated pending; retiring asks first, and a dismissed question changes nothing.
  await page.getByRole('link', { name: 'Keys', exact: true }).click();
  await page.getByText('Generate a host key').click();
  await page.getByLabel('Type').first().selectOption('ed25519');
  await page.getByRole('button', { name: 'Generate' }).first().click();
  const notice = await page.getByRole('status').textContent();
  const fingerprint = /Generated host key (SHA256:\S+) \(pending\)\./.exec(notice ?? '')?.[1];
  assert.ok(fingerprint, notice ?? '');
  const row = page.getByRole('row').filter({ hasText: fingerprint });
  await row.getByText('pending').waitFor();
  await page.screenshot({ path: join(shots, 'keys.png'), fullPage: true });
  page.once('dialog', (dialog) => dialog.dismiss());
  await row.getByRole('button', { name: 'Retire' }).click();
  await row.getByText('pending').waitFor();
  const stored = (await server.running.context.store.hostKeys.list()).find((k) => k.sha256 === fingerprint);
  assert.equal(stored?.state, 'pending', 'a dismissed confirmation retires nothing');
  page.once('dialog', (dialog) => dialog.accept());
  await row.getByRole('button', { name: 'Retire' }).click();
  await page.getByText(`Retired host key ${stored.id}.`).waitFor();

  // An API key, shown once, used by curl.
  await page.getByRole('link', { name: 'API keys', exact: true }).click();
  await page.getByText('Issue an API key').click();
  await page.getByLabel('Name').fill('ci');
  await page.getByLabel('Role').selectOption('operator');
  await page.getByRole('button', { name: 'Issue' }).click();
  const key = await page.locator('#new-key').inputValue();
  assert.match(key, /^ferry_[A-Za-z0-9_-]{43}$/);
  const { stdout } = await run('curl', [
    '-sS',
    '-f',
    '-H',
    `Authorization: Bearer ${key}`,
    `${base}/api/status`,
  ]);
  assert.equal((JSON.parse(stdout) as { store: { driver: string } }).store.driver, 'sqlite');
  await page.getByRole('link', { name: 'Back to the API keys' }).click();
  const listed = page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'ci', exact: true }) });
  // Last used: curl's request, not "never".
  assert.match((await listed.getByRole('cell').nth(5).textContent()) ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.equal(await page.getByText(key).count(), 0, 'the key is not shown again');
  await page.screenshot({ path: join(shots, 'apikeys.png') });

  await page.getByRole('link', { name: 'Admins', exact: true }).click();
  await page.getByRole('cell', { name: 'ada', exact: true }).waitFor();
  await page.screenshot({ path: join(shots, 'admins.png') });
  await page.getByRole('link', { name: 'Status', exact: true }).click();
  await page.getByText('audit trail writable').waitFor();
  await page.screenshot({ path: join(shots, 'status.png') });
  assert.deepEqual(violations, []);
});

test("an operator edits a user's folder permissions and removes a key after a confirmation", {
  skip,
  timeout: 120_000,
}, async () => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  await server.running.context.admin.apiAccess.addAdmin(cliActor(), {
    name: 'olga',
    role: 'operator',
    password: new Secret('olga-passphrase-1'),
  });
  await server.addUser('erin', { password: 'erin-password-1' });
  const key = join(work, 'erin_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'erin@laptop', '-f', key]);
  await server.running.context.admin.users.addKeys(cliActor(), 'erin', await readFile(`${key}.pub`, 'utf8'));
  const violations: string[] = [];
  const page = await newPage(violations);
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Administrator').fill('olga');
  await page.getByLabel('Password').fill('olga-passphrase-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.getByRole('link', { name: 'erin', exact: true }).click();
  await page.getByRole('heading', { name: 'User erin' }).waitFor();
  await page.getByLabel('New folder').fill('/in');
  const added = page.getByRole('row').filter({ has: page.getByLabel('New folder') });
  await added.getByLabel('list', { exact: true }).check();
  await added.getByLabel('upload', { exact: true }).check();
  await page.getByRole('button', { name: 'Save permissions' }).click();
  await page.getByText('Saved the folder permissions of erin.').waitFor();
  assert.deepEqual((await server.running.context.admin.users.show('erin')).permissions, {
    '/': ['*'],
    '/in': ['list', 'upload'],
  });
  await page.screenshot({ path: join(shots, 'user.png'), fullPage: true });

  const keyRow = page.getByRole('row').filter({ hasText: 'erin@laptop' });
  page.once('dialog', (dialog) => dialog.dismiss());
  await keyRow.getByRole('button', { name: 'Remove' }).click();
  assert.equal((await server.running.context.admin.users.show('erin')).publicKeys.length, 1);
  page.once('dialog', (dialog) => dialog.accept());
  await keyRow.getByRole('button', { name: 'Remove' }).click();
  await page.getByText(/Removed the key SHA256:\S+ of erin\./).waitFor();
  assert.equal((await server.running.context.admin.users.show('erin')).publicKeys.length, 0);
  assert.deepEqual(violations, []);
});
