// Passive offers and everything that uses a data connection: listings, downloads, uploads (with REST resume and
// APPE), and ABOR. Uploads go through the core's file handles, so an atomic upload is visible under its name
// only after the data connection ended cleanly and the handle closed.
import type { TLSSocket } from 'node:tls';
import { DEFENDER_SCORES } from '../auth/defender.js';
import type { DirEntry, FileHandle, OpenMode } from '../core/types.js';
import type { CommandContext, TransferActivity } from './context.js';
import { filesOf, uniqueName } from './file-commands.js';
import { listLine, mlsdLine } from './listing.js';
import { PassiveListener } from './passive.js';
import { virtualPath } from './paths.js';
import { FtpReplyError, replyFromError } from './replies.js';
import { transportOf } from './transport.js';

const CHUNK = 256 * 1024;
const DEFAULT_DATA_TIMEOUT_MS = 30_000;

async function offer(ctx: CommandContext): Promise<PassiveListener> {
  ctx.passive?.close();
  ctx.passive = undefined;
  const host = ctx.localAddress;
  const listener = await PassiveListener.open({
    host,
    ports: ctx.options.passivePorts,
    peer: ctx.remoteAddress,
    secureContext: ctx.secureContext,
    timeoutMs: ctx.options.dataTimeoutMs ?? DEFAULT_DATA_TIMEOUT_MS,
    refused: (reason, address) => {
      ctx.log.warn({ reason, from: address }, 'data connection refused');
      ctx.options.defender
        .penalize(address, DEFENDER_SCORES.protocolError, `ftps: ${reason}`)
        .catch((err: unknown) => ctx.log.error({ err }, 'defender failed'));
    },
  });
  ctx.passive = listener;
  return listener;
}

/**
 * PASV names an address: the configured public one behind NAT, else the one the client reached. Where the data
 * connection may come from does not change: the listener still takes only the control connection's peer.
 */
export async function pasv(ctx: CommandContext): Promise<void> {
  const local = ctx.localAddress.replace(/^::ffff:/, '');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(local)) throw new FtpReplyError(522, 'Use EPSV on IPv6');
  const ipv4 = ctx.options.passiveAddress ?? local;
  const { port } = await offer(ctx);
  ctx.reply(227, `Entering Passive Mode (${ipv4.replaceAll('.', ',')},${port >> 8},${port & 255})`);
}

export async function epsv(ctx: CommandContext, arg: string): Promise<void> {
  if (arg.toUpperCase() === 'ALL') {
    ctx.reply(200, 'EPSV ALL ok');
    return;
  }
  const { port } = await offer(ctx);
  ctx.reply(229, `Entering Extended Passive Mode (|||${port}|)`);
}

/** Runs `work` on the data connection of the current offer, replying 150 before and 226 or an error after. */
async function withData(
  ctx: CommandContext,
  opening: string,
  work: (data: TLSSocket, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const listener = ctx.passive;
  ctx.passive = undefined;
  if (!listener) throw new FtpReplyError(425, 'Use PASV or EPSV first');
  ctx.reply(150, opening);
  const aborted = new AbortController();
  let data: TLSSocket | undefined;
  const done = (async () => {
    try {
      data = await listener.connection();
      // A transfer that stalls (no byte either way) for the data timeout is cut.
      const stalled = data;
      stalled.setTimeout(ctx.options.dataTimeoutMs ?? DEFAULT_DATA_TIMEOUT_MS, () => stalled.destroy());
      await work(data, aborted.signal);
      if (aborted.signal.aborted) throw new FtpReplyError(426, 'Transfer aborted');
      ctx.reply(226, 'Transfer complete');
    } catch (err) {
      const reply = aborted.signal.aborted ? { code: 426, text: 'Transfer aborted' } : replyFromError(err);
      if (!(err instanceof FtpReplyError)) ctx.log.info({ err }, 'transfer failed');
      ctx.reply(reply.code, reply.text);
    } finally {
      listener.close();
      data?.destroy();
      ctx.transfer = undefined;
      ctx.activity = undefined;
    }
  })();
  ctx.transfer = {
    done,
    // An aborted transfer is reset, not closed: a closed download would go on reaching a slow client from the
    // kernel's send buffer (megabytes, seconds) after an administrator ended it or its client sent ABOR.
    abort: () => {
      aborted.abort();
      listener.close();
      if (data) transportOf(data)?.reset();
      data?.destroy();
    },
  };
}

/** Writes `chunk` and waits for the socket to drain when it is full; rejects when the socket is gone. */
function send(data: TLSSocket, chunk: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (data.destroyed) {
      reject(new FtpReplyError(426, 'Data connection closed'));
      return;
    }
    if (data.write(chunk)) resolve();
    else {
      const onClose = () => reject(new FtpReplyError(426, 'Data connection closed'));
      data.once('close', onClose);
      data.once('drain', () => {
        data.off('close', onClose);
        resolve();
      });
    }
  });
}

/** Ends the data connection with a TLS close_notify and waits for it to be flushed. */
function finish(data: TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    data.end(() => resolve());
  });
}

async function readDir(ctx: CommandContext, path: string): Promise<DirEntry[]> {
  const dir = await filesOf(ctx).openDir(path);
  const entries: DirEntry[] = [];
  try {
    for (let batch = await dir.read(); batch; batch = await dir.read()) entries.push(...batch);
  } finally {
    await dir.close();
  }
  return entries;
}

/** LIST, NLST, MLSD: the listing is read before the 150 reply, so a missing directory is a plain 550. */
async function listing(
  ctx: CommandContext,
  arg: string,
  format: (path: string, entry: DirEntry) => string | undefined,
): Promise<void> {
  // Options like `-la` that clients send to LIST are ls flags, not paths.
  const target = arg.startsWith('-') ? arg.replace(/^(-\S+\s*)+/, '') : arg;
  const files = filesOf(ctx);
  const path = await files.realpath(virtualPath(ctx, target || '.'));
  const stat = await files.stat(path);
  const entries =
    stat.kind === 'directory' ? await readDir(ctx, path) : [{ name: path.split('/').pop()!, stat }];
  const lines = entries.map((e) => format(path, e)).filter((l): l is string => l !== undefined);
  await withData(ctx, 'Here comes the listing', async (data) => {
    const text = lines.map((l) => `${l}\r\n`).join('');
    await send(data, text);
    await finish(data);
  });
}

export const list = (ctx: CommandContext, arg: string) =>
  listing(ctx, arg, (_dir, e) => (e.name === '.' || e.name === '..' ? undefined : listLine(e.name, e.stat)));

export const nlst = (ctx: CommandContext, arg: string) =>
  listing(ctx, arg, (_dir, e) => (e.name === '.' || e.name === '..' ? undefined : e.name));

export const mlsd = (ctx: CommandContext, arg: string) =>
  listing(ctx, arg, (dir, e) => mlsdLine(dir, e.name, e.stat, ctx.policy!));

const READ: OpenMode = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};

export async function retr(ctx: CommandContext, arg: string): Promise<void> {
  const offset = ctx.restOffset;
  ctx.restOffset = 0;
  const path = virtualPath(ctx, arg);
  const handle = await filesOf(ctx).openFile(path, READ);
  try {
    const progress: TransferActivity = { direction: 'download', path, bytes: 0, startedAt: new Date() };
    await withData(ctx, 'Opening data connection', async (data, signal) => {
      ctx.activity = progress;
      try {
        let position = offset;
        for (;;) {
          if (signal.aborted) return;
          const chunk = await handle.read(position, CHUNK);
          if (chunk.length === 0) break;
          position += chunk.length;
          progress.bytes += chunk.length;
          ctx.touch();
          await send(data, chunk);
        }
        await finish(data);
      } finally {
        await handle.close();
      }
    });
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** Bytes held in memory while a write is in flight before the data connection is paused. */
const RECEIVE_BUFFER = 1024 * 1024;

/**
 * Reads the data connection into `handle` from `offset`; resolves once the client ended it with a TLS close_notify
 * and all is written, rejects with 426 when the TCP connection went away without one. TLS hands over records of
 * at most 16 KiB; what arrives while one write is in flight is written next as one piece (up to RECEIVE_BUFFER),
 * so a large upload costs one core write per ~256 KiB-1 MiB, not one per record.
 */
function receive(
  data: TLSSocket,
  handle: FileHandle,
  offset: number,
  progress: (bytes: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let position = offset;
    let queued: Buffer[] = [];
    let queuedBytes = 0;
    let writing = false;
    let failed = false;
    let ended = false;
    let cut = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const truncated = () => fail(new FtpReplyError(426, 'Connection closed; transfer aborted'));
    // The TCP side is gone. A close_notify already read ends the TLS socket once its buffered data is consumed
    // ('end' comes on the next tick after that); with none, it never ends, and what arrived is not the file.
    const transport = transportOf(data);
    const idle = () =>
      !writing && queuedBytes === 0 && data.readableLength === 0 && (transport?.readableLength ?? 0) === 0;
    const settle = () => {
      if (!cut || ended || failed || !idle() || data.isPaused()) return;
      setImmediate(() => {
        if (!ended && idle()) truncated();
      });
    };
    const flush = async () => {
      writing = true;
      while (queuedBytes > 0 && !failed) {
        const piece = queued.length === 1 ? queued[0]! : Buffer.concat(queued, queuedBytes);
        queued = [];
        queuedBytes = 0;
        // Room again: take more from the client while this piece is written.
        if (data.isPaused()) data.resume();
        const at = position;
        position += piece.length;
        try {
          await handle.write(at, piece);
          progress(piece.length);
        } catch (err) {
          fail(err);
        }
      }
      writing = false;
      if (ended && !failed) resolve();
      else settle();
    };
    data.on('data', (chunk: Buffer) => {
      queued.push(chunk);
      queuedBytes += chunk.length;
      if (queuedBytes >= RECEIVE_BUFFER) data.pause();
      if (!writing) void flush();
    });
    data.once('end', () => {
      ended = true;
      if (!writing && !failed) resolve();
    });
    void transport?.ended.then(() => {
      cut = true;
      settle();
    });
    // Destroyed (ABOR, the control connection gone, a timeout) before the client ended it.
    data.once('close', () => {
      if (!ended) truncated();
    });
  });
}

/** Leaves an upload unfinished: an atomic upload stays a hidden partial that REST + STOR can continue. */
async function abandon(ctx: CommandContext, handle: FileHandle): Promise<void> {
  await (handle.abort ? handle.abort() : handle.close()).catch((err: unknown) =>
    ctx.log.warn({ err }, 'abandoning an upload failed'),
  );
}

async function upload(ctx: CommandContext, path: string, how: 'store' | 'append' | 'unique'): Promise<void> {
  const offset = how === 'store' ? ctx.restOffset : 0;
  ctx.restOffset = 0;
  const handle = await filesOf(ctx).openFile(path, {
    read: false,
    write: true,
    append: how === 'append',
    create: true,
    // REST n then STOR: keep the first n bytes and write from there (a resumed upload).
    truncate: how !== 'append' && offset === 0,
    exclusive: how === 'unique',
  });
  const start = how === 'append' ? (await handle.stat()).size : offset;
  const opening = how === 'unique' ? `FILE: ${path.split('/').pop()}` : 'Ready to receive';
  try {
    const activity: TransferActivity = { direction: 'upload', path, bytes: 0, startedAt: new Date() };
    await withData(ctx, opening, async (data, signal) => {
      ctx.activity = activity;
      try {
        await receive(data, handle, start, (bytes) => {
          activity.bytes += bytes;
          ctx.touch();
        });
        // Answer the client's close_notify with ours and let it reach the wire before the socket is destroyed
        // (ftplib's unwrap() waits for it).
        await finish(data);
        // FTP stream mode ends an upload by closing the data connection, and so does a client that was killed;
        // a killed client's control connection closes at the same moment, so it gets a turn to be seen first.
        await new Promise((resolve) => setImmediate(resolve));
      } catch (err) {
        await abandon(ctx, handle);
        throw err;
      }
      if (signal.aborted) {
        await abandon(ctx, handle);
        return;
      }
      await handle.close();
    });
  } catch (err) {
    // No data connection was offered: nothing was received, nothing is published.
    await abandon(ctx, handle);
    throw err;
  }
}

export const stor = (ctx: CommandContext, arg: string) => upload(ctx, virtualPath(ctx, arg), 'store');
export const appe = (ctx: CommandContext, arg: string) => upload(ctx, virtualPath(ctx, arg), 'append');
export const stou = (ctx: CommandContext) => upload(ctx, uniqueName(ctx), 'unique');

export function rest(ctx: CommandContext, arg: string): void {
  if (!/^\d{1,15}$/.test(arg)) throw new FtpReplyError(501, 'REST needs a byte offset');
  ctx.restOffset = Number(arg);
  ctx.reply(350, `Restarting at ${arg}`);
}

export function abor(ctx: CommandContext): void {
  const transfer = ctx.transfer;
  ctx.passive?.close();
  ctx.passive = undefined;
  if (!transfer) {
    ctx.reply(226, 'No transfer to abort');
    return;
  }
  transfer.abort();
  // The transfer's own reply (426) goes first, then ABOR's.
  void transfer.done.finally(() => ctx.reply(226, 'Abort successful'));
}
