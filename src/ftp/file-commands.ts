// The commands that look at or change files without a data connection: navigation, metadata, delete, rename,
// mkdir, and the SHA-256 of a file (HASH, XSHA256). All through the core's file session.

import { randomBytes } from 'node:crypto';
import type { FileSession } from '../core/types.js';
import type { CommandContext } from './context.js';
import { ftpTime, mlsxFacts } from './listing.js';
import { quoted, virtualPath } from './paths.js';
import { FtpReplyError } from './replies.js';

export function filesOf(ctx: CommandContext): FileSession {
  if (!ctx.files) throw new FtpReplyError(530, 'Log in first');
  return ctx.files;
}

export function pwd(ctx: CommandContext): void {
  ctx.reply(257, `${quoted(ctx.cwd)} is the current directory`);
}

export async function cwd(ctx: CommandContext, arg: string): Promise<void> {
  const files = filesOf(ctx);
  const path = await files.realpath(virtualPath(ctx, arg));
  const stat = await files.stat(path);
  if (stat.kind !== 'directory') throw new FtpReplyError(550, 'Not a directory');
  ctx.cwd = path;
  ctx.reply(250, `Directory changed to ${path}`);
}

export function cdup(ctx: CommandContext): Promise<void> {
  return cwd(ctx, '..');
}

export async function size(ctx: CommandContext, arg: string): Promise<void> {
  const stat = await filesOf(ctx).stat(virtualPath(ctx, arg));
  if (stat.kind !== 'file') throw new FtpReplyError(550, 'Not a regular file');
  ctx.reply(213, String(stat.size));
}

export async function mdtm(ctx: CommandContext, arg: string): Promise<void> {
  const stat = await filesOf(ctx).stat(virtualPath(ctx, arg));
  ctx.reply(213, ftpTime(stat.mtime));
}

/** MFMT YYYYMMDDHHMMSS path (draft-somers-ftp-mfxx): sets the modification time. */
export async function mfmt(ctx: CommandContext, arg: string): Promise<void> {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)? (.+)$/.exec(arg);
  if (!match) throw new FtpReplyError(501, 'MFMT YYYYMMDDHHMMSS path');
  const [, y, mo, d, h, mi, s, name] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) throw new FtpReplyError(501, 'Invalid time');
  const path = virtualPath(ctx, name!);
  const files = filesOf(ctx);
  const stat = await files.stat(path);
  await files.setstat(path, { mtime: ms / 1000, atime: stat.atime });
  ctx.reply(213, `Modify=${ftpTime(ms / 1000)}; ${name}`);
}

export async function mlst(ctx: CommandContext, arg: string): Promise<void> {
  const files = filesOf(ctx);
  const path = await files.realpath(virtualPath(ctx, arg || '.'));
  const stat = await files.stat(path);
  ctx.reply(250, [`Listing ${path}`, `${mlsxFacts(path, stat, ctx.policy!)} ${path}`, 'End']);
}

export async function dele(ctx: CommandContext, arg: string): Promise<void> {
  await filesOf(ctx).remove(virtualPath(ctx, arg));
  ctx.reply(250, 'Deleted');
}

export async function rmd(ctx: CommandContext, arg: string): Promise<void> {
  await filesOf(ctx).rmdir(virtualPath(ctx, arg));
  ctx.reply(250, 'Directory removed');
}

export async function mkd(ctx: CommandContext, arg: string): Promise<void> {
  const path = virtualPath(ctx, arg);
  await filesOf(ctx).mkdir(path);
  ctx.reply(257, `${quoted(path)} created`);
}

export async function rnfr(ctx: CommandContext, arg: string): Promise<void> {
  const path = virtualPath(ctx, arg);
  await filesOf(ctx).lstat(path);
  ctx.renameFrom = path;
  ctx.reply(350, 'Ready for RNTO');
}

export async function rnto(ctx: CommandContext, arg: string): Promise<void> {
  const from = ctx.renameFrom;
  if (from === undefined) throw new FtpReplyError(503, 'RNFR first');
  // Like every FTP server (and POSIX rename): an existing target is replaced when the user may overwrite it.
  await filesOf(ctx).rename(from, virtualPath(ctx, arg), { overwrite: true });
  ctx.reply(250, 'Renamed');
}

async function sha256Of(ctx: CommandContext, path: string): Promise<{ hex: string; size: number }> {
  const handle = await filesOf(ctx).openFile(path, {
    read: true,
    write: false,
    append: false,
    create: false,
    truncate: false,
    exclusive: false,
  });
  try {
    const stat = await handle.stat();
    const [digest] = await handle.checksum({ algorithm: 'sha256', offset: 0, length: 0, blockSize: 0 });
    return { hex: digest!.toString('hex'), size: stat.size };
  } finally {
    await handle.close();
  }
}

/** HASH path (draft-bryan-ftp-hash): `213 SHA-256 0-SIZE HEX path`; SHA-256 is the only algorithm offered. */
export async function hash(ctx: CommandContext, arg: string): Promise<void> {
  const { hex, size } = await sha256Of(ctx, virtualPath(ctx, arg));
  ctx.reply(213, `SHA-256 0-${size} ${hex} ${arg}`);
}

export async function xsha256(ctx: CommandContext, arg: string): Promise<void> {
  const { hex } = await sha256Of(ctx, virtualPath(ctx, arg));
  ctx.reply(213, hex);
}

/** A name in the working directory no file has (STOU). */
export function uniqueName(ctx: CommandContext): string {
  return virtualPath(ctx, `ftp-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
}
