// The floor of the small-file rows: an SFTP server on the same SSH library as Ferry (ssh2, with Ferry's patch)
// that does no file work at all. Uploads are answered at once and their data dropped; downloads read a made-up
// directory of FILES files of SIZE bytes of zeros. No store, no audit, no hash, no disk: whatever rate OpenSSH's
// client reaches against it is the most any server built on this stack can give that client on this machine.
// Bench-only: it accepts any client (loopback, an ephemeral port, the bench's own key) and prints its port.
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

const { Server, utils } = ssh2;
const { STATUS_CODE, OPEN_MODE } = utils.sftp;
const FILES = Number(process.env.FILES ?? 10_000);
const SIZE = Number(process.env.SIZE ?? 4096);
const zeros = Buffer.alloc(SIZE);
const fileAttrs = { mode: 0o100644, uid: 0, gid: 0, size: SIZE, atime: 0, mtime: 0 };
const dirAttrs = { mode: 0o040755, uid: 0, gid: 0, size: 4096, atime: 0, mtime: 0 };
const names = Array.from({ length: FILES }, (_, i) => `f${String(i).padStart(6, '0')}.bin`);
// A READDIR answer must fit one SSH packet: a hundred names is ~8 KiB.
const NAMES_PER_READDIR = 100;
// A name with a dot in its last segment is a file (the bench's are f-00001.edi); every other path is a directory
// (the upload's target and its subdirectories).
const attrsOf = (path) => (/\.[^/]*$/.test(path) ? fileAttrs : dirAttrs);

function serveSftp(sftp) {
  const handles = new Map();
  let nextHandle = 0;
  const open = (state) => {
    const handle = Buffer.alloc(4);
    handle.writeUInt32BE(nextHandle);
    handles.set(nextHandle++, state);
    return handle;
  };
  const stateOf = (handle) => handles.get(handle.readUInt32BE(0));
  const ok = (id) => sftp.status(id, STATUS_CODE.OK);
  // The client ends its side when its batch is done; sshd's sftp-server exits then, which closes the channel.
  sftp.on('end', () => sftp.end());
  sftp.on('REALPATH', (id, path) =>
    sftp.name(id, [{ filename: path === '.' ? '/' : path, longname: '', attrs: dirAttrs }]),
  );
  sftp.on('STAT', (id, path) => sftp.attrs(id, attrsOf(path)));
  sftp.on('LSTAT', (id, path) => sftp.attrs(id, attrsOf(path)));
  sftp.on('MKDIR', ok);
  sftp.on('SETSTAT', ok);
  sftp.on('FSETSTAT', ok);
  sftp.on('OPEN', (id, path, flags) =>
    sftp.handle(id, open({ path, write: (flags & OPEN_MODE.WRITE) !== 0 })),
  );
  sftp.on('FSTAT', (id) => sftp.attrs(id, fileAttrs));
  sftp.on('WRITE', ok);
  sftp.on('READ', (id, _handle, offset, length) => {
    if (offset >= SIZE) return sftp.status(id, STATUS_CODE.EOF);
    sftp.data(id, zeros.subarray(offset, Math.min(SIZE, offset + length)));
  });
  sftp.on('OPENDIR', (id, path) => sftp.handle(id, open({ path, listed: 0 })));
  sftp.on('READDIR', (id, handle) => {
    const state = stateOf(handle);
    if (!state || state.listed >= names.length) return sftp.status(id, STATUS_CODE.EOF);
    const batch = names.slice(state.listed, state.listed + NAMES_PER_READDIR);
    state.listed += batch.length;
    sftp.name(
      id,
      batch.map((filename) => ({
        filename,
        longname: `-rw-r--r--    1 0        0            ${SIZE} Jan  1 00:00 ${filename}`,
        attrs: fileAttrs,
      })),
    );
  });
  sftp.on('CLOSE', (id, handle) => {
    handles.delete(handle.readUInt32BE(0));
    ok(id);
  });
}

const server = new Server({ hostKeys: [readFileSync(process.env.HOST_KEY)] }, (client) => {
  client.on('error', () => {});
  client.on('authentication', (ctx) => ctx.accept());
  client.on('ready', () => {
    client.on('session', (acceptSession) => {
      acceptSession().on('sftp', (acceptSftp) => serveSftp(acceptSftp()));
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
