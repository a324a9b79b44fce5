// Ferry's client through key re-exchanges that a real OpenSSH sshd starts mid-transfer (RekeyLimit 512K), while its
// host key check answers late (a known_hosts lookup, a store read): data keeps arriving in between, and what the
// client sends then (window adjusts, READ requests) must wait for its own NEWKEYS. ssh2 sent it at once, built for
// the queue but encrypted as whole packets, and sshd dropped the connection ("Bad packet length").
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connectSftp } from '../src/transfers/connection.js';
import { download, upload } from '../src/transfers/transfer.js';
import { Secret } from '../src/util/secret.js';
import { LocalFs } from '../src/vfs/local/local-fs.js';
import { startOpenSshServer } from './helpers/openssh-server.js';
import { randomFile, sha256File, transferFixture } from './helpers/transfers.js';

const SIZE = 16 * 1024 * 1024;

describe("Ferry's client while sshd re-keys", () => {
  for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'])
    it(`downloads and uploads ${SIZE >> 20} MiB over ${cipher} with a host key check that takes 30 ms`, async () => {
      const fx = await transferFixture();
      const sshd = await startOpenSshServer({
        authorizedKeys: fx.publicKey,
        extraConfig: [`Ciphers ${cipher}`, 'RekeyLimit 512K'],
      });
      try {
        const want = await randomFile(join(sshd.root, 'down.bin'), SIZE);
        let checks = 0;
        const conn = await connectSftp({
          host: '127.0.0.1',
          port: sshd.port,
          username: sshd.user,
          privateKey: new Secret(await readFile(fx.keyFile, 'utf8')),
          hostKey: async () => {
            checks++;
            await new Promise((resolve) => setTimeout(resolve, 30));
            return true;
          },
        });
        try {
          const fs = new LocalFs({ root: fx.dir });
          await download(conn.sftp, 'down.bin', { fs, path: '/down.bin' });
          assert.equal(await sha256File(join(fx.dir, 'down.bin')), want);
          await upload(conn.sftp, { fs, path: '/down.bin' }, 'up.bin');
          assert.equal(await sha256File(join(sshd.root, 'up.bin')), want);
        } finally {
          await conn.close();
        }
        // One check per key exchange: the first, and one per 512 KiB or so each way.
        assert.ok(checks >= 10, `host key checks ${checks}`);
      } finally {
        await sshd.close();
        await fx.close();
      }
    });
});
