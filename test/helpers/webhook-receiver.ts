// A real HTTP webhook receiver for tests, verifying Standard Webhooks signatures with its own few lines of node:crypto.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Written from the Standard Webhooks specification, not from Ferry's signer: the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256, base64, each signature `v1,<base64>` in a
 * space-separated list; a `whsec_` secret is base64 key bytes; the timestamp must be within 5 minutes.
 */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = secret.startsWith('whsec_')
    ? Buffer.from(secret.slice(6), 'base64')
    : Buffer.from(secret, 'utf8');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, mac] = entry.split(',');
    const given = Buffer.from(mac ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface ReceivedWebhook {
  readonly id: string;
  readonly verified: boolean;
  readonly body: { type: string; timestamp: string; data: Record<string, string> };
  readonly status: number;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedWebhook[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (`port` 0: any). `answer(n, id)` gives the status of the n-th request (1-based):
 * a number to answer with, or 'hang' to never answer.
 */
export async function startWebhookReceiver(
  secret: string,
  answer: (n: number, id: string) => number | 'hang' = () => 200,
  port = 0,
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      const status = answer(received.length + 1, id);
      received.push({
        id,
        verified: verifyStandardWebhook(secret, req.headers, text),
        body: JSON.parse(text) as ReceivedWebhook['body'],
        status: status === 'hang' ? 0 : status,
      });
      if (status === 'hang') return;
      res.writeHead(status);
      res.end(status < 300 ? 'received' : 'try again');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/hooks/ferry`,
    port: bound,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
