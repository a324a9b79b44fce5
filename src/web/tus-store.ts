// A tus data store over the core (loaded with @tus/server on the first upload): uploads go to the core's hidden partial and appear under their name only when complete.
import type { Readable } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/server';
import { PermissionPolicy } from '../core/permissions.js';
import type { FileSession, OpenMode } from '../core/types.js';
import { virtualDirname } from '../core/virtual-path.js';
import { FerryError, NotFoundError, PermissionDeniedError } from '../errors.js';
import { GatheredWrites } from './gathered-writes.js';
import { parseUploadId, tusRequest } from './tus-ids.js';

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
    // Open-for-read never finds a partial.
    if (isCode(err, 'ERR_NOT_FOUND')) return { state: 'partial', size };
    if (!isCode(err, 'ERR_PERMISSION_DENIED')) throw err;
  }
  // A drop box (no download): the listing (list permission, as stat needed) shows complete files, never partials.
  // Taking a complete file for a partial would resume into it in place: old head, new tail.
  return { state: (await listed(files, path)) ? 'complete' : 'partial', size };
}

async function listed(files: FileSession, path: string): Promise<boolean> {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dir = await files.openDir(virtualDirname(path));
  try {
    for (let batch = await dir.read(); batch !== null; batch = await dir.read())
      if (batch.some((entry) => entry.name === name)) return true;
    return false;
  } finally {
    await dir.close();
  }
}

const EXISTS = 'A file with that name exists; delete or rename it first.';

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
      if (found.state === 'complete') throw new FerryError('ERR_ALREADY_EXISTS', EXISTS);
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
      // Only ever the partial: a complete file is never written in place from here.
      if ((await probe(files, path)).state === 'complete') throw new FerryError('ERR_ALREADY_EXISTS', EXISTS);
      const handle = await files.openFile(path, WRITE);
      const sink = new GatheredWrites((at, data) => handle.write(at, data), offset);
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
        if (sink.end + data.length > size) {
          await sink.settle();
          throw ERRORS.ERR_SIZE_EXCEEDED;
        }
        // A storage failure is thrown on: the core discards a partial it could not write (never resumed into).
        await sink.push(data);
      }
      const position = await sink.finish();
      // Complete: renamed into place with its SHA-256 in the audit record. Otherwise the session's close keeps the partial.
      if (position === size) {
        // A forged id may declare a smaller size than the partial holds: publish only what the id declares.
        if ((await handle.stat()).size !== size)
          throw new FerryError('ERR_INVALID_ARGUMENT', 'The upload does not match its declared size.');
        await handle.close();
      }
      return position;
    });
  }
}
