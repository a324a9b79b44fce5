// Deliveries survive kill -9 of `ferry serve` mid-delivery, and several worker processes deliver each one once.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RULE_SECRET_LABEL } from '../src/automation/index.js';
import { MasterKey } from '../src/keys/sealing.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { DeliveryRecord, RuleDefinition } from '../src/store/types.js';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { makeClientKey, sftpBatch } from './helpers/openssh.js';
import { startWebhookReceiver } from './helpers/webhook-receiver.js';

/** Short retries and leases in the served processes (see timingFromEnv in src/automation/index.ts). */
const TIMING_ENV = {
  FERRY_RULES_RETRY_BASE_MS: '100',
  FERRY_RULES_RETRY_CAP_MS: '1000',
  FERRY_RULES_LEASE_MS: '3000',
};

let work: string;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-rules-crash-'));
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(work, { recursive: true, force: true });
});

interface Serving {
  readonly child: ChildProcess;
  readonly port: number;
}

/** `ferry serve` as a child process; resolves once it prints where it listens. */
function serve(dataDir: string, extra: string[] = []): Promise<Serving> {
  const child = spawn(
    process.execPath,
    [FERRY_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0', ...extra],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'silent', ...TIMING_ENV }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => killed(child));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /SFTP listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}):\n${out}`));
    });
  });
}

async function killed(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  child.kill(signal);
  await exited;
}

/** A data dir with user alice (key login), her key, and the given rules stored as the CLI would. */
async function prepare(name: string, rules: { rule: RuleDefinition; secret: string }[]) {
  const dataDir = join(work, name);
  const files = join(work, `${name}-files`);
  await mkdir(files);
  const key = await makeClientKey(work, 'ed25519', `${name}_key`);
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  const added = await runFerry([
    'users',
    'add',
    'alice',
    '--public-key',
    key.publicPath,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(added.code, 0, added.stderr);
  const masterKey = MasterKey.load(undefined, join(dataDir, 'master.key'));
  const store = await openSqliteStore(join(dataDir, 'ferry.db'));
  try {
    for (const { rule, secret } of rules)
      await store.rules.create(rule, masterKey.seal(Buffer.from(secret), RULE_SECRET_LABEL));
  } finally {
    await store.close();
  }
  return { dataDir, files, key };
}

async function deliveries(dataDir: string): Promise<DeliveryRecord[]> {
  const store = await openSqliteStore(join(dataDir, 'ferry.db'), { readonly: true });
  try {
    return await store.deliveries.list({ limit: 10_000 });
  } finally {
    await store.close();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const webhookRule = (name: string, url: string, extra: Partial<RuleDefinition> = {}): RuleDefinition => ({
  name,
  enabled: true,
  events: ['upload'],
  conditions: { status: 'ok' },
  actions: [{ kind: 'webhook', url, timeout: 2 }],
  maxAttempts: 1000,
  ...extra,
});

test('kill -9 mid-delivery while the receiver hangs: after a restart every upload is delivered, 50 distinct ids', async () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  // First the receiver accepts and never answers, so deliveries are in flight (leased) when the server dies.
  const hung = await startWebhookReceiver(secret, () => 'hang');
  cleanups.push(() => hung.close());
  const { dataDir, files, key } = await prepare('crash', [
    { rule: webhookRule('arrivals', hung.url), secret },
  ]);
  const names = Array.from({ length: 50 }, (_, i) => `f${i}.txt`);
  await Promise.all(names.map((n) => writeFile(join(files, n), `${n}\n`)));

  const first = await serve(dataDir, ['--workers', '1']);
  const put = await sftpBatch({
    port: first.port,
    user: 'alice',
    identity: key.privatePath,
    batch: `${names.map((n) => `put ${n} /${n}`).join('\n')}\n`,
    cwd: files,
  });
  assert.equal(put.code, 0, put.stderr);
  await until('deliveries are in flight', () => hung.received.length >= 4);
  await killed(first.child);
  await hung.close();

  const stored = await deliveries(dataDir);
  assert.equal(stored.length, 50, 'every acknowledged upload has its outbox row');
  const inFlight = stored.filter((d) => d.status === 'running');
  assert.ok(inFlight.length > 0, 'some deliveries were leased by the killed process');

  const second = await serve(dataDir, ['--workers', '1']);
  // The receiver comes back (on the same port) after the server did: the first retries are refused.
  await new Promise((r) => setTimeout(r, 500));
  const receiver = await startWebhookReceiver(secret, () => 200, hung.port);
  cleanups.push(() => receiver.close());
  const ok = () => new Set(receiver.received.filter((r) => r.status === 200).map((r) => r.id));
  await until('all 50 delivered', () => ok().size >= 50);
  assert.ok(
    receiver.received.every((r) => r.verified),
    'every request is signed',
  );
  const expected = new Set(stored.map((d) => d.id));
  assert.deepEqual([...ok()].sort(), [...expected].sort(), 'exactly the 50 stored ids');
  assert.deepEqual(
    new Set(receiver.received.map((r) => r.body.data.path)),
    new Set(names.map((n) => `/${n}`)),
  );
  await killed(second.child, 'SIGTERM');
  const after = await deliveries(dataDir);
  assert.ok(after.every((d) => d.status === 'succeeded'));
  const taken = after.filter((d) => inFlight.some((f) => f.id === d.id));
  assert.ok(
    taken.every((d) => d.attempts >= 2),
    'deliveries leased by the dead process were retried after the lease ended',
  );
  process.stdout.write(
    `# rules crash test: ${inFlight.length} in flight at kill -9, ${receiver.received.length} requests after restart for 50 deliveries\n`,
  );
});

test('two worker processes deliver each upload and each schedule tick exactly once', async () => {
  const secret = 'two-workers-secret';
  const receiver = await startWebhookReceiver(secret, () => 200);
  cleanups.push(() => receiver.close());
  const { dataDir, files, key } = await prepare('workers', [
    { rule: webhookRule('arrivals', receiver.url, { maxAttempts: 8 }), secret },
    {
      rule: webhookRule('heartbeat', receiver.url, {
        events: ['schedule'],
        schedule: '* * * * * *',
        conditions: {},
      }),
      secret,
    },
  ]);
  const names = Array.from({ length: 40 }, (_, i) => `w${i}.txt`);
  await Promise.all(names.map((n) => writeFile(join(files, n), `${n}\n`)));
  const server = await serve(dataDir, ['--workers', '2']);
  // Two clients, so both worker processes (round-robin connections) take uploads.
  const halves = [names.slice(0, 20), names.slice(20)];
  const puts = await Promise.all(
    halves.map((half) =>
      sftpBatch({
        port: server.port,
        user: 'alice',
        identity: key.privatePath,
        batch: `${half.map((n) => `put ${n} /${n}`).join('\n')}\n`,
        cwd: files,
      }),
    ),
  );
  for (const p of puts) assert.equal(p.code, 0, p.stderr);
  const uploads = () => receiver.received.filter((r) => r.body.type === 'upload');
  await until('40 uploads delivered', () => uploads().length >= 40);
  await new Promise((r) => setTimeout(r, 2500));
  await killed(server.child, 'SIGTERM');

  assert.equal(uploads().length, 40, 'no upload delivered twice');
  assert.equal(new Set(uploads().map((r) => r.id)).size, 40);
  const ticks = receiver.received.filter((r) => r.body.type === 'schedule');
  const slots = ticks.map((r) => r.body.data.at);
  assert.ok(new Set(slots).size >= 2, `${new Set(slots).size} ticks seen`);
  assert.equal(slots.length, new Set(slots).size, 'each tick fired once across both processes');
  assert.ok(receiver.received.every((r) => r.verified));
});
