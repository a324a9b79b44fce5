// Ferry's own SSH client (partner jobs, `ferry sftp`) offers exactly the server's algorithm policy: against real
// OpenSSH sshd it negotiates post-quantum first and from the policy, refuses SHA-1 MACs and CBC with one line, and
// reaches an ECDSA/ECDH-only server only under 'compat'.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { clientAlgorithmPolicy } from '../src/ssh-algorithms.js';
import { connectSftp, NoCommonAlgorithmError } from '../src/transfers/connection.js';
import { KexInitSniffer } from '../src/transfers/kexinit.js';
import { runFerry } from './helpers/cli.js';
import { type OpenSshServerOptions, startOpenSshServer } from './helpers/openssh-server.js';
import { randomFile, sha256File, type TransferFixture, transferFixture } from './helpers/transfers.js';

const execFileAsync = promisify(execFile);
const openssh10 =
  process.env.FERRY_OPENSSH10_DIR ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ferry', 'openssh10');
const bin10 = (path: string) => join(openssh10, 'root', path);
const skip10 = existsSync(bin10('usr/sbin/sshd'))
  ? false
  : `OpenSSH 10 is not unpacked in ${openssh10} (run scripts/fetch-openssh10.sh; .ci/run does)`;
/** OpenSSH 10 runs each connection in sshd-session and sshd-auth from its own libexec dir. */
const sshd10: Partial<OpenSshServerOptions> = {
  sshdPath: bin10('usr/sbin/sshd'),
  extraConfig: [
    `SshdSessionPath ${bin10('usr/lib/openssh/sshd-session')}`,
    `SshdAuthPath ${bin10('usr/lib/openssh/sshd-auth')}`,
  ],
};

/** An sshd for `fx`'s client key, a partner `bank` on it with the given profile, and cleanup of both. */
async function withPartner(
  options: Partial<OpenSshServerOptions>,
  algorithms: 'modern' | 'compat',
  body: (fx: TransferFixture, sshd: Awaited<ReturnType<typeof startOpenSshServer>>) => Promise<void>,
): Promise<void> {
  const fx = await transferFixture();
  try {
    const sshd = await startOpenSshServer({ authorizedKeys: fx.publicKey, ...options });
    try {
      await fx.ctx.transfers.partners.add({
        name: 'bank',
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.user,
        clientKey: 'id',
        algorithms,
      });
      await body(fx, sshd);
    } finally {
      await sshd.close();
    }
  } finally {
    await fx.close();
  }
}

describe("Ferry's client offers the policy", () => {
  for (const profile of ['modern', 'compat'] as const) {
    it(`its KEXINIT under '${profile}' lists exactly the policy (plus ssh2's ext-info and strict-kex markers)`, async () => {
      // A listener that answers with an identification line and reads the client's first packet, its KEXINIT.
      const sniffer = new KexInitSniffer();
      const seen = new Promise<void>((resolve) => {
        const probe = net.createServer((socket) => {
          socket.write('SSH-2.0-Probe_1.0\r\n');
          socket.on('data', (chunk: Buffer) => {
            sniffer.push(chunk);
            if (sniffer.done) {
              socket.destroy();
              resolve();
            }
          });
        });
        probe.listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          connectSftp({ host: '127.0.0.1', port, username: 'u', hostKey: () => false, algorithms: profile })
            .catch(() => {})
            .finally(() => probe.close());
        });
      });
      await seen;
      const offer = sniffer.offer;
      assert.ok(offer, 'the client sent a KEXINIT');
      const policy = clientAlgorithmPolicy(profile);
      assert.deepEqual(offer.kex, [...policy.kex, 'ext-info-c', 'kex-strict-c-v00@openssh.com']);
      assert.equal(offer.kex[0], 'mlkem768x25519-sha256');
      assert.deepEqual(offer.serverHostKey, policy.serverHostKey);
      for (const side of [offer.cs, offer.sc]) {
        assert.deepEqual(side.cipher, policy.cipher);
        assert.deepEqual(side.mac, policy.hmac);
        assert.deepEqual(side.compress, policy.compress);
      }
      const everything = [offer.kex, offer.serverHostKey, offer.cs.cipher, offer.cs.mac].flat().join(',');
      assert.doesNotMatch(everything, /sha1|cbc|ssh-dss|ssh-rsa(,|$)/);
      if (profile === 'modern') assert.doesNotMatch(everything, /nistp/);
      else
        assert.deepEqual(
          offer.serverHostKey.filter((k) => k.startsWith('ecdsa-')),
          ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
        );
    });
  }
});

describe("Ferry's client with OpenSSH 10's sshd", { skip: skip10 }, () => {
  it('negotiates mlkem768x25519-sha256, and a MAC from the policy where SHA-1 was on offer too', async () => {
    await withPartner(sshd10, 'modern', async (fx) => {
      const { partners } = fx.ctx.transfers;
      await partners.pin('bank', await partners.fetchHostKey('bank'));
      const report = await partners.test('bank');
      assert.match(report.serverBanner, /^OpenSSH_10\./);
      assert.equal(report.kex, 'mlkem768x25519-sha256');
      assert.ok(clientAlgorithmPolicy('modern').cipher.includes(report.cipher), report.cipher);
    });
    // OpenSSH 10 also offering hmac-sha1-etm, which ssh2's own defaults would take first with a CTR cipher.
    await withPartner(
      {
        ...sshd10,
        extraConfig: [
          ...sshd10.extraConfig!,
          'Ciphers aes128-ctr',
          'MACs hmac-sha1-etm@openssh.com,hmac-sha2-512',
        ],
      },
      'modern',
      async (fx) => {
        const { partners } = fx.ctx.transfers;
        await partners.pin('bank', await partners.fetchHostKey('bank'));
        const report = await partners.test('bank');
        assert.equal(report.kex, 'mlkem768x25519-sha256');
        assert.equal(report.cipher, 'aes128-ctr');
        assert.equal(report.mac, 'hmac-sha2-512');
      },
    );
  });
});

describe("Ferry's client refuses what the policy leaves out, in one line", () => {
  it('a partner offering only hmac-sha1 (with aes128-ctr): the job fails with one line and moves nothing', async () => {
    await withPartner(
      { extraConfig: ['Ciphers aes128-ctr', 'MACs hmac-sha1'] },
      'modern',
      async (fx, sshd) => {
        const { partners, jobs } = fx.ctx.transfers;
        // Pinned as a person would have before the server was reconfigured; the run must still not happen.
        await partners.pin('bank', { algorithm: 'ssh-ed25519', sha256: sshd.hostKeySha256 });
        const outbox = join(fx.dir, 'outbox');
        await mkdir(outbox);
        await writeFile(join(outbox, 'pay.csv'), 'secret,1\n');
        const job = { partner: 'bank', direction: 'push', remoteDir: '.', localDir: outbox } as const;
        await jobs.add({ name: 'pay', ...job, retries: 3, backoffMs: 10 });
        const run = await jobs.run('pay');
        assert.equal(run.status, 'failed');
        assert.equal(run.attempts, 1, 'not retried: a retry cannot change what the server offers');
        assert.equal(
          run.error,
          `partner bank: no common MAC with 127.0.0.1:${sshd.port} (server offers hmac-sha1); Ferry's client does not use SHA-1 or MD5 MACs`,
        );
        assert.deepEqual(run.files, []);
        assert.deepEqual(await readdir(sshd.root), [], 'nothing reached the server');
        assert.deepEqual(await readdir(outbox), ['pay.csv'], 'the source stays');
      },
    );
  });

  it('`ferry sftp` to a server offering only aes128-cbc exits 255 with one line and downloads nothing', async () => {
    const fx = await transferFixture();
    const sshd = await startOpenSshServer({
      authorizedKeys: fx.publicKey,
      extraConfig: ['Ciphers aes128-cbc'],
    });
    try {
      await writeFile(join(sshd.root, 'report.bin'), 'data');
      const knownHosts = join(fx.dir, 'known_hosts');
      await writeFile(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPublic}\n`);
      const work = join(fx.dir, 'work');
      await mkdir(work);
      const r = await runFerry([
        'sftp',
        '-P',
        String(sshd.port),
        '-i',
        fx.keyFile,
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-b',
        '-',
        `${sshd.user}@127.0.0.1:report.bin`,
      ]);
      assert.equal(r.code, 255, r.stderr);
      assert.equal(
        r.stderr,
        `ferry: no common cipher with 127.0.0.1:${sshd.port} (server offers aes128-cbc); Ferry's client does not use CBC, 3DES, RC4 or Blowfish ciphers\n`,
      );
      assert.deepEqual(await readdir(work), []);
    } finally {
      await sshd.close();
      await fx.close();
    }
  });
});

describe("'compat' reaches servers with only NIST ECDH and an ECDSA host key", () => {
  for (const bits of [256, 384, 521]) {
    it(`ecdsa-sha2-nistp${bits} + ecdh-sha2-nistp${bits}: refused under modern (naming compat), a byte-identical push under compat`, async () => {
      const keyDir = await mkdtemp(join(tmpdir(), 'ferry-ecdsa-host-'));
      const hostKeyFile = join(keyDir, 'host_key');
      await execFileAsync('ssh-keygen', [
        '-q',
        '-t',
        'ecdsa',
        '-b',
        String(bits),
        '-N',
        '',
        '-f',
        hostKeyFile,
      ]);
      try {
        const only = {
          hostKeyFile,
          extraConfig: [`HostKeyAlgorithms ecdsa-sha2-nistp${bits}`, `KexAlgorithms ecdh-sha2-nistp${bits}`],
        };
        await withPartner(only, 'modern', async (fx, sshd) => {
          const { partners } = fx.ctx.transfers;
          await assert.rejects(partners.fetchHostKey('bank'), (err: unknown) => {
            assert.ok(err instanceof NoCommonAlgorithmError, String(err));
            assert.equal(
              err.message,
              `partner bank: no common key exchange with 127.0.0.1:${sshd.port} (server offers ecdh-sha2-nistp${bits}); the server needs NIST ECDH or an ECDSA host key, which only the 'compat' algorithms allow: ferry partners set bank --algorithms compat`,
            );
            return true;
          });

          await partners.update('bank', { algorithms: 'compat' });
          const key = await partners.fetchHostKey('bank');
          assert.equal(key.algorithm, `ecdsa-sha2-nistp${bits}`);
          assert.equal(key.sha256, sshd.hostKeySha256);
          await partners.pin('bank', key);
          const outbox = join(fx.dir, 'outbox');
          await mkdir(outbox);
          const hash = await randomFile(join(outbox, 'big.bin'), 3 * 1024 * 1024 + 17);
          await fx.ctx.transfers.jobs.add({
            name: 'up',
            partner: 'bank',
            direction: 'push',
            remoteDir: '.',
            localDir: outbox,
            retries: 3,
            backoffMs: 10,
          });
          const run = await fx.ctx.transfers.jobs.run('up');
          assert.equal(run.status, 'ok', run.error ?? '');
          assert.equal(await sha256File(join(sshd.root, 'big.bin')), hash);
          const report = await partners.test('bank');
          assert.equal(report.kex, `ecdh-sha2-nistp${bits}`);
          assert.equal(report.hostKey.algorithm, `ecdsa-sha2-nistp${bits}`);

          // Back to modern with that ECDSA key trusted: a clear refusal, not a false "host key changed".
          await partners.update('bank', { algorithms: 'modern' });
          await assert.rejects(
            partners.connect('bank'),
            /trusted host key is ecdsa-sha2-nistp\d+, which the 'modern' algorithms do not accept; ferry partners set bank --algorithms compat/,
          );
          const refused = await fx.ctx.transfers.jobs.run('up');
          assert.equal(refused.status, 'failed');
          assert.equal(refused.attempts, 1, 'not retried');
          assert.match(refused.error ?? '', /which the 'modern' algorithms do not accept/);
        });
      } finally {
        await rm(keyDir, { recursive: true, force: true });
      }
    });
  }
});

describe('--algorithms on the command line', () => {
  it('partners add|set take modern or compat; anything else is refused in one line with nothing stored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-partner-algs-'));
    try {
      const data = ['--data-dir', join(dir, 'data')];
      const add = (name: string, profile: string) =>
        runFerry(
          [
            'partners',
            'add',
            name,
            '--host',
            'h.example',
            '--user',
            'u',
            '--password-stdin',
            '--algorithms',
            profile,
            ...data,
          ],
          'pw\n',
        );
      assert.equal((await runFerry(['init', ...data])).code, 0);
      assert.equal((await add('first', 'modern')).code, 0);
      const bad = await add('bank', 'legacy');
      assert.equal(bad.code, 2);
      assert.equal(bad.stderr, "ferry: --algorithms must be modern or compat, got 'legacy'\n");
      const listed = await runFerry(['partners', 'list', '--json', ...data]);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { name: string }[]).map((p) => p.name),
        ['first'],
        'nothing stored',
      );
      assert.equal((await add('bank', 'compat')).code, 0);
      const shown = await runFerry(['partners', 'show', 'bank', '--json', ...data]);
      assert.equal(JSON.parse(shown.stdout).algorithms, 'compat');
      assert.equal((await runFerry(['partners', 'set', 'bank', '--algorithms', 'modern', ...data])).code, 0);
      const text = await runFerry(['partners', 'show', 'bank', ...data]);
      assert.match(text.stdout, /^algorithms: +modern /m);
      const sftp = await runFerry(['sftp', '--algorithms', 'none', 'u@127.0.0.1']);
      assert.equal(sftp.code, 2);
      assert.equal(sftp.stderr, "ferry: --algorithms must be modern or compat, got 'none'\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
