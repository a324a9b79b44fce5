// The admin console in a real browser (Debian's Chromium through playwright-core): an admin signs in with TOTP,
// creates a user with a read-only folder, whom OpenSSH then cannot upload into; the dashboard updates live from
// the event stream when that user connects; an auditor gets no edit controls; no page breaks its CSP.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { commonSshOptions, sftpBatch } from './helpers/openssh.js';
import { hotp, totpStep } from './helpers/rfc6238.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;
/** The screenshots in docs/console are refreshed only when asked (FERRY_CONSOLE_SCREENSHOTS=1): each run differs
 * (ports, uptime), and a test run must not dirty the checkout. */
const SHOT_DOCS = process.env.FERRY_CONSOLE_SCREENSHOTS === '1';
let SHOTS = '';

let server: TestServer;
let browser: Browser;
let work: string;
let totpSecret = '';

before(async () => {
  if (skip) return;
  server = await startTestServer();
  const access = server.running.context.admin.apiAccess;
  await access.addAdmin(cliActor(), { name: 'ada', role: 'admin', password: new Secret('ada-passphrase-1') });
  await access.addAdmin(cliActor(), {
    name: 'audrey',
    role: 'auditor',
    password: new Secret('audrey-passphrase-1'),
  });
  const { uri } = await access.enableTotp(cliActor(), 'ada');
  totpSecret = new URL(uri.reveal()).searchParams.get('secret') ?? '';
  work = await mkdtemp(join(tmpdir(), 'ferry-console-browser-'));
  SHOTS = SHOT_DOCS ? join(import.meta.dirname, '..', 'docs', 'console') : join(work, 'shots');
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

/**
 * An OpenSSH sftp session held open by its standard input, in a process group of its own so that stop() can end
 * sshpass, sftp and ssh together without touching this process or Chromium.
 */
function holdDetachedSftp(port: number, user: string, password: string) {
  const child = spawn(
    'sshpass',
    ['-e', 'sftp', ...commonSshOptions({ port, user, password }), '-P', String(port), `${user}@127.0.0.1`],
    { env: { ...process.env, SSHPASS: password }, stdio: ['pipe', 'ignore', 'ignore'], detached: true },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The whole group (sshpass and its sftp and ssh), and only it: the group id is sshpass's pid.
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }
  };
  return { child, exited, stop };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function newPage(violations: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // A failing step fails in seconds rather than hanging the run.
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  return page;
}

async function signIn(page: Page, base: string, name: string, password: string, code?: string) {
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Administrator').fill(name);
  await page.getByLabel('Password').fill(password);
  if (code !== undefined) await page.getByLabel(/One-time code/).fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('admin with TOTP creates a user with a read-only folder; the dashboard follows the event stream', {
  skip,
  timeout: 120_000,
}, async () => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const violations: string[] = [];
  const page = await newPage(violations);
  await mkdir(SHOTS, { recursive: true });
  await page.goto(`${base}/console/login`);
  await page.screenshot({ path: join(SHOTS, 'login.png') });

  // The password alone is refused for an account with TOTP; with the current code it signs in.
  await signIn(page, base, 'ada', 'ada-passphrase-1');
  await page.getByText('wrong name, password or one-time code').waitFor();
  await signIn(page, base, 'ada', 'ada-passphrase-1', hotp(totpSecret, totpStep()));
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.getByText('Create a user').click();
  await page.getByLabel('User name').fill('dora');
  await page.getByLabel(/^Password/).fill('dora-password-1');
  await page.getByLabel(/Folder permissions/).fill('/=list,download\n/ro=list,download\n/in=*');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('Created user dora.').waitFor();
  await page.screenshot({ path: join(SHOTS, 'users.png') });

  // dora cannot upload into /ro with OpenSSH, and can into /in.
  await mkdir(join(await server.homeOf('dora'), 'ro'), { recursive: true });
  await mkdir(join(await server.homeOf('dora'), 'in'), { recursive: true });
  await writeFile(join(work, 'note.txt'), 'hello\n');
  const refused = await sftpBatch({
    port: server.port,
    user: 'dora',
    password: 'dora-password-1',
    batch: `put ${join(work, 'note.txt')} /ro/note.txt\n`,
  });
  assert.notEqual(refused.code, 0, refused.stderr);
  assert.ok(!existsSync(join(await server.homeOf('dora'), 'ro', 'note.txt')));
  const allowed = await sftpBatch({
    port: server.port,
    user: 'dora',
    password: 'dora-password-1',
    batch: `put ${join(work, 'note.txt')} /in/note.txt\n`,
  });
  assert.equal(allowed.code, 0, allowed.stderr);

  // The dashboard's live part reloads on the event stream: a new session shows without reloading the page.
  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  const liveCount = page.locator('a.tile', { hasText: 'live sessions' }).locator('.value');
  await liveCount.waitFor();
  assert.equal(await liveCount.textContent(), '0');
  const held = holdDetachedSftp(server.port, 'dora', 'dora-password-1');
  try {
    // No reload, no click: htmx fetched the live part again when the stream reported dora's session.
    await page
      .locator('a.tile', { hasText: 'live sessions' })
      .locator('.value', { hasText: /^1$/ })
      .waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(SHOTS, 'dashboard.png') });
    await page.getByRole('link', { name: 'Sessions', exact: true }).click();
    await page.getByRole('cell', { name: 'dora' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'sessions.png') });
    page.once('dialog', (dialog) => dialog.accept());
    await page.getByRole('button', { name: 'End' }).click();
    await page.getByText('Ended the session of dora.').waitFor();
    // sftp idling on its stdin notices the closed connection only at its next command.
    held.child.stdin?.write('ls\n');
    await withTimeout(
      held.exited,
      15_000,
      'sftp is still connected 15 s after the console ended its session',
    );
  } finally {
    held.stop();
  }
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'audit.png') });
  await page.getByRole('link', { name: 'Verify the chain' }).click();
  await page.getByText(/The chain verifies/).waitFor();
  assert.deepEqual(violations, []);
});

test('an auditor sees the audit page without edit controls', { skip, timeout: 60_000 }, async () => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const violations: string[] = [];
  const page = await newPage(violations);
  await signIn(page, base, 'audrey', 'audrey-passphrase-1');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  assert.ok((await page.locator('table.audit tbody tr').count()) > 0);
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.getByText('role auditor may not users read').waitFor();
  assert.equal(await page.getByText('Create a user').count(), 0);
  // With a live session listed, an admin would get an End button here; the auditor gets none.
  await server.addUser('eve', { password: 'eve-password-1' });
  const held = holdDetachedSftp(server.port, 'eve', 'eve-password-1');
  try {
    // The sessions page is not live: reload it until eve's session is listed under her name.
    const deadline = Date.now() + 15_000;
    for (;;) {
      await page.goto(`${base}/console/sessions`);
      if ((await page.getByRole('cell', { name: 'eve' }).count()) > 0) break;
      assert.ok(Date.now() < deadline, "eve's session never showed on the sessions page");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(await page.getByRole('button', { name: 'End' }).count(), 0);
  } finally {
    held.stop();
  }
  assert.deepEqual(violations, []);
});
