import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { Secret } from '../../util/secret.js';
import { sendWebhook, signWebhook } from './webhook.js';

test('signatures match the Standard Webhooks published test vector (whsec_ secrets are base64 keys)', () => {
  assert.equal(
    signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    ),
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  );
});

test('a secret without the whsec_ prefix is used as its UTF-8 bytes', () => {
  // HMAC-SHA256(key "plain secret", "id.1.{}") computed by hand with openssl:
  // printf 'id.1.{}' | openssl dgst -sha256 -hmac 'plain secret' -binary | base64
  assert.equal(signWebhook('plain secret', 'id', 1, '{}'), 'v1,7NrV2TfFM1gp76oAE+/rBjmhXuz5n2KHFl8sQhyTVt4=');
});

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

async function receiver(t: TestContext, answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const message = {
  id: 'd-42',
  eventName: 'upload' as const,
  fields: { at: '2026-01-01T00:00:00.000Z', path: '/in/a' },
};

test('the POST carries the JSON envelope, the three headers and the rendered extra headers', async (t) => {
  const r = await receiver(t, (_req, res) => res.end('thanks'));
  const outcome = await sendWebhook(
    { kind: 'webhook', url: r.url, headers: { 'x-path': '{{path}}', 'webhook-id': 'forged' } },
    message,
    new Secret('s3cret'),
  );
  assert.deepEqual([outcome.ok, outcome.responseCode, outcome.output], [true, 200, 'thanks']);
  const [got] = r.received;
  assert.deepEqual(JSON.parse(got?.body ?? ''), {
    type: 'upload',
    timestamp: '2026-01-01T00:00:00.000Z',
    data: { at: '2026-01-01T00:00:00.000Z', path: '/in/a' },
  });
  assert.equal(got?.headers['webhook-id'], 'd-42', 'an action cannot replace a signed header');
  assert.equal(got?.headers['x-path'], '/in/a');
  assert.equal(got?.headers['content-type'], 'application/json');
  const ts = Number(got?.headers['webhook-timestamp']);
  assert.ok(Math.abs(ts - Date.now() / 1000) < 5);
  assert.equal(got?.headers['webhook-signature'], signWebhook('s3cret', 'd-42', ts, got?.body ?? ''));
});

test('answers are judged: 408, 429 and 5xx retried; other 4xx and redirects permanent, not followed', async (t) => {
  let status = 500;
  const r = await receiver(t, (_req, res) => {
    res.writeHead(status, status === 302 ? { location: 'http://169.254.169.254/' } : {});
    res.end('x'.repeat(5000));
  });
  const action = { kind: 'webhook' as const, url: r.url };
  for (const [code, permanent] of [
    [500, false],
    [503, false],
    [408, false],
    [429, false],
    [400, true],
    [404, true],
    [302, true],
  ] as const) {
    status = code;
    const outcome = await sendWebhook(action, message, undefined);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.responseCode, code);
    assert.equal(outcome.permanent === true, permanent, `HTTP ${code}`);
    assert.equal(outcome.output?.length, 1024, 'the body start is kept, 1 KiB');
  }
  assert.equal(r.received.length, 7, 'the redirect was not followed');
  status = 302;
  assert.match(
    (await sendWebhook(action, message, undefined)).error ?? '',
    /redirect to http:\/\/169\.254\.169\.254\/ not followed/,
  );
  assert.equal(r.received.at(-1)?.headers['webhook-signature'], undefined, 'unsigned without a secret');
});

test('a refused connection and a receiver that never answers are failures to retry', async (t) => {
  const r = await receiver(t, () => {});
  const hung = await sendWebhook({ kind: 'webhook', url: r.url, timeout: 0.3 }, message, undefined);
  assert.deepEqual([hung.ok, hung.permanent, hung.error], [false, undefined, 'no response within 0.3 s']);
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const refused = await sendWebhook(
    { kind: 'webhook', url: `http://127.0.0.1:${port}/` },
    message,
    undefined,
  );
  assert.equal(refused.ok, false);
  assert.equal(refused.permanent, undefined);
  assert.match(refused.error ?? '', /ECONNREFUSED/);
});
