// What the console's partners, jobs, rules and deliveries tests share: a real server with an admin, an operator
// and an auditor account, an SFTP user `dave` the server's own SFTP port serves as a partner, a folder of files
// to push, and a real webhook receiver (its first request answered 500, the others 200).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliActor } from '../../src/admin/actor.js';
import { Secret } from '../../src/util/secret.js';
import { ConsoleBrowser, type Page } from './console-http.js';
import { startTestServer, type TestServer } from './server.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.js';

export const SECRET = 'console-ops-test-signing-secret-0123456789';
export const XSS = '<script>alert(1)</script>';

export interface OpsFixture {
  readonly server: TestServer;
  readonly receiver: WebhookReceiver;
  readonly base: string;
  readonly work: string;
  /** Holds invoice.csv (15 bytes). */
  readonly outbox: string;
  /** A console browser signed in as ada (admin), olga (operator) or audrey (auditor). */
  signedIn(name: 'ada' | 'olga' | 'audrey'): Promise<ConsoleBrowser>;
  close(): Promise<void>;
}

export async function startOpsFixture(): Promise<OpsFixture> {
  const work = await mkdtemp(join(tmpdir(), 'ferry-console-ops-'));
  const server = await startTestServer();
  const base = `http://127.0.0.1:${server.running.httpPort}`;
  const receiver = await startWebhookReceiver(SECRET, (n) => (n === 1 ? 500 : 200));
  const access = server.running.context.admin.apiAccess;
  for (const [name, role] of [
    ['ada', 'admin'],
    ['olga', 'operator'],
    ['audrey', 'auditor'],
  ] as const)
    await access.addAdmin(cliActor(), { name, role, password: new Secret(`${name}-passphrase-1`) });
  await server.addUser('dave', { password: 'dave-password-1' });
  const outbox = join(work, 'outbox');
  await mkdir(outbox);
  await writeFile(join(outbox, 'invoice.csv'), 'id,amount\n1,42\n');
  return {
    server,
    receiver,
    base,
    work,
    outbox,
    signedIn: async (name) => {
      const b = new ConsoleBrowser(base);
      const signed = await b.signIn(name, `${name}-passphrase-1`);
      assert.equal(signed.status, 303, signed.text);
      return b;
    },
    close: async () => {
      await server.close();
      await receiver.close();
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** The page's one-line outcome (notice or alert) after a form. */
export const said = (page: Page) =>
  /<p class="(?:notice|error)" role="(?:status|alert)">([^<]*)/.exec(page.text)?.[1] ?? '';

export async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
