// The floor of the single-stream rows: Ferry's own SSH transport (ssh2 with Ferry's patch, a TCP_NODELAY socket
// handed in and the file channel's window reserve, as Ferry's server does) and Ferry's own SFTP layer
// (src/sftp/server.ts with its default limits), over a file session that does no file work. Uploads are dropped
// as they arrive; downloads copy from one file held in memory (SOURCE) into the SFTP layer's READ buffers. No
// core, no jail, no store, no audit, no hash, no disk: what OpenSSH's client reaches against it is the most
// Ferry's transport and SFTP layer can give that client on this machine, whatever the file path behind them does.
// Bench-only: it accepts any client (loopback, an ephemeral port) and prints its port. Run with
// `node --import tsx`.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import ssh2 from 'ssh2';
import type { DirHandle, FileHandle, FileSession, FileStat, OpenMode } from '../../src/core/types.js';
import { NotFoundError } from '../../src/errors.js';
import { rootLogger } from '../../src/logger.js';
import { serveSftp } from '../../src/sftp/server.js';
import { reserveFileChannelWindow } from '../../src/ssh/window-reserve.js';

const source = readFileSync(process.env.SOURCE ?? '');
// The one file a download can ask for; every other name is the upload's target (dropped) or a directory.
const DOWNLOAD = '/floor/down.bin';

/** What no client of the bench asks for. */
const refuse = async (): Promise<never> => {
  throw new Error('not in the floor');
};

function stat(kind: 'file' | 'directory', size: number): FileStat {
  return {
    kind,
    mode: kind === 'file' ? 0o100644 : 0o040755,
    size,
    uid: 0,
    gid: 0,
    owner: 'floor',
    group: 'floor',
    nlink: 1,
    atime: 0,
    mtime: 0,
  };
}

function handle(path: string, mode: OpenMode): FileHandle {
  const content = path === DOWNLOAD ? source : Buffer.alloc(0);
  return {
    path,
    mode,
    async read(offset, length, headroom = 0, into) {
      const data = content.subarray(offset, offset + length);
      const framed =
        into && into.length >= headroom + data.length ? into : Buffer.allocUnsafe(headroom + data.length);
      data.copy(framed, headroom);
      return framed.subarray(0, headroom + data.length);
    },
    async write() {},
    async stat() {
      return stat('file', content.length);
    },
    async setstat() {},
    async sync() {},
    hash: refuse,
    checksum: refuse,
    async close() {},
  };
}

function zeroWorkSession(): FileSession {
  const statOf = async (path: string): Promise<FileStat> => {
    if (path === DOWNLOAD) return stat('file', source.length);
    if (/\.[^/]*$/.test(path)) throw new NotFoundError();
    return stat('directory', 4096);
  };
  return {
    identity: {
      sessionId: 'floor',
      username: 'floor',
      homeDir: '/',
      permissions: { '/': ['*'] },
      remoteAddress: '127.0.0.1',
      protocol: 'sftp',
    },
    async realpath(path) {
      return path.startsWith('/') ? path : `/${path === '.' ? '' : path}`;
    },
    stat: statOf,
    lstat: statOf,
    async setstat() {},
    async openFile(path, mode) {
      return handle(path, mode);
    },
    openDir: refuse as () => Promise<DirHandle>,
    remove: refuse,
    mkdir: refuse,
    rmdir: refuse,
    rename: refuse,
    readlink: refuse,
    symlink: refuse,
    hardlink: refuse,
    statvfs: refuse,
    copyData: refuse,
    async close() {},
  };
}

const logger = rootLogger.child({ logger: 'floor' }, { level: 'silent' });
const ssh = new ssh2.Server({ hostKeys: [readFileSync(process.env.HOST_KEY ?? '')] }, (client) => {
  client.on('error', () => {});
  client.on('authentication', (ctx) => ctx.accept());
  client.on('ready', () => {
    client.on('session', (acceptSession) => {
      const session = acceptSession();
      const confirmedAt = performance.now();
      session.on('subsystem', (accept, reject, info) => {
        const roundTripMs = performance.now() - confirmedAt;
        if (info.name !== 'sftp') return reject();
        // As Ferry's server does with a file channel (src/ssh/channels.ts).
        const channel = accept();
        reserveFileChannelWindow(channel, roundTripMs);
        void serveSftp(channel, zeroWorkSession(), { logger });
      });
    });
  });
});
const net = createServer({ noDelay: true }, (socket) => {
  socket.setNoDelay(true);
  ssh.injectSocket(socket);
});
net.listen(0, '127.0.0.1', () => {
  const address = net.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
