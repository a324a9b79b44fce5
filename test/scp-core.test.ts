// The scp adapter over the real core and local disk, with a PassThrough pair as the channel and the test as the peer.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createFileSessionFactory } from '../src/core/file-session.js';
import type { FileSessionFactory } from '../src/core/types.js';
import { EventBus } from '../src/events/bus.js';
import type { FerryEvent, TransferEvent } from '../src/events/types.js';
import { rootLogger } from '../src/logger.js';
import type { PermissionMap } from '../src/permission-vocabulary.js';
import { ChannelReader, type ScpChannel } from '../src/scp/channel-io.js';
import { parseScpCommand, serveScp } from '../src/scp/server.js';
import { localHomeFs } from '../src/vfs/local/local-fs.js';

// Quiet unless asked: failures here are expected and logged by design.
const logger = rootLogger.child({}, { level: process.env.FERRY_LOG_LEVEL ?? 'silent' });
const OLD_MTIME = 981_173_106;

let root: string;
let home: string;
let factory: FileSessionFactory;
const events: FerryEvent[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ferry-scp-core-'));
  home = join(root, 'home');
  await mkdir(home);
  const bus = new EventBus(logger);
  bus.subscribe((event) => events.push(event));
  factory = createFileSessionFactory({ events: bus, logger, fs: localHomeFs });
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** The client end of one scp exec: write what a client sends, read what it would read. */
interface Peer {
  send(data: string | Buffer): void;
  /** One response byte, and the message line after \x01/\x02. */
  response(): Promise<{ code: number; message: string }>;
  line(): Promise<string | null>;
  bytes(length: number): Promise<Buffer>;
  hangUp(): void;
  /** serveScp's promise, with the exit status it set. */
  done: Promise<number | null>;
}

function startScp(command: string, permissions: PermissionMap = { '/': ['*'] }): Peer {
  const fromPeer = new PassThrough();
  const toPeer = new PassThrough();
  const channel = Duplex.from({ readable: fromPeer, writable: toPeer }) as unknown as ScpChannel;
  let status: number | null = null;
  channel.exit = (code: number) => {
    status = code;
  };
  const parsed = parseScpCommand(command);
  assert.ok(parsed, command);
  const session = factory({
    sessionId: 'scp-test',
    username: 'alice',
    homeDir: home,
    permissions,
    remoteAddress: '127.0.0.1',
    protocol: 'scp',
  });
  const reader = new ChannelReader(toPeer);
  const tooLong = () => new Error('line too long');
  return {
    send: (data) => fromPeer.write(data),
    response: async () => {
      const code = await reader.readByte();
      assert.notEqual(code, null, 'server hung up instead of answering');
      const message = code === 0 ? '' : ((await reader.readLine(4096, tooLong)) ?? '');
      return { code: code!, message };
    },
    line: () => reader.readLine(4096, tooLong),
    bytes: async (length) => {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < length) {
        const chunk = await reader.readUpTo(length - got);
        assert.ok(chunk, 'server hung up in the middle of a file');
        parts.push(chunk);
        got += chunk.length;
      }
      return Buffer.concat(parts);
    },
    hangUp: () => fromPeer.end(),
    done: serveScp(channel, parsed, session, { logger }).then(() => status),
  };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function upload(
  peer: Peer,
  name: string,
  data: Buffer,
  mode = '0644',
): Promise<{ code: number; message: string }> {
  peer.send(`C${mode} ${data.length} ${name}\n`);
  const opened = await peer.response();
  if (opened.code !== 0) return opened;
  peer.send(data);
  peer.send(Buffer.alloc(1));
  return peer.response();
}

describe('scp sink through the core', () => {
  test('uploads a file larger than one write chunk, atomically and with a completed event', async () => {
    const data = randomBytes(700 * 1024 + 5);
    const peer = startScp('scp -t .');
    assert.equal((await peer.response()).code, 0);
    assert.deepEqual(await upload(peer, 'big.bin', data), { code: 0, message: '' });
    peer.hangUp();
    assert.equal(await peer.done, 0);
    assert.equal(sha256(await readFile(join(home, 'big.bin'))), sha256(data));
    const uploads = events.filter(
      (e): e is TransferEvent => e.type === 'transfer' && e.direction === 'upload' && e.path === '/big.bin',
    );
    assert.equal(uploads.length, 1);
    assert.equal(uploads[0]?.completed, true);
    assert.equal(uploads[0]?.protocol, 'scp');
  });

  test('receives a tree with -r -p, keeping times on files and directories', async () => {
    const peer = startScp('scp -r -p -t .');
    assert.equal((await peer.response()).code, 0);
    peer.send(`T${OLD_MTIME} 0 ${OLD_MTIME} 0\n`);
    assert.equal((await peer.response()).code, 0);
    peer.send('D0750 0 tree\n');
    assert.equal((await peer.response()).code, 0);
    peer.send(`T${OLD_MTIME} 0 ${OLD_MTIME} 0\n`);
    assert.equal((await peer.response()).code, 0);
    assert.equal((await upload(peer, 'a.txt', Buffer.from('alpha\n'), '0600')).code, 0);
    assert.equal((await upload(peer, 'empty', Buffer.alloc(0))).code, 0);
    peer.send('E\n');
    assert.equal((await peer.response()).code, 0);
    peer.hangUp();
    assert.equal(await peer.done, 0);
    const file = await stat(join(home, 'tree', 'a.txt'));
    assert.equal(Math.floor(file.mtimeMs / 1000), OLD_MTIME);
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal(Math.floor((await stat(join(home, 'tree'))).mtimeMs / 1000), OLD_MTIME);
    assert.equal((await stat(join(home, 'tree', 'empty'))).size, 0);
  });

  test('does not publish an upload the peer could not finish reading', async () => {
    const peer = startScp('scp -t .');
    await peer.response();
    peer.send('C0644 4 torn.bin\n');
    assert.equal((await peer.response()).code, 0);
    peer.send('\0\0\0\0\x01scp: torn.bin: Input/output error\n');
    assert.equal((await peer.response()).code, 0);
    peer.hangUp();
    assert.equal(await peer.done, 1);
    assert.equal((await readdir(home)).includes('torn.bin'), false);
  });

  test('refuses an upload into a download-only home with Permission denied', async () => {
    const peer = startScp('scp -t .', { '/': ['list', 'download'] });
    await peer.response();
    assert.deepEqual(await upload(peer, 'nope.txt', Buffer.from('x')), {
      code: 1,
      message: 'scp: ./nope.txt: Permission denied',
    });
    peer.hangUp();
    assert.equal(await peer.done, 1);
  });

  test('keeps a climbing target inside the home', async () => {
    const peer = startScp('scp -t ../../..');
    const first = await peer.response();
    if (first.code === 0) await upload(peer, 'climbed.txt', Buffer.from('x'));
    peer.hangUp();
    await peer.done;
    assert.equal((await readdir(root)).sort().join(), 'home');
  });
});

describe('scp source through the core', () => {
  test('sends a file with its times and exact bytes', async () => {
    const data = randomBytes(600 * 1024 + 1);
    await writeFile(join(home, 'out.bin'), data, { mode: 0o640 });
    await utimes(join(home, 'out.bin'), OLD_MTIME, OLD_MTIME);
    const peer = startScp('scp -p -f out.bin');
    peer.send('\0');
    assert.equal(await peer.line(), `T${OLD_MTIME} 0 ${OLD_MTIME} 0`);
    peer.send('\0');
    assert.equal(await peer.line(), `C0640 ${data.length} out.bin`);
    peer.send('\0');
    assert.equal(sha256(await peer.bytes(data.length)), sha256(data));
    assert.equal((await peer.response()).code, 0);
    peer.send('\0');
    peer.hangUp();
    assert.equal(await peer.done, 0);
  });

  test('sends a directory tree with D and E records', async () => {
    await mkdir(join(home, 'pack', 'inner'), { recursive: true });
    await writeFile(join(home, 'pack', 'inner', 'x.txt'), 'xx');
    const peer = startScp('scp -r -f pack');
    peer.send('\0');
    const seen: string[] = [];
    for (;;) {
      const line = await peer.line();
      if (line === null) break;
      seen.push(line);
      peer.send('\0');
      if (line.startsWith('C')) {
        await peer.bytes(Number(line.split(' ')[1]));
        assert.equal((await peer.response()).code, 0);
        peer.send('\0');
      }
      if (line === 'E' && seen.filter((l) => l === 'E').length === 2) break;
    }
    peer.hangUp();
    assert.equal(await peer.done, 0);
    assert.deepEqual(
      seen.map((l) => l.replace(/^([CD])\d{4}/, '$1')),
      ['D 0 pack', 'D 0 inner', 'C 2 x.txt', 'E', 'E'],
    );
  });

  test('reports a missing file and one the user may not download', async () => {
    await writeFile(join(home, 'secret.txt'), 's');
    const missing = startScp('scp -f nothing-here');
    missing.send('\0');
    assert.deepEqual(await missing.response(), {
      code: 1,
      message: 'scp: nothing-here: No such file or directory',
    });
    assert.equal(await missing.done, 1);

    const denied = startScp('scp -f secret.txt', { '/': ['list'] });
    denied.send('\0');
    assert.deepEqual(await denied.response(), { code: 1, message: 'scp: secret.txt: Permission denied' });
    assert.equal(await denied.done, 1);
  });
});
