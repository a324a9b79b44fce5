// Test-only fixture: file sessions for a throwaway user home on the local backend, with captured events.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus } from '../events/bus.js';
import type { FerryEvent, FileOperationEvent, TransferEvent } from '../events/types.js';
import { rootLogger } from '../logger.js';
import type { PermissionMap } from '../permission-vocabulary.js';
import { localHomeFs } from '../vfs/local/local-fs.js';
import { createFileSessionFactory } from './file-session.js';
import type { FileSessionDeps } from './file-session-deps.js';
import type { FileHandle, FileSession, OpenMode, SessionIdentity, SessionResources } from './types.js';

export const READ: OpenMode = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};
/** What `put` sends: WRITE|CREAT|TRUNC. */
export const UPLOAD: OpenMode = { ...READ, read: false, write: true, create: true, truncate: true };
/** What `reput` / `put -a` sends: WRITE|CREAT|APPEND. */
export const RESUME: OpenMode = { ...READ, read: false, write: true, create: true, append: true };
/** Random access to an existing file: READ|WRITE. */
export const READ_WRITE: OpenMode = { ...READ, write: true };

export interface SessionFixture {
  /** Parent of the home; things placed here are outside the user's reach. */
  base: string;
  homeDir: string;
  events: FerryEvent[];
  open(permissions?: PermissionMap, resources?: SessionResources): FileSession;
  transfers(): TransferEvent[];
  fileOps(): FileOperationEvent[];
  cleanup(): Promise<void>;
}

export async function makeSessionFixture(
  options: {
    permissions?: PermissionMap;
    uploadMode?: FileSessionDeps['uploadMode'];
    limits?: FileSessionDeps['limits'];
    /** The backend of each session (default: the local disk rooted at the home). */
    fs?: FileSessionDeps['fs'];
    preOperation?: FileSessionDeps['preOperation'];
    transfers?: FileSessionDeps['transfers'];
    /** The sessions' protocol (default sftp; 'rule' for a rule action's session). */
    protocol?: SessionIdentity['protocol'];
  } = {},
): Promise<SessionFixture> {
  const base = await mkdtemp(join(tmpdir(), 'ferry-core-'));
  const homeDir = join(base, 'homes', 'alice');
  const events: FerryEvent[] = [];
  const bus = new EventBus();
  bus.subscribe((event) => events.push(event));
  const factory = createFileSessionFactory({
    events: bus,
    logger: rootLogger.child({ logger: 'core-test' }, { level: 'silent' }),
    fs: options.fs ?? localHomeFs,
    ...(options.uploadMode ? { uploadMode: options.uploadMode } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.preOperation ? { preOperation: options.preOperation } : {}),
    ...(options.transfers ? { transfers: options.transfers } : {}),
  });
  const sessions: FileSession[] = [];
  let n = 0;
  return {
    base,
    homeDir,
    events,
    open(permissions = options.permissions ?? { '/': ['*'] }, resources?: SessionResources) {
      const session = factory(
        {
          sessionId: `session-${++n}`,
          username: 'alice',
          virtualId: 7,
          homeDir,
          permissions,
          remoteAddress: '192.0.2.7',
          protocol: options.protocol ?? 'sftp',
        },
        resources,
      );
      sessions.push(session);
      return session;
    },
    transfers: () => events.filter((e): e is TransferEvent => e.type === 'transfer'),
    fileOps: () => events.filter((e): e is FileOperationEvent => e.type === 'file-op'),
    async cleanup() {
      await Promise.all(sessions.map((s) => s.close()));
      await rm(base, { recursive: true, force: true });
    },
  };
}

export async function writeAll(handle: FileHandle, data: Buffer, from = 0, chunk = 32 * 1024): Promise<void> {
  for (let offset = from; offset < data.length; offset += chunk) {
    await handle.write(offset, data.subarray(offset, Math.min(offset + chunk, data.length)));
  }
}

export async function readAll(handle: FileHandle): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const part = await handle.read(offset, 64 * 1024);
    if (part.length === 0) return Buffer.concat(parts);
    parts.push(part);
    offset += part.length;
  }
}

export async function upload(session: FileSession, path: string, data: Buffer): Promise<void> {
  const handle = await session.openFile(path, UPLOAD);
  await writeAll(handle, data);
  await handle.close();
}

export async function download(session: FileSession, path: string): Promise<Buffer> {
  const handle = await session.openFile(path, READ);
  try {
    return await readAll(handle);
  } finally {
    await handle.close();
  }
}

export async function listNames(session: FileSession, path: string): Promise<string[]> {
  const dir = await session.openDir(path);
  const names: string[] = [];
  try {
    for (let batch = await dir.read(); batch !== null; batch = await dir.read()) {
      names.push(...batch.map((e) => e.name));
    }
  } finally {
    await dir.close();
  }
  return names;
}
