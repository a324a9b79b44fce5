// What operators watch: live sessions, Prometheus counters after a real OpenSSH upload, and defender bans of API callers.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from 'ssh2';
import { cliActor } from '../src/admin/actor.js';
import { sftpBatch } from './helpers/openssh.js';
import { parseMetrics, sum } from './helpers/prometheus-text.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'alice-pw-123456';
let server: TestServer;
let base: string;
let work: string;
let key = '';

async function get(path: string, auth = true): Promise<Response> {
  return fetch(`${base}${path}`, { headers: auth ? { authorization: `Bearer ${key}` } : {} });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-obs-'));
  server = await startTestServer();
  base = `http://127.0.0.1:${server.running.httpPort}`;
  key = (
    await server.running.context.admin.apiAccess.addKey(cliActor(), { name: 'watch', role: 'auditor' })
  ).key.reveal();
  await server.addUser('alice', { password: PASSWORD });
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('sessions and metrics', () => {
  test('an OpenSSH sftp upload moves the /metrics counters (bytes, files, duration, logins, audit commits)', async () => {
    await writeFile(join(work, 'up.bin'), Buffer.alloc(100_000, 7));
    const before = parseMetrics(await (await get('/metrics', false)).text());
    const upload = await sftpBatch({
      port: server.port,
      user: 'alice',
      password: PASSWORD,
      batch: 'put up.bin\n',
      cwd: work,
    });
    assert.equal(upload.code, 0, upload.stderr);
    await server.running.context.events.drainQueued(2000);
    const response = await get('/metrics', false);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const now = parseMetrics(await response.text());
    const up = 'direction="upload"';
    assert.equal(
      sum(now, 'ferry_transfer_bytes_total', up) - sum(before, 'ferry_transfer_bytes_total', up),
      100_000,
    );
    assert.equal(
      sum(now, 'ferry_transfer_files_total', up, 'outcome="completed"') -
        sum(before, 'ferry_transfer_files_total', up, 'outcome="completed"'),
      1,
    );
    assert.ok(sum(now, 'ferry_transfer_duration_seconds_count', up) >= 1);
    assert.equal(
      sum(now, 'ferry_logins_total', 'method="password"', 'result="ok"') -
        sum(before, 'ferry_logins_total', 'method="password"', 'result="ok"'),
      1,
    );
    assert.ok(
      sum(now, 'ferry_audit_write_seconds_count') > sum(before, 'ferry_audit_write_seconds_count'),
      'audit commits timed',
    );
    // The client has exited; the server hears the disconnect a moment later.
    let open = sum(now, 'ferry_sessions');
    for (let i = 0; open > 0 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      open = sum(parseMetrics(await (await get('/metrics', false)).text()), 'ferry_sessions');
    }
    assert.equal(open, 0, 'no session once the client has gone');
  });

  test('/api/sessions lists a connected SFTP client with its user, address and bytes, and forgets it after', async () => {
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject);
      client.connect({ host: '127.0.0.1', port: server.port, username: 'alice', password: PASSWORD });
    });
    try {
      await new Promise<void>((resolve, reject) =>
        client.sftp((err, sftp) => {
          if (err) return reject(err);
          sftp.writeFile('/live.bin', Buffer.alloc(5000, 1), (e) => (e ? reject(e) : resolve()));
        }),
      );
      await server.running.context.events.drainQueued(2000);
      const listed = (await (await get('/api/sessions')).json()) as { items: Record<string, unknown>[] };
      assert.equal(listed.items.length, 1);
      const [session] = listed.items;
      assert.equal(session?.username, 'alice');
      assert.equal(session?.protocol, 'sftp');
      assert.equal(session?.remoteAddress, '127.0.0.1');
      assert.equal(session?.bytesUp, 5000);
      assert.equal(session?.filesUp, 1);
      assert.equal(session?.pid, process.pid);
      const metrics = parseMetrics(await (await get('/metrics', false)).text());
      assert.equal(metrics.get('ferry_sessions{protocol="sftp"}'), 1);
    } finally {
      client.end();
    }
    const deadline = Date.now() + 5000;
    let items: unknown[] = [1];
    while (items.length > 0 && Date.now() < deadline) {
      items = ((await (await get('/api/sessions')).json()) as { items: unknown[] }).items;
      if (items.length > 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(items, [], 'gone once disconnected');
  });
});

describe('event stream', () => {
  // Last in the file for this server: it ends by stopping it.
  test('GET /api/events streams live events as Server-Sent Events; the server still stops with a reader attached', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/api/events`, {
      headers: { authorization: `Bearer ${key}` },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    await server.running.context.admin.users.setDisabled(cliActor(), 'alice', true);
    const deadline = Date.now() + 5000;
    while (!text.includes('"action":"users.disable"') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    const message = text.split('\n\n').find((m) => m.includes('"action":"users.disable"'));
    assert.ok(message, text);
    assert.match(message, /^id: [A-Za-z0-9]+-\d+\nevent: admin\ndata: \{/);
    const event = JSON.parse(message.slice(message.indexOf('data: ') + 6));
    assert.deepEqual([event.subject, event.actor.kind], ['alice', 'cli']);
    controller.abort();
    // A reader still attached when the server stops: its stream ends and the stop does not wait for it.
    const open = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${key}` } });
    const attached = open.body!.getReader();
    await attached.read();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      server.running.stop(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('stop waited for the event stream')), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    let done = false;
    while (!done) done = (await attached.read()).done;
  });
});

describe('REST API and the defender', () => {
  let guarded: TestServer;

  before(async () => {
    // No allow list here: 127.0.0.1 is scored like any other address.
    guarded = await startTestServer({ config: { allowList: [] } });
  });

  after(async () => {
    await guarded?.close();
  });

  test('1 000 failed bearer attempts from one address get it banned; then even a valid key is refused', async () => {
    const url = `http://127.0.0.1:${guarded.running.httpPort}`;
    const { key: valid } = await guarded.running.context.admin.apiAccess.addKey(cliActor(), {
      name: 'ok',
      role: 'admin',
    });
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const response = await fetch(`${url}/api/users`, {
        headers: { authorization: `Bearer ferry_${String(i).padStart(43, 'x')}` },
      });
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
    const threshold = guarded.running.config.defenderThreshold;
    assert.deepEqual(Object.fromEntries(statuses), { 401: threshold, 403: 1000 - threshold });
    const [host] = await guarded.running.context.admin.defender.list({ bannedOnly: true });
    assert.equal(host?.address, '127.0.0.1');
    assert.equal(host?.lastReason, 'API key refused');
    const refused = await fetch(`${url}/api/users`, {
      headers: { authorization: `Bearer ${valid.reveal()}` },
    });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { detail: string }).detail, 'this address is banned or denied');
    await guarded.running.context.events.drainQueued(2000);
    const metrics = parseMetrics(await (await fetch(`${url}/metrics`)).text());
    assert.equal(metrics.get('ferry_defender_bans_total'), 1);
  });
});
