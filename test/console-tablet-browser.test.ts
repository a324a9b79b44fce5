// The console at a tablet's width (768×1024) in Debian's Chromium: an admin reaches every page from the navigation,
// and no page is wider than the screen (no sideways scrolling: wide tables scroll inside their own box). Screenshots
// of the pages land in the test's temporary directory.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;
const WIDTH = 768;

let server: TestServer;
let browser: Browser;
let work: string;

before(async () => {
  if (skip) return;
  server = await startTestServer();
  await server.running.context.admin.apiAccess.addAdmin(cliActor(), {
    name: 'tess',
    role: 'admin',
    password: new Secret('tess-passphrase-1'),
  });
  await server.addUser('a-user-with-a-rather-long-name', { password: 'long-user-password-1' });
  work = await mkdtemp(join(tmpdir(), 'ferry-console-tablet-'));
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
  if (work) await rm(work, { recursive: true, force: true });
});

test('at 768 px every console page fits the screen', { skip, timeout: 120_000 }, async () => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const context = await browser.newContext({ viewport: { width: WIDTH, height: 1024 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Administrator').fill('tess');
  await page.getByLabel('Password').fill('tess-passphrase-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Console' });
  const labels = (await nav.getByRole('link').allTextContents()).map((l) => l.trim());
  assert.ok(labels.length >= 12, `the navigation: ${labels.join(', ')}`);
  const wide: string[] = [];
  for (const label of labels) {
    await nav.getByRole('link', { name: label, exact: true }).click();
    await page.waitForLoadState('load');
    // The document's own width: larger than the viewport means the page scrolls sideways.
    const width = await page.evaluate(
      () =>
        (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
          .documentElement.scrollWidth,
    );
    if (width > WIDTH) wide.push(`${label} (${page.url()}): ${width} px`);
    await page.screenshot({ path: join(work, `${label.replace(/\W+/g, '-')}.png`), fullPage: true });
  }
  assert.deepEqual(wide, [], 'pages wider than a tablet');
});
