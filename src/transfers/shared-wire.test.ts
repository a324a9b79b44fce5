// The client engine and the server speak one wire module: the server's encoders' output is read by the client,
// a status goes out and comes back through one table, and no second packet or ATTRS parser exists.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { FerryError, type FerryErrorCode } from '../errors.js';
import { statusFromError } from '../sftp/status.js';
import { EXT, FX, FXP, type StatusCode } from '../sftp/wire/constants.js';
import type { Attrs, NameEntry } from '../sftp/wire/reader.js';
import { STATUS_MESSAGES, statusForErrorCode } from '../sftp/wire/status.js';
import {
  encodeAttrs,
  encodeExtendedReply,
  encodeHandle,
  encodeName,
  encodeStatus,
} from '../sftp/wire/writer.js';
import { scriptedServer } from './scripted-server-fixture.js';
import { SftpStatusError } from './sftp-channel.js';
import { SftpClient } from './sftp-client.js';

const EVERY_FIELD: Attrs = {
  size: 2 ** 40 + 7,
  uid: 1000,
  gid: 1001,
  permissions: 0o100640,
  atime: 1_700_000_000,
  mtime: 1_700_000_123,
  extended: [['acl@example.com', Buffer.from('user::rw-')]],
};

describe('the client reads what the server writes', () => {
  it('gets back every ATTRS field the server encodes, extended pairs included', async () => {
    const client = await SftpClient.start(
      scriptedServer((type, id, r) => {
        assert.equal(type, FXP.STAT);
        assert.equal(r.utf8(), '/report.csv');
        return encodeAttrs(id, EVERY_FIELD);
      }),
    );
    assert.deepEqual(await client.stat('/report.csv'), EVERY_FIELD);
    assert.deepEqual(await client.stat('/report.csv'), EVERY_FIELD);
  });

  it('lists a directory from the server NAME batches up to its EOF', async () => {
    const batches: NameEntry[][] = [
      [
        { filename: '.', longname: 'drwx------ .', attrs: { permissions: 0o040700 } },
        { filename: 'a.txt', longname: '-rw-r----- a.txt', attrs: { size: 3, permissions: 0o100640 } },
      ],
      [{ filename: 'b', longname: 'drwxr-x--- b', attrs: { uid: 7, gid: 8, permissions: 0o040750 } }],
    ];
    const client = await SftpClient.start(
      scriptedServer((type, id) => {
        if (type === FXP.OPENDIR) return encodeHandle(id, Buffer.from([0, 0, 0, 1]));
        if (type === FXP.READDIR) {
          const batch = batches.shift();
          return batch ? encodeName(id, batch) : encodeStatus(id, FX.EOF, STATUS_MESSAGES[FX.EOF]);
        }
        assert.equal(type, FXP.CLOSE);
        return encodeStatus(id, FX.OK, STATUS_MESSAGES[FX.OK]);
      }),
    );
    assert.deepEqual(
      (await client.list('/')).map((e) => [e.filename, e.attrs]),
      [
        ['a.txt', { size: 3, permissions: 0o100640 }],
        ['b', { uid: 7, gid: 8, permissions: 0o040750 }],
      ],
    );
  });

  it('reads the limits and check-file replies the server encodes for its extensions', async () => {
    const digest = Buffer.alloc(32, 0xab);
    const client = await SftpClient.start(
      scriptedServer(
        (type, id, r) => {
          assert.equal(type, FXP.EXTENDED);
          const name = r.utf8();
          if (name === EXT.LIMITS)
            return encodeExtendedReply(id, (w) => w.uint64(262144).uint64(261120).uint64(261120).uint64(256));
          assert.equal(name, EXT.CHECK_FILE_NAME);
          return encodeExtendedReply(id, (w) => w.string(EXT.CHECK_FILE_REPLY).string('sha256').raw(digest));
        },
        {
          extensions: [
            [EXT.LIMITS, '1'],
            [EXT.CHECK_FILE_NAME, '1'],
            [EXT.CHECK_FILE_HANDLE, '1'],
          ],
        },
      ),
    );
    assert.equal(client.limits?.maxReadLength, 261120);
    assert.equal(client.readChunk, 261120);
    assert.equal(await client.sha256('/big.bin'), digest.toString('hex'));
  });
});

describe('one status table, two directions', () => {
  const ERROR_CODES: readonly FerryErrorCode[] = [
    'ERR_NOT_FOUND',
    'ERR_PERMISSION_DENIED',
    'ERR_ALREADY_EXISTS',
    'ERR_NOT_A_DIRECTORY',
    'ERR_IS_A_DIRECTORY',
    'ERR_DIRECTORY_NOT_EMPTY',
    'ERR_INVALID_PATH',
    'ERR_INVALID_ARGUMENT',
    'ERR_UNSUPPORTED',
    'ERR_NO_SPACE',
    'ERR_LIMIT',
    'ERR_CONFIG',
    'ERR_PROTOCOL',
    'ERR_IO',
    'ERR_AUDIT_UNAVAILABLE',
  ];

  it('reads every status the server sends for an error back as an error the server sends the same way', async () => {
    let failWith: FerryErrorCode = 'ERR_IO';
    const client = await SftpClient.start(
      scriptedServer((_type, id) => {
        const status = statusFromError(new FerryError(failWith, '/srv/secret/path'));
        return encodeStatus(id, status.code, status.message);
      }),
    );
    for (const code of ERROR_CODES) {
      failWith = code;
      const sent = statusForErrorCode(code);
      const err = await client.remove('/x').then(
        () => assert.fail(`${code}: remove succeeded`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof SftpStatusError, code);
      assert.equal(err.sftpCode, sent.code, code);
      assert.equal(err.message, `remove /x: ${sent.message}`, code);
      assert.deepEqual(statusForErrorCode(err.code), sent, `${code} came back as ${err.code}`);
    }
  });

  it('reads the plain v3 codes as the client always did, and codes no row sends as I/O errors', async () => {
    let reply: { code: number; message: string } = { code: FX.OK, message: '' };
    const client = await SftpClient.start(
      scriptedServer((_type, id) => encodeStatus(id, reply.code as StatusCode, reply.message)),
    );
    const expected: Array<[number, FerryErrorCode]> = [
      [FX.NO_SUCH_FILE, 'ERR_NOT_FOUND'],
      [FX.PERMISSION_DENIED, 'ERR_PERMISSION_DENIED'],
      [FX.OP_UNSUPPORTED, 'ERR_UNSUPPORTED'],
      [FX.FAILURE, 'ERR_IO'],
      [FX.EOF, 'ERR_IO'],
      [FX.NO_CONNECTION, 'ERR_IO'],
      [FX.CONNECTION_LOST, 'ERR_IO'],
      [42, 'ERR_IO'],
    ];
    for (const [code, errorCode] of expected) {
      reply = { code, message: code === 42 ? '' : STATUS_MESSAGES[code as StatusCode] };
      await assert.rejects(client.mkdir('/d'), { code: errorCode, sftpCode: code });
    }
    reply = { code: 42, message: '' };
    await assert.rejects(client.mkdir('/d'), { message: 'mkdir /d: SFTP status 42' });
  });
});

describe('there is one SFTP wire codec', () => {
  const SRC = resolve(import.meta.dirname, '..');
  const WIRE = join(SRC, 'sftp', 'wire');
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return sources(path);
      // The code that ships: tests and their fixtures (left out of the build) may frame packets by hand.
      return e.name.endsWith('.ts') && !/(\.test|-fixture)\.ts$/.test(e.name) ? [path] : [];
    });
  const speakers = [...sources(join(SRC, 'sftp')), ...sources(join(SRC, 'transfers'))].filter(
    (f) => !f.startsWith(`${WIRE}/`),
  );

  it('decodes and encodes ATTRS flags only in sftp/wire', () => {
    const offenders = speakers.filter((f) =>
      /\bATTR\.(SIZE|UIDGID|PERMISSIONS|ACMODTIME|EXTENDED)\b/.test(read(f)),
    );
    assert.deepEqual(
      offenders.map((f) => relative(SRC, f)),
      [],
    );
  });

  it('reads and writes packet integers only in sftp/wire (server handle ids are opaque bytes of its own)', () => {
    // connection.ts reads SSH host key blobs, not SFTP: the SFTP speakers are sftp/ and transfers/sftp-*.ts.
    const sftpSpeakers = speakers.filter((f) => f.startsWith(join(SRC, 'sftp')) || /[/]sftp-[^/]+$/.test(f));
    const offenders = sftpSpeakers.filter(
      (f) =>
        /\.(read|write)(UInt32BE|BigUInt64BE|UInt8)\(/.test(read(f)) &&
        !f.endsWith(join('sftp', 'handles.ts')),
    );
    assert.ok(sftpSpeakers.some((f) => f.endsWith('sftp-client.ts')));
    assert.deepEqual(
      offenders.map((f) => relative(SRC, f)),
      [],
    );
  });

  it('declares no packet reader, writer or framer besides the wire module', () => {
    const offenders = speakers.filter((f) => /\bclass\s+\w*(Reader|Writer|Framer)\b/.test(read(f)));
    assert.deepEqual(
      offenders.map((f) => relative(SRC, f)),
      [],
    );
  });

  it('is the module the server and the client both import', () => {
    assert.match(read(join(SRC, 'sftp', 'server.ts')), /from '\.\/wire\/reader\.js'/);
    assert.match(read(join(SRC, 'transfers', 'sftp-channel.ts')), /from '\.\.\/sftp\/wire\/reader\.js'/);
  });
});

function read(path: string): string {
  return readFileSync(path, 'utf8');
}
