// A tus data store over the core: uploads go to the core's hidden partial and appear under their name only when complete.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Readable } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/server';
import { PermissionPolicy } from '../core/permissions.js';
import type { FileSession, OpenMode } from '../core/types.js';
import { isReservedName, joinVirtual, resolveVirtualPath, virtualDirname } from '../core/virtual-path.js';
import { FerryError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '../errors.js';
import type { PermissionMap } from '../permission-vocabulary.js';
import { validEntryName } from './listing.js';

/** The signed-in user's file session opener and permissions, set around each tus request. */
export const tusRequest = new AsyncLocalStorage<{
  readonly open: () => FileSession;
  readonly permissions: PermissionMap;
}>();

const WRITE: OpenMode = {
  read: false,
  write: true,
  append: false,
  create: true,
  truncate: false,
  exclusive: false,
};
const FRESH: OpenMode = { ...WRITE, truncate: true };
const READ: OpenMode = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};

/**
 * An upload id is `<size>.<base64url of the virtual path>`: the upload's whole state is the partial the core
 * keeps beside the target, so any worker (or node) can continue it. An id means a path in the home of whoever
 * sends it: another user's id names a file in their own home, never someone else's.
 */
export function uploadId(path: string, size: number): string {
  return `${size}.${Buffer.from(path, 'utf8').toString('base64url')}`;
}

export function parseUploadId(id: string): { path: string; size: number } {
  const dot = id.indexOf('.');
  const size = Number(id.slice(0, dot));
  if (dot <= 0 || !Number.isSafeInteger(size) || size < 0) throw ERRORS.FILE_NOT_FOUND;
  const path = Buffer.from(id.slice(dot + 1), 'base64url').toString('utf8');
  if (!path.startsWith('/')) throw ERRORS.FILE_NOT_FOUND;
  return { path: resolveVirtualPath(path), size };
}

/** The target of a new upload from its tus metadata: a folder and one plain file name. */
export function targetOf(metadata: Record<string, string | null> | undefined): string {
  const name = metadata?.name ?? metadata?.filename ?? '';
  const problem = validEntryName(name);
  if (problem) throw new InvalidArgumentError(problem);
  if (isReservedName(name)) throw new InvalidArgumentError('That name is reserved for uploads in progress.');
  return joinVirtual(resolveVirtualPath(metadata?.dir ?? '/'), name);
}

function isCode(err: unknown, code: FerryError['code']): boolean {
  return err instanceof FerryError && err.code === code;
}

function current() {
  const request = tusRequest.getStore();
  if (!request) throw new FerryError('ERR_IO', 'tus request outside a signed-in request');
  return request;
}

function session(): FileSession {
  return current().open();
}

async function inSession<T>(work: (files: FileSession) => Promise<T>): Promise<T> {
  const files = session();
  try {
    return await work(files);
  } finally {
    // Ends the session: a handle still open is closed without completing, so its partial stays for a resume.
    await files.close();
  }
}

/** 'complete' (readable under its name), 'partial' (only the core's partial; stat reports its size), or 'none'. */
async function probe(
  files: FileSession,
  path: string,
): Promise<{ state: 'complete' | 'partial' | 'none'; size: number }> {
  let size: number;
  try {
    size = (await files.stat(path)).size;
  } catch (err) {
    if (isCode(err, 'ERR_NOT_FOUND')) return { state: 'none', size: 0 };
    throw err;
  }
  try {
    await (await files.openFile(path, READ)).close();
    return { state: 'complete', size };
  } catch (err) {
    // Open-for-read never finds a partial; a folder without download permission cannot tell, and is taken as partial.
    if (isCode(err, 'ERR_NOT_FOUND') || isCode(err, 'ERR_PERMISSION_DENIED'))
      return { state: 'partial', size };
    throw err;
  }
}

export class CoreTusStore extends DataStore {
  constructor() {
    super();
    this.extensions = ['creation'];
  }

  /**
   * Checks that the upload can start, and opens nothing: a handle opened and left would be audited as a
   * failed upload (and fire rules) before a byte was sent. The core decides again on every PATCH.
   */
  override async create(upload: Upload): Promise<Upload> {
    const { path, size } = parseUploadId(upload.id);
    await inSession(async (files) => {
      const found = await probe(files, path);
      // A resumable upload never writes into a complete file in place: the user renames or deletes it first.
      if (found.state === 'complete')
        throw new FerryError(
          'ERR_ALREADY_EXISTS',
          'A file with that name exists; delete or rename it first.',
        );
      const dir = virtualDirname(path);
      if ((await files.stat(dir)).kind !== 'directory') throw new NotFoundError('No such folder');
      // The core's own policy, asked early for a clear answer before any data is sent.
      if (!new PermissionPolicy(current().permissions).has('upload', dir))
        throw new PermissionDeniedError(`Permission denied: upload in ${dir}`);
      // An empty file is complete at once (through the core: permissions, hooks, audit).
      if (size === 0) await (await files.openFile(path, FRESH)).close();
    });
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const { path, size } = parseUploadId(id);
    return inSession(async (files) => {
      const found = await probe(files, path);
      // 'none': created but no byte arrived yet (nothing is stored before the first PATCH), so offset 0.
      const offset = found.state === 'complete' ? size : Math.min(found.size, size);
      return new Upload({ id, size, offset, metadata: {} });
    });
  }

  /** Appends the request body at `offset` (tus checked it against getUpload); completes the upload at its size. */
  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const { path, size } = parseUploadId(id);
    return inSession(async (files) => {
      const handle = await files.openFile(path, WRITE);
      let position = offset;
      const chunks = stream[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch {
          // The client went away mid-request: what arrived stays in the partial, the next PATCH continues.
          break;
        }
        if (next.done) break;
        const data = next.value;
        if (position + data.length > size) throw ERRORS.ERR_SIZE_EXCEEDED;
        // A storage failure is thrown on: the core discards a partial it could not write (never resumed into).
        await handle.write(position, data);
        position += data.length;
      }
      // Complete: renamed into place with its SHA-256 in the audit record. Otherwise the session's close keeps the partial.
      if (position === size) await handle.close();
      return position;
    });
  }
}
