// Downloads through the core with HTTP range support (one range), so a browser or curl -C - can resume.
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FileHandle, FileSession } from '../core/types.js';
import { virtualBasename } from '../core/virtual-path.js';
import { InvalidArgumentError } from '../errors.js';

const CHUNK = 256 * 1024;

export interface ByteRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

/**
 * The one range of a `Range: bytes=…` header within a file of `size` bytes; undefined for the whole file
 * (no header, or several ranges, which we answer in full as RFC 9110 allows); 'unsatisfiable' for 416.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | undefined | 'unsatisfiable' {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, from = '', to = ''] = match;
  if (from === '' && to === '') return undefined;
  if (from === '') {
    // The last N bytes.
    const last = Number(to);
    if (last === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - last), end: size - 1 };
  }
  const start = Number(from);
  if (start >= size) return 'unsatisfiable';
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (end < start) return 'unsatisfiable';
  return { start, end };
}

/** RFC 6266: an ASCII fallback and the UTF-8 name. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** Streams [start, end] of an open handle; the handle (and session) close when the stream ends or fails. */
function streamOf(handle: FileHandle, start: number, end: number, done: () => Promise<void>): Readable {
  let position = start;
  return new Readable({
    highWaterMark: CHUNK,
    async read() {
      try {
        if (position > end) {
          this.push(null);
          return;
        }
        const data = await handle.read(position, Math.min(CHUNK, end - position + 1));
        if (data.length === 0) {
          this.push(null);
          return;
        }
        position += data.length;
        this.push(data);
      } catch (err) {
        this.destroy(err as Error);
      }
    },
    destroy(err, callback) {
      done().then(
        () => callback(err),
        () => callback(err),
      );
    },
  });
}

/** Sends the file at `path` of `files` (which this takes over and closes when the response ends). */
export async function sendDownload(
  files: FileSession,
  path: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  let handle: FileHandle | undefined;
  try {
    handle = await files.openFile(path, {
      read: true,
      write: false,
      append: false,
      create: false,
      truncate: false,
      exclusive: false,
    });
    const stat = await handle.stat();
    const size = stat.size;
    const lastModified = new Date(stat.mtime * 1000).toUTCString();
    const ifRange = request.headers['if-range'];
    const rangeHeader = ifRange === undefined || ifRange === lastModified ? request.headers.range : undefined;
    const range = parseRange(rangeHeader, size);
    if (range === 'unsatisfiable') {
      await handle.close();
      await files.close();
      return reply.code(416).header('content-range', `bytes */${size}`).send();
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    reply
      .code(range ? 206 : 200)
      .header('accept-ranges', 'bytes')
      .header('last-modified', lastModified)
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', contentDisposition(virtualBasename(path)))
      .header('content-length', String(Math.max(0, end - start + 1)))
      .header('cache-control', 'private, no-store');
    if (range) reply.header('content-range', `bytes ${start}-${end}/${size}`);
    const open = handle;
    const finish = async () => {
      // close() records the download (bytes read, first offset) in the audit trail.
      await open.close().catch(() => undefined);
      await files.close();
    };
    if (request.method === 'HEAD' || size === 0) {
      await finish();
      return reply.send();
    }
    return reply.send(streamOf(open, start, end, finish));
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await files.close();
    throw err;
  }
}

export function requirePath(value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError('Which file? (path is missing)');
  return value;
}
