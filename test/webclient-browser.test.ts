// The /files web client in a real browser (Debian's Chromium through playwright-core): sign in, a resumable upload
// interrupted by a page reload and resumed without re-sending what arrived, and the download back, all by sha256.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import type { FerryEvent, TransferEvent } from '../src/events/types.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const SIZE = 200 * 1024 * 1024;
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let server: TestServer;
let browser: Browser;
let work: string;
const events: FerryEvent[] = [];

before(async () => {
  if (skip) return;
  server = await startTestServer();
  server.running.context.events.subscribe((event) => {
    events.push(event);
  });
  await server.addUser('carol', { password: 'carol-pw-1' });
  work = await mkdtemp(join(tmpdir(), 'ferry-browser-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

test('a user signs in, uploads 200 MiB across a page reload without re-sending bytes, and downloads it back', {
  skip,
}, async (t) => {
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const source = randomBytes(SIZE);
  const file = join(work, 'big.bin');
  await writeFile(file, source);
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });

  await page.goto(`${base}/files/login`);
  await page.getByLabel('User name').fill('carol');
  await page.getByLabel('Password').fill('carol-pw-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/files/`);
  assert.equal(await page.locator('.who').textContent(), 'carol');

  // Slow the upload down (40 MiB/s) so the reload lands half-way through, as a dropped network would.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 40 * 1024 * 1024,
  });
  await page.locator('#pick').setInputFiles(file);
  const partial = join(await server.homeOf('carol'), '.ferry-part.big.bin');
  const deadline = Date.now() + 60_000;
  let arrived = 0;
  while (arrived < 90 * 1024 * 1024 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    arrived = (await stat(partial).catch(() => ({ size: 0 }))).size;
  }
  assert.ok(arrived > 0 && arrived < SIZE, `half-way: ${arrived} bytes of ${SIZE}`);
  await page.reload();
  // Nothing under the final name while the upload is incomplete.
  assert.ok(!existsSync(join(await server.homeOf('carol'), 'big.bin')));
  assert.equal(await page.locator('table.listing').getByText('big.bin').count(), 0);
  // The reload aborts the PATCH, but bytes already sent may still be reaching the server: wait until the
  // partial stops growing, so the offset compared below is the one the server will answer.
  let offsetBeforeResume = (await stat(partial)).size;
  for (let still = 0; still < 5; ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const size = (await stat(partial)).size;
    still = size === offsetBeforeResume ? still + 1 : 0;
    offsetBeforeResume = size;
  }

  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
  await page.locator('#pick').setInputFiles(file);
  await page.locator('#progress li[data-state="done"]').waitFor({ timeout: 60_000 });
  const done = page.locator('#progress li[data-state="done"]');
  // The page asked the server for the offset and continued from it (what it shows the user too).
  assert.equal(await done.getAttribute('data-resumed-at'), String(offsetBeforeResume));
  assert.match((await done.textContent()) ?? '', /done \(resumed at \d+ bytes\)/);

  const stored = await readFile(join(await server.homeOf('carol'), 'big.bin'));
  assert.equal(sha256(stored), sha256(source));
  // From the server's own records: the parts add up to the file exactly (nothing sent twice), and the upload
  // that completed it started where the interrupted one stopped.
  await server.running.context.audit.flush();
  const uploads = events.filter(
    (e): e is TransferEvent => e.type === 'transfer' && e.direction === 'upload' && e.path === '/big.bin',
  );
  assert.equal(
    uploads.reduce((sum, e) => sum + e.bytes, 0),
    SIZE,
    'bytes received over all PATCH requests',
  );
  assert.ok(uploads.every((e) => e.protocol === 'https'));
  const resumed = uploads.find((e) => e.resumedFrom === offsetBeforeResume);
  assert.ok(resumed, `an upload resumed at ${offsetBeforeResume}`);
  t.diagnostic(
    `interrupted at ${offsetBeforeResume} of ${SIZE} bytes; PATCH uploads: ${uploads.map((e) => `${e.resumedFrom}+${e.bytes}`).join(', ')}`,
  );
  const last = uploads.at(-1);
  assert.ok(last?.completed && last.sha256 === sha256(source));

  await page.reload();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('table.listing').getByRole('link', { name: 'big.bin' }).click(),
  ]);
  const saved = await download.path();
  assert.equal(sha256(await readFile(saved)), sha256(source));

  // A whole folder, picked as a folder: its tree is recreated and every file lands.
  await mkdir(join(work, 'album', 'sub'), { recursive: true });
  await writeFile(join(work, 'album', 'a.txt'), 'first\n');
  await writeFile(join(work, 'album', 'sub', 'b.txt'), 'second\n');
  await page.locator('#pick-folder').setInputFiles(join(work, 'album'));
  await page.locator('#progress li.all-done').waitFor({ timeout: 30_000 });
  const home = await server.homeOf('carol');
  assert.equal(await readFile(join(home, 'album', 'a.txt'), 'utf8'), 'first\n');
  assert.equal(await readFile(join(home, 'album', 'sub', 'b.txt'), 'utf8'), 'second\n');
  assert.deepEqual(cspViolations, []);
  await context.close();
});
