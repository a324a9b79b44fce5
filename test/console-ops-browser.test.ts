// The partners and jobs pages in a real browser (Debian's Chromium through playwright-core): an operator adds a
// partner pointing at the server's own SFTP port, trusts its host key in the modal dialog that shows both
// fingerprints, defines a push job, runs it now, and reads the run with its file in the history; an admin imports
// rules whose webhooks answer (one fails), sees the deliveries of two SFTP uploads and sorts them from the keyboard,
// and adds defender list entries; no page breaks its CSP.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;
/** As console-browser.test.ts: docs/console is rewritten only when asked (FERRY_CONSOLE_SCREENSHOTS=1). */
const SHOT_DOCS = process.env.FERRY_CONSOLE_SCREENSHOTS === '1';

let server: TestServer;
let browser: Browser;
let work: string;
let shots = '';
const SECRET = 'console-browser-webhook-secret-0123456789';
/** The ERP's webhook answers; the archive's fails (its deliveries end dead). */
let erp: WebhookReceiver;
let archive: WebhookReceiver;

before(async () => {
  if (skip) return;
  server = await startTestServer();
  await server.running.context.admin.apiAccess.addAdmin(cliActor(), {
    name: 'olga',
    role: 'operator',
    password: new Secret('olga-passphrase-1'),
  });
  await server.running.context.admin.apiAccess.addAdmin(cliActor(), {
    name: 'ada',
    role: 'admin',
    password: new Secret('ada-passphrase-1'),
  });
  erp = await startWebhookReceiver(SECRET);
  archive = await startWebhookReceiver(SECRET, () => 503);
  await server.addUser('dave', { password: 'dave-password-1' });
  work = await mkdtemp(join(tmpdir(), 'ferry-console-ops-browser-'));
  shots = SHOT_DOCS ? join(import.meta.dirname, '..', 'docs', 'console') : join(work, 'shots');
  await mkdir(shots, { recursive: true });
  await mkdir(join(work, 'outbox'));
  await writeFile(join(work, 'outbox', 'orders.csv'), 'order,qty\nA-1,3\n');
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
  await erp?.close();
  await archive?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('an operator adds a partner, trusts its host key in the dialog, runs a push job and reads its history', {
  skip,
  timeout: 120_000,
}, async () => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Administrator').fill('olga');
  await page.getByLabel('Password').fill('olga-passphrase-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const nav = page.getByRole('navigation', { name: 'Console' });
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  await nav.getByRole('link', { name: 'Partners', exact: true }).click();
  await page.getByText('No partners yet').waitFor();
  await page.getByText('Add a partner').click();
  await page.getByLabel('Name', { exact: true }).fill('loopback');
  await page.getByLabel('Host', { exact: true }).fill('127.0.0.1');
  await page.getByLabel(/^Port/).fill(String(server.port));
  await page.getByLabel('User name at the partner').fill('dave');
  await page.getByLabel(/^Password/).fill('dave-password-1');
  await page.getByRole('button', { name: 'Add partner' }).click();

  // The dialog is modal, with the key the server presents now and the stored one (none yet), side by side.
  const presented = await server.running.context.admin.partners.presentedHostKey('loopback');
  const dialog = page.getByRole('dialog', { name: 'Trust the host key of loopback?' });
  await dialog.waitFor();
  assert.equal(
    (await dialog.locator('#fp-presented').textContent())?.trim(),
    `${presented.algorithm} ${presented.sha256}`,
  );
  assert.match((await dialog.locator('#fp-stored').textContent()) ?? '', /none: never trusted/);
  assert.equal(await page.locator('dialog.modal').evaluate((el) => el.matches(':modal')), true);
  await page.screenshot({ path: join(shots, 'partner-hostkey.png') });
  await dialog.getByRole('button', { name: 'Trust this key' }).click();
  await page.getByText(`Trusted ${presented.algorithm} ${presented.sha256} for loopback.`).waitFor();

  // Opened again: both fingerprints shown, the same; Escape leaves the dialog for the partner's page.
  await page.getByRole('link', { name: 'Check the host key…' }).click();
  await dialog.waitFor();
  const both = [
    (await dialog.locator('#fp-presented').textContent())?.trim(),
    (await dialog.locator('#fp-stored').textContent())?.trim(),
  ];
  assert.deepEqual(both, [
    `${presented.algorithm} ${presented.sha256}`,
    `${presented.algorithm} ${presented.sha256}`,
  ]);
  await dialog.getByText('The server presents the key you trust.').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('heading', { name: 'Partner loopback' }).waitFor();
  await page.screenshot({ path: join(shots, 'partner.png'), fullPage: true });

  await nav.getByRole('link', { name: 'Partners', exact: true }).click();
  await page.getByRole('cell', { name: `${presented.algorithm} ${presented.sha256}` }).waitFor();
  await page.screenshot({ path: join(shots, 'partners.png') });

  await nav.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.getByText('Define a job').click();
  await page.getByLabel('Name', { exact: true }).fill('push-orders');
  await page.getByLabel('Partner').selectOption('loopback');
  await page.getByLabel('Direction').selectOption('push');
  await page.getByLabel('Remote folder').fill('/');
  await page.getByLabel(/^Local folder/).fill(join(work, 'outbox'));
  await page.getByLabel(/^Files/).fill('*.csv');
  await page.getByRole('button', { name: 'Define job' }).click();
  await page.getByText('Defined job push-orders.').waitFor();
  await page.getByText('This job has not run yet.').waitFor();

  await page.getByRole('button', { name: 'Run now' }).click();
  const notice = page.getByText(/^Run \d+ of push-orders succeeded: 1 file, 16 bytes\.$/);
  await notice.waitFor({ timeout: 60_000 });
  assert.equal(await readFile(join(await server.homeOf('dave'), 'orders.csv'), 'utf8'), 'order,qty\nA-1,3\n');
  const runId = /^Run (\d+)/.exec((await notice.textContent()) ?? '')?.[1];
  await page.screenshot({ path: join(shots, 'job.png') });
  await page.getByRole('link', { name: `#${runId}` }).click();
  await page.getByRole('heading', { name: `Run ${runId} of push-orders` }).waitFor();
  const file = page.locator('table.files tbody tr');
  assert.equal(await file.count(), 1);
  assert.equal(await file.locator('td').first().textContent(), 'orders.csv');
  assert.equal(await file.locator('td').nth(1).textContent(), '16');
  await page.screenshot({ path: join(shots, 'job-run.png') });

  // The rules and deliveries pages render for an operator without breaking the CSP either.
  await nav.getByRole('link', { name: 'Rules', exact: true }).click();
  await page.getByText('No rules yet.').waitFor();
  await nav.getByRole('link', { name: 'Deliveries', exact: true }).click();
  await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
  assert.deepEqual(violations, []);
  await context.close();
});

test('an admin imports rules, reads the deliveries of two uploads sorted from the keyboard, and edits the defender lists', {
  skip,
  timeout: 120_000,
}, async () => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Administrator').fill('ada');
  await page.getByLabel('Password').fill('ada-passphrase-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const nav = page.getByRole('navigation', { name: 'Console' });
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  await nav.getByRole('link', { name: 'Rules', exact: true }).click();
  await page.getByText('Add or update rules').click();
  await page.getByLabel(/^Rules file/).fill(`rules:
  - name: notify-erp
    description: tell the ERP about each order file
    events: [upload]
    conditions: { paths: ['/in/**'] }
    actions:
      - { kind: webhook, url: '${erp.url}' }
    secret: ${SECRET}
  - name: archive-mirror
    description: copy notice to the archive (its endpoint is down)
    events: [upload]
    actions:
      - { kind: webhook, url: '${archive.url}' }
    maxAttempts: 1
    secret: ${SECRET}
`);
  await page.getByRole('button', { name: 'Import' }).click();
  await page.getByText('Imported: added notify-erp, archive-mirror.').waitFor();
  await page.screenshot({ path: join(shots, 'rules.png') });

  // Two uploads over OpenSSH sftp: each fires both rules. The serving process reads changed rules at most once a
  // second (automation/rule-cache.ts), so the uploads wait that long after the import.
  await new Promise((r) => setTimeout(r, 1500));
  await mkdir(join(await server.homeOf('dave'), 'in'), { recursive: true });
  await writeFile(join(work, 'po-1001.csv'), 'sku,qty\nA-1,3\n');
  await writeFile(join(work, 'po-1002.csv'), 'sku,qty\nB-7,12\n');
  const put = await sftpBatch({
    port: server.port,
    user: 'dave',
    password: 'dave-password-1',
    batch: `put ${join(work, 'po-1001.csv')} /in/po-1001.csv\nput ${join(work, 'po-1002.csv')} /in/po-1002.csv\n`,
  });
  assert.equal(put.code, 0, put.stderr);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const all = await server.running.context.admin.rules.deliveries({});
    const settled = all.filter((d) => d.delivery.status === 'succeeded' || d.delivery.status === 'dead');
    if (settled.length === 4) break;
    assert.ok(Date.now() < deadline, JSON.stringify(all.map((d) => d.delivery.status)));
    await new Promise((r) => setTimeout(r, 200));
  }

  await nav.getByRole('link', { name: 'Deliveries', exact: true }).click();
  const created = page.getByRole('columnheader', { name: /^Created \(UTC\)/ });
  assert.equal(await created.getAttribute('aria-sort'), 'descending', 'newest first');
  assert.equal(await page.locator('table.deliveries tbody tr').count(), 4);
  await page.screenshot({ path: join(shots, 'deliveries.png') });
  // The header link from the keyboard: focused and followed with Enter, the table turns oldest first.
  await created.getByRole('link').focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/sort=created/);
  assert.equal(
    await page.getByRole('columnheader', { name: /^Created \(UTC\)/ }).getAttribute('aria-sort'),
    'ascending',
  );

  await nav.getByRole('link', { name: 'Defender', exact: true }).click();
  await page.getByRole('link', { name: 'the allow and deny lists' }).click();
  await page.locator('#deny-cidr').fill('198.51.100.0/24');
  await page.locator('#deny-note').fill('scanner seen in the firewall logs');
  await page.getByRole('button', { name: 'Add to the deny list' }).click();
  await page.getByText('Added 198.51.100.0/24 to the deny list.').waitFor();
  await page.locator('#allow-cidr').fill('203.0.113.7');
  await page.locator('#allow-note').fill("partner ACME's gateway");
  await page.getByRole('button', { name: 'Add to the allow list' }).click();
  await page.getByText('Added 203.0.113.7 to the allow list.').waitFor();
  await page.screenshot({ path: join(shots, 'defender-lists.png'), fullPage: true });
  assert.deepEqual(violations, []);
  await context.close();
});
