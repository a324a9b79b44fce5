// Test helpers for action runners: a stored rule, a delivery of it, a run context; and a real SMTP receiver.
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { createFileSessionFactory } from '../../core/file-session.js';
import type { FileSessionFactory } from '../../core/types.js';
import { EventBus } from '../../events/bus.js';
import type { FerryEvent } from '../../events/types.js';
import { rootLogger } from '../../logger.js';
import type { PermissionMap } from '../../permission-vocabulary.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { Store } from '../../store/types.js';
import { localHomeFs } from '../../vfs/local/local-fs.js';
import type { EventFields } from '../event-names.js';
import type { ActionRunContext, AnyRuleEventName, DeliveryRecord, RuleAction, RuleRecord } from '../types.js';

export function ruleOf(
  name: string,
  actions: readonly RuleAction[],
  extra: Partial<RuleRecord> = {},
): RuleRecord {
  return {
    id: 1,
    name,
    enabled: true,
    events: ['upload'],
    conditions: {},
    actions,
    hasSecret: false,
    createdAt: new Date(),
    updatedAt: new Date(),
    ...extra,
  };
}

export function deliveryOf(
  rule: RuleRecord,
  fields: EventFields,
  actionIndex = 0,
  eventName: AnyRuleEventName = 'upload',
): DeliveryRecord {
  return {
    id: randomUUID(),
    ruleId: rule.id,
    ruleName: rule.name,
    actionIndex,
    eventName,
    fields: fields as Record<string, string>,
    status: 'running',
    attempts: 0,
    nextAttemptAt: new Date(),
    createdAt: new Date(),
  };
}

export function contextOf(rule: RuleRecord, signal = new AbortController().signal): ActionRunContext {
  return { rule, signal };
}

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly user: string | undefined;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** A real SMTP server on an ephemeral loopback port (plain, no STARTTLS offered) that keeps what it receives. */
export async function startSmtpReceiver(
  options: Partial<SMTPServerOptions> = {},
): Promise<{ port: number; mails: ReceivedMail[]; close(): Promise<void> }> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    // The e-mail runner pools its connections: on close, drop those still open instead of waiting 30 s.
    closeTimeout: 250,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user,
          ...parseMessage(Buffer.concat(chunks).toString('utf8')),
        });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Headers (unfolded, lower-case names) and the body (quoted-printable decoded when so encoded). */
function parseMessage(raw: string): { headers: Map<string, string>; body: string } {
  const cut = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, cut).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = raw.slice(cut + 4);
  if (/quoted-printable/i.test(headers.get('content-transfer-encoding') ?? '')) {
    body = Buffer.from(
      body
        .replace(/=\r\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  }
  return { headers, body: body.replace(/\r\n/g, '\n') };
}

export interface UserHomes {
  readonly base: string;
  readonly homesDir: string;
  readonly store: Store;
  readonly events: FerryEvent[];
  readonly fileSessions: FileSessionFactory;
  addUser(name: string, permissions?: PermissionMap): Promise<string>;
  cleanup(): Promise<void>;
}

/** A real SQLite store with users, and core file sessions over their homes on the local disk, events kept. */
export async function makeUserHomes(): Promise<UserHomes> {
  const base = await mkdtemp(join(tmpdir(), 'ferry-actions-'));
  const homesDir = join(base, 'homes');
  const store = await openSqliteStore(join(base, 'ferry.db'));
  const events: FerryEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  const fileSessions = createFileSessionFactory({
    events: bus,
    logger: rootLogger.child({ logger: 'core-test' }, { level: 'silent' }),
    fs: localHomeFs,
  });
  return {
    base,
    homesDir,
    store,
    events,
    fileSessions,
    async addUser(name, permissions = { '/': ['*'] }) {
      await store.users.create({ name, permissions });
      const home = join(homesDir, name);
      await mkdir(home, { recursive: true });
      return home;
    },
    async cleanup() {
      await store.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}
