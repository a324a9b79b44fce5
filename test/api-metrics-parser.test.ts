// /metrics read by an independent Prometheus text-format parser (parse-prometheus-text-format, a port of the
// Prometheus Python client's parser): every family typed and parsed, and the transfer counters moved by exactly
// what a real OpenSSH upload sent.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'metrics-parser-pw-1';
let server: TestServer;
let work: string;

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
}

async function scrape(): Promise<Family[]> {
  const response = await fetch(`http://127.0.0.1:${server.running.httpPort}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheusTextFormat(await response.text()) as Family[];
}

/** The sum of a counter family's samples whose labels include `labels`. */
function total(families: Family[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `${name} is exported`);
  return family.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((sum, m) => sum + Number(m.value), 0);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-metrics-parser-'));
  server = await startTestServer();
  await server.addUser('mia', { password: PASSWORD });
});

after(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

test('the whole exposition parses, every family is typed, and an upload moves the counters by its bytes', async () => {
  const before = await scrape();
  assert.ok(before.length > 10, `families: ${before.map((f) => f.name).join(', ')}`);
  for (const family of before)
    assert.match(family.type, /^(COUNTER|GAUGE|HISTOGRAM|SUMMARY|UNTYPED)$/, `${family.name} has a type`);
  await writeFile(join(work, 'up.bin'), Buffer.alloc(123_456, 1));
  const up = await sftpBatch({
    port: server.port,
    user: 'mia',
    password: PASSWORD,
    batch: 'put up.bin\n',
    cwd: work,
  });
  assert.equal(up.code, 0, up.stderr);
  await server.running.context.events.drainQueued(2000);
  const after = await scrape();
  const upload = { direction: 'upload' };
  assert.equal(
    total(after, 'ferry_transfer_bytes_total', upload) - total(before, 'ferry_transfer_bytes_total', upload),
    123_456,
  );
  const logins = (f: Family[]) => total(f, 'ferry_logins_total', { result: 'ok' });
  assert.ok(logins(after) >= logins(before) + 1, 'the login counted');
  const durations = after.find((f) => f.name === 'ferry_transfer_duration_seconds');
  assert.equal(durations?.type, 'HISTOGRAM');
});
