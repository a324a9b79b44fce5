// The home a fuzzed SFTP session works in (with sentinel files outside it and a planted escaping link), and the
// session played over an in-memory channel against a real core session.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Duplex } from 'node:stream';
import { createFileSessionFactory } from '../core/file-session.js';
import type { FileSession } from '../core/types.js';
import { EventBus } from '../events/bus.js';
import { localHomeFs } from '../vfs/local/local-fs.js';
import { logger } from './fuzz-fixture.js';
import { serveSftp } from './server.js';
import type { SessionScript } from './session-fuzz-packets-fixture.js';
import { DEFAULT_MAX_PACKET_LENGTH, FXP } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';

/** Unguessable text in every file outside the home: no reply may ever carry it. */
export const MARKER = `ferry-sentinel-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24)}`;

export async function resetHome(base: string, home: string): Promise<void> {
  await rm(home, { recursive: true, force: true });
  await mkdir(join(home, 'dir', 'sub'), { recursive: true, mode: 0o700 });
  await writeFile(join(home, 'inside.txt'), 'inside');
  await writeFile(join(home, 'dir', 'sub', 'file.txt'), Buffer.alloc(70_000, 7));
  const links: Array<[target: string, name: string]> = [
    ['../../sentinel', 'out'],
    [join(base, 'sentinel', 'secret.txt'), 'abs-file'],
    ['../../sentinel/created-by-fuzz', 'dangling'],
    ['loop', 'loop'],
    ['dir/sub', 'inside-link'],
    ['../..', join('dir', 'up')],
  ];
  for (const [target, name] of links) await symlink(target, join(home, name));
}

export interface FuzzHome {
  readonly base: string;
  readonly homeDir: string;
  /** A fresh core session for the home; nothing keeps it (or its events) once it is closed. */
  open(): FileSession;
  cleanup(): Promise<void>;
}

/** base/sentinel (outside, marked) and base/homes/alice (the home), with a session factory that retains nothing. */
export async function makeFuzzHome(): Promise<FuzzHome> {
  const base = await mkdtemp(join(tmpdir(), 'ferry-fuzz-'));
  const homeDir = join(base, 'homes', 'alice');
  await mkdir(join(base, 'sentinel', `leak-${MARKER}`), { recursive: true });
  await writeFile(join(base, 'sentinel', 'secret.txt'), MARKER);
  await resetHome(base, homeDir);
  const factory = createFileSessionFactory({ events: new EventBus(), logger, fs: localHomeFs });
  let n = 0;
  return {
    base,
    homeDir,
    open: () =>
      factory({
        sessionId: `fuzz-${++n}`,
        username: 'alice',
        homeDir,
        permissions: { '/': ['*'] },
        remoteAddress: '192.0.2.9',
        protocol: 'sftp',
      }),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

/** Everything under `base` except the home: kind, mode, size, times and content. */
export async function snapshotOutside(base: string, home: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      if (path === home) continue;
      const st = await lstat(path);
      // The home's parent changes whenever the home is recreated; new siblings still show up as entries.
      const times = path === posix.dirname(home) ? '' : `${st.mtimeMs} ${st.ctimeMs} ${st.nlink}`;
      let content = '';
      if (st.isFile())
        content = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
      if (st.isSymbolicLink()) content = await readlink(path);
      lines.push(`${path} ${st.mode} ${st.size} ${times} ${content}`);
      if (st.isDirectory()) await walk(path);
    }
  };
  await walk(base);
  return lines.join('\n');
}

/** The server end of an SSH channel in memory; everything the server writes is framed as the client would. */
export class MemoryChannel extends Duplex {
  readonly replies: Buffer[] = [];
  readonly #framer = new PacketFramer(DEFAULT_MAX_PACKET_LENGTH + 1024);

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#framer.push(chunk);
    // A malformed reply throws here and fails the run: replies must always frame.
    for (let p = this.#framer.next(); p; p = this.#framer.next()) this.replies.push(Buffer.from(p));
    callback();
  }
}

export const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Serves one fuzzed session; resolves with the replies once serveSftp has resolved. */
export async function playSession(fx: FuzzHome, script: SessionScript): Promise<Buffer[]> {
  const channel = new MemoryChannel();
  let over = false;
  const served = serveSftp(channel, fx.open(), { logger }).then(() => {
    over = true;
  });
  const packets = [...script.start, ...script.packets];
  if (script.waitEvery === 0) {
    const stream = Buffer.concat(packets.map((p) => p.bytes));
    let offset = 0;
    for (const cut of [...script.cuts, stream.length]) {
      if (offset >= stream.length) break;
      channel.push(stream.subarray(offset, offset + cut));
      offset += cut;
      // Let requests run between chunks, as they would between network reads.
      await nextTick();
    }
  } else {
    let owed = 0;
    for (const [i, packet] of packets.entries()) {
      if (over) break;
      channel.push(packet.bytes);
      if (packet.answered) owed++;
      if ((i + 1) % script.waitEvery !== 0) continue;
      const deadline = Date.now() + 200;
      while (!over && channel.replies.length < owed && Date.now() < deadline) await nextTick();
    }
  }
  if (script.ending === 'end') channel.push(null);
  else channel.destroy();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 20_000);
  });
  const outcome = await Promise.race([served.then(() => 'served' as const), timeout]);
  clearTimeout(timer);
  assert.equal(outcome, 'served', 'serveSftp did not resolve');
  return channel.replies;
}

export const REPLY_TYPES = new Set<number>([
  FXP.VERSION,
  FXP.STATUS,
  FXP.HANDLE,
  FXP.DATA,
  FXP.NAME,
  FXP.ATTRS,
  FXP.EXTENDED_REPLY,
]);
