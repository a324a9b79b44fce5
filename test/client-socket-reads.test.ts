// Ferry's client reads its socket into one reused buffer once the SFTP session is up (src/util/socket-reads.ts):
// downloads from a real OpenSSH sshd arrive byte-exact with both audited ciphers, also while sshd re-keys every
// MiB (its key exchange packets retire the buffer they were read into), and most reads go into the reused buffer.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connectSftp } from '../src/transfers/connection.js';
import { download } from '../src/transfers/transfer.js';
import { Secret } from '../src/util/secret.js';
import { LocalFs } from '../src/vfs/local/local-fs.js';
import { startOpenSshServer } from './helpers/openssh-server.js';
import { randomFile, sha256File, transferFixture } from './helpers/transfers.js';

const SIZE = 24 * 1024 * 1024;

describe("Ferry's client socket reads", () => {
  for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'])
    for (const rekey of [false, true])
      it(`download of ${SIZE >> 20} MiB over ${cipher}${rekey ? ', sshd re-keying every MiB' : ''}: byte-exact, read into one reused buffer`, async () => {
        const fx = await transferFixture();
        const sshd = await startOpenSshServer({
          authorizedKeys: fx.publicKey,
          extraConfig: [`Ciphers ${cipher}`, ...(rekey ? ['RekeyLimit 1M'] : [])],
        });
        try {
          const want = await randomFile(join(sshd.root, 'big.bin'), SIZE);
          const conn = await connectSftp({
            host: '127.0.0.1',
            port: sshd.port,
            username: sshd.user,
            privateKey: new Secret(await readFile(fx.keyFile, 'utf8')),
            hostKey: () => true,
          });
          try {
            assert.equal(conn.algorithms.sc.cipher, cipher);
            const fs = new LocalFs({ root: fx.dir });
            const result = await download(conn.sftp, 'big.bin', { fs, path: '/big.bin' });
            assert.equal(result.bytes, SIZE);
            assert.equal(await sha256File(join(fx.dir, 'big.bin')), want);
            const { reads, reused, retired } = conn.socketReads;
            // 24 MiB in reads of up to 256 KiB: ~100 or more; nearly all of them into the one buffer.
            assert.ok(reads >= 96, `reads ${reads}`);
            // A re-key every MiB costs a few reads into new memory each (its packets, then one clean read).
            assert.ok(reused >= reads * (rekey ? 0.5 : 0.8), `reused ${reused} of ${reads}`);
            if (rekey) assert.ok(retired >= 4, `a key exchange retires its read's buffer: ${retired}`);
            else assert.ok(retired <= 2, `retired ${retired}`);
          } finally {
            await conn.close();
          }
        } finally {
          await sshd.close();
          await fx.close();
        }
      });
});
