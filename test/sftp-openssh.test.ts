// Real OpenSSH sftp (batch mode) and the ssh2 client against a real Ferry: every server-touching sftp command.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, type SFTPWrapper } from 'ssh2';
import { sha256File } from './helpers/files.js';
import { type RunResult, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'sftp-test-password';
// 2001-02-03T04:05:06Z: far from "now", so a kept mtime cannot be a coincidence.
const OLD_MTIME = 981_173_106;

let server: TestServer;
let work: string;
let home: string;

const alice = () => ({ port: server.port, user: 'alice', password: PASSWORD });

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Runs a batch in `work` and insists it succeeded. */
async function batch(lines: string[]): Promise<RunResult> {
  const r = await sftpBatch({ ...alice(), batch: `${lines.join('\n')}\n`, cwd: work });
  assert.equal(r.code, 0, `sftp failed:\n${r.stderr}\n${r.stdout}`);
  return r;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-sftp-'));
  // Larger than the 2 MiB SSH window and many 255 KiB requests, so pipelining and backpressure are exercised.
  await writeFile(join(work, 'big.bin'), randomBytes(5 * 1024 * 1024 + 17));
  await writeFile(join(work, 'small.txt'), 'hello sftp\n');
  await writeFile(join(work, 'old.txt'), 'kept times\n');
  await utimes(join(work, 'old.txt'), OLD_MTIME, OLD_MTIME);

  server = await startTestServer();
  await server.addUser('alice', { password: PASSWORD });
  home = await server.homeOf('alice');
  await mkdir(home, { recursive: true });
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('OpenSSH sftp', () => {
  test('put and get move files byte for byte, and ls / ls -l list them', async () => {
    const r = await batch(['put big.bin', 'put small.txt', 'get big.bin big.copy', 'ls', 'ls -l']);
    assert.equal(await sha256File(join(home, 'big.bin')), await sha256File(join(work, 'big.bin')));
    assert.equal(await sha256File(join(work, 'big.copy')), await sha256File(join(work, 'big.bin')));
    assert.match(r.stdout, /big\.bin\s+small\.txt/);
    const size = (await stat(join(work, 'big.bin'))).size;
    const longLine = r.stdout.split('\n').find((line) => line.startsWith('-') && line.endsWith(' big.bin'));
    assert.match(
      longLine ?? '',
      new RegExp(`^-rw-r--r-- +1 \\S+ +\\S+ +${size} \\w{3} [ \\d]\\d (\\d\\d:\\d\\d| \\d{4}) big\\.bin$`),
    );
  });

  test('put -p and get -p keep the modification time', async () => {
    await batch(['put -p old.txt old.txt', 'get -p old.txt old.back']);
    assert.equal(Math.round((await stat(join(home, 'old.txt'))).mtimeMs / 1000), OLD_MTIME);
    assert.equal(Math.round((await stat(join(work, 'old.back'))).mtimeMs / 1000), OLD_MTIME);
    assert.equal(await sha256File(join(work, 'old.back')), await sha256File(join(work, 'old.txt')));
  });

  test('reput continues an upload that stopped part way', async () => {
    const whole = await readFile(join(work, 'big.bin'));
    await writeFile(join(home, 'resumed.bin'), whole.subarray(0, 1024 * 1024 + 5));
    await batch(['reput big.bin resumed.bin']);
    assert.equal(await sha256File(join(home, 'resumed.bin')), await sha256File(join(work, 'big.bin')));
  });

  test('reget continues a download that stopped part way', async () => {
    await writeFile(join(home, 'fetch.bin'), await readFile(join(work, 'big.bin')));
    const whole = await readFile(join(work, 'big.bin'));
    await writeFile(join(work, 'fetch.part'), whole.subarray(0, 2 * 1024 * 1024 + 9));
    await batch(['reget fetch.bin fetch.part']);
    assert.equal(await sha256File(join(work, 'fetch.part')), await sha256File(join(work, 'big.bin')));
  });

  test('cd, pwd, mkdir, rename, rm and rmdir act on the remote tree', async () => {
    const r = await batch([
      'mkdir docs',
      'cd docs',
      'pwd',
      'put small.txt note.txt',
      'rename note.txt renamed.txt',
      'ls',
      'rm renamed.txt',
      'cd ..',
      'rmdir docs',
    ]);
    assert.match(r.stdout, /Remote working directory: \/docs/);
    assert.match(r.stdout, /renamed\.txt/);
    assert.equal(await exists(join(home, 'docs')), false);
  });

  test('rename refuses to replace an existing file only where v3 says so (posix-rename replaces)', async () => {
    await writeFile(join(home, 'r-src.txt'), 'source');
    await writeFile(join(home, 'r-dst.txt'), 'target');
    // OpenSSH's rename uses posix-rename@openssh.com when offered, which replaces the target.
    await batch(['rename r-src.txt r-dst.txt']);
    assert.equal(await readFile(join(home, 'r-dst.txt'), 'utf8'), 'source');
    assert.equal(await exists(join(home, 'r-src.txt')), false);
  });

  test('ln makes a hard link and ln -s a symbolic link', async () => {
    await writeFile(join(home, 'target.txt'), 'linked');
    await batch(['ln target.txt hard.txt', 'ln -s target.txt soft.txt', 'get soft.txt soft.copy']);
    assert.equal((await stat(join(home, 'hard.txt'))).ino, (await stat(join(home, 'target.txt'))).ino);
    assert.ok((await lstat(join(home, 'soft.txt'))).isSymbolicLink());
    assert.match(await readlink(join(home, 'soft.txt')), /target\.txt$/);
    assert.equal(await readFile(join(work, 'soft.copy'), 'utf8'), 'linked');
  });

  test('chmod changes permission bits', async () => {
    await writeFile(join(home, 'mode.txt'), 'x', { mode: 0o644 });
    await batch(['chmod 600 mode.txt']);
    assert.equal((await stat(join(home, 'mode.txt'))).mode & 0o777, 0o600);
  });

  test('df reports the file system through statvfs@openssh.com', async () => {
    const r = await batch(['df', 'df -h', 'df -i']);
    assert.match(r.stdout, /Size\s+Used\s+Avail/);
    assert.match(r.stdout, /Inodes\s+Used\s+Avail/);
  });

  test('a missing file fails the batch with the server message', async () => {
    const r = await sftpBatch({ ...alice(), batch: 'get no-such-file.txt\n', cwd: work });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not found|No such file/);
  });
});

function connect(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: server.port, username: 'alice', password: PASSWORD });
  });
}

function openSftp(client: Client): Promise<SFTPWrapper> {
  return promisify(client.sftp.bind(client))();
}

/** Collects raw SFTP replies from a subsystem channel and hands out whole packets. */
function packetsOf(stream: NodeJS.ReadableStream): () => Promise<Buffer> {
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  stream.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  return async () => {
    for (;;) {
      if (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        const length = buffered.readUInt32BE(0);
        const packet = buffered.subarray(4, 4 + length);
        buffered = buffered.subarray(4 + length);
        return packet;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
}

describe('ssh2 client', () => {
  test('fastPut, fastGet, readdir, stat, rename, statvfs and unlink work', async () => {
    const client = await connect();
    try {
      const sftp = await openSftp(client);
      await new Promise<void>((resolve, reject) =>
        sftp.fastPut(join(work, 'big.bin'), 'ssh2.bin', (err) => (err ? reject(err) : resolve())),
      );
      assert.equal(await sha256File(join(home, 'ssh2.bin')), await sha256File(join(work, 'big.bin')));
      await new Promise<void>((resolve, reject) =>
        sftp.fastGet('ssh2.bin', join(work, 'ssh2.back'), (err) => (err ? reject(err) : resolve())),
      );
      assert.equal(await sha256File(join(work, 'ssh2.back')), await sha256File(join(work, 'big.bin')));

      const names = (await promisify(sftp.readdir.bind(sftp))('/')).map((entry) => entry.filename);
      assert.ok(names.includes('ssh2.bin'));
      assert.equal(
        (await promisify(sftp.stat.bind(sftp))('/ssh2.bin')).size,
        (await stat(join(work, 'big.bin'))).size,
      );

      await promisify(sftp.rename.bind(sftp))('/ssh2.bin', '/ssh2-renamed.bin');
      const vfs = await new Promise<{ f_bsize: number }>((resolve, reject) =>
        sftp.ext_openssh_statvfs('/', (err, info) => (err ? reject(err) : resolve(info))),
      );
      assert.ok(vfs.f_bsize > 0);
      await promisify(sftp.unlink.bind(sftp))('/ssh2-renamed.bin');
      assert.equal(await exists(join(home, 'ssh2-renamed.bin')), false);
      await assert.rejects(promisify(sftp.stat.bind(sftp))('/ssh2-renamed.bin'), /No such file/);
    } finally {
      client.end();
    }
  });
});

describe('malformed packets', () => {
  test('end only their own SFTP session: another session on the same connection keeps working', async () => {
    const client = await connect();
    try {
      const healthy = await openSftp(client);
      const raw = await promisify(client.subsys.bind(client))('sftp');
      const next = packetsOf(raw);
      const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));

      raw.write(Buffer.from([0, 0, 0, 5, 1, 0, 0, 0, 3])); // INIT v3
      assert.equal((await next())[0], 2); // VERSION
      // OPEN whose filename claims 1000 bytes in a 12-byte packet.
      raw.write(Buffer.from([0, 0, 0, 12, 3, 0, 0, 0, 1, 0, 0, 3, 0xe8, 0x61, 0x62, 0x63]));
      await closed;

      const names = (await promisify(healthy.readdir.bind(healthy))('/')).map((entry) => entry.filename);
      assert.ok(names.includes('small.txt'));
    } finally {
      client.end();
    }
  });

  test('an oversized packet length ends the session without reading the rest', async () => {
    const client = await connect();
    try {
      const raw = await promisify(client.subsys.bind(client))('sftp');
      const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
      // ssh2 reports 'close' only after the stream is read to its end.
      raw.resume();
      raw.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1]));
      await closed;
    } finally {
      client.end();
    }
  });
});
