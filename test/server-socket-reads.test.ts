// The server reads an uploading connection's socket into one reused buffer (src/ssh/upload-reads.ts,
// src/util/socket-reads.ts): OpenSSH's sftp uploads arrive byte-exact over both audited ciphers, also while the
// client re-keys every MiB (its key exchange packets retire the buffer they were read into), and most reads go
// into the reused buffer; two sftp sessions and an scp upload multiplexed on one connection all arrive whole; with
// the smallest buffered-bytes budgets (the read buffer counts against them) an upload is still adopted and whole.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveOneUserWithIdleGc } from './helpers/ferry-serve.js';
import { type ClientKey, commonSshOptions, run, scpRun, sftpBatch } from './helpers/openssh.js';
import { randomFile, sha256File } from './helpers/transfers.js';

const SIZE = 24 * 1024 * 1024;
const USER = 'uploader';

interface ReadStats {
  reads: number;
  reused: number;
  retired: number;
}

describe('server socket reads for uploads', () => {
  const children: ChildProcess[] = [];
  let dir: string;
  let port: number;
  let key: ClientKey;
  let stderr: () => string;
  let stop: () => Promise<void>;
  let home: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-socket-reads-'));
    const served = await serveOneUserWithIdleGc(dir, USER, children);
    port = served.port;
    key = served.key;
    stderr = served.serving.stderr;
    stop = served.serving.stop;
    home = join(dir, 'data', 'homes', USER);
  });

  after(async () => {
    await stop?.();
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  /** The `socket reads` lines logged so far (one per adopted connection, when it closes). */
  const logged = (): ReadStats[] =>
    stderr()
      .split('\n')
      .filter((line) => line.includes('"socket reads"'))
      .map((line) => (JSON.parse(line) as { socketReads: ReadStats }).socketReads);

  async function nextStats(before: number): Promise<ReadStats> {
    for (let i = 0; i < 100 && logged().length <= before; i++) await new Promise((r) => setTimeout(r, 50));
    const all = logged();
    assert.equal(all.length, before + 1, 'one adopted connection logged its reads');
    return all.at(-1)!;
  }

  for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com'])
    for (const rekey of [false, true])
      it(`upload of ${SIZE >> 20} MiB over ${cipher}${rekey ? ', the client re-keying every MiB' : ''}: byte-exact, read into one buffer`, async () => {
        const name = `${cipher.split('@')[0]}-${rekey}.bin`;
        const want = await randomFile(join(dir, name), SIZE);
        const seen = logged().length;
        const r = await sftpBatch({
          port,
          user: USER,
          identity: key.privatePath,
          options: [`Ciphers=${cipher}`, ...(rekey ? ['RekeyLimit=1M'] : [])],
          batch: `put ${join(dir, name)} /${name}\n`,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await sha256File(join(home, name)), want);
        const { reads, reused, retired } = await nextStats(seen);
        assert.ok(reads >= 96, `reads ${reads}`);
        if (rekey) {
          // A re-key every MiB costs a few reads into new memory each (its packets, then one clean read), ~6 here:
          // bounded per exchange, not as a share of all reads, which moves with how much each read finds waiting.
          // Without the renewal every read after the first exchange would be new memory.
          const exchanges = SIZE / (1024 * 1024);
          assert.ok(reads - reused <= 7 * exchanges, `reused ${reused} of ${reads}, ${exchanges} exchanges`);
          assert.ok(retired >= 4, `a key exchange retires its read's buffer: ${retired}`);
        } else {
          assert.ok(reused >= reads * 0.8, `reused ${reused} of ${reads}`);
          assert.ok(retired <= 4, `retired ${retired}`);
        }
      });

  it('two sftp uploads and an scp upload multiplexed on one connection all arrive byte-exact', async () => {
    const control = join(dir, 'control.sock');
    const login = { port, user: USER, identity: key.privatePath };
    const master = spawn(
      'ssh',
      [
        ...commonSshOptions(login),
        '-o',
        'Ciphers=aes128-gcm@openssh.com',
        '-M',
        '-S',
        control,
        '-N',
        '-p',
        String(port),
        `${USER}@127.0.0.1`,
      ],
      { stdio: 'ignore' },
    );
    children.push(master);
    for (let i = 0; i < 100 && !existsSync(control); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(control), 'the master connection is up');
    const mux = { ...login, options: [`ControlPath=${control}`] };
    const files = ['mux-a.bin', 'mux-b.bin', 'mux-scp.bin'];
    const sums = await Promise.all(files.map((f) => randomFile(join(dir, f), SIZE / 2)));
    const seen = logged().length;
    const results = await Promise.all([
      sftpBatch({ ...mux, batch: `put ${join(dir, files[0]!)} /${files[0]}\n` }),
      sftpBatch({ ...mux, batch: `put ${join(dir, files[1]!)} /${files[1]}\n` }),
      scpRun({ ...mux, args: [join(dir, files[2]!), `remote:/${files[2]}`] }),
    ]);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    for (const [i, f] of files.entries()) assert.equal(await sha256File(join(home, f)), sums[i], f);
    await run('ssh', [...commonSshOptions(mux), '-S', control, '-O', 'exit', `${USER}@127.0.0.1`]);
    const stats = await nextStats(seen);
    assert.ok(stats.reused > 0, `the multiplexed connection was adopted: ${JSON.stringify(stats)}`);
  });
});

describe('server socket reads under the smallest buffered-bytes budgets', () => {
  const children: ChildProcess[] = [];
  let dir: string;

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an upload with 1 MiB per connection and per user holds the read buffer and still arrives byte-exact', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-socket-reads-budget-'));
    const served = await serveOneUserWithIdleGc(dir, USER, children, {
      FERRY_MAX_BUFFERED_BYTES_PER_CONNECTION: String(1024 * 1024),
      FERRY_MAX_BUFFERED_BYTES_PER_USER: String(1024 * 1024),
    });
    const want = await randomFile(join(dir, 'tight.bin'), SIZE);
    const r = await sftpBatch({
      port: served.port,
      user: USER,
      identity: served.key.privatePath,
      options: ['Ciphers=aes128-gcm@openssh.com'],
      batch: `put ${join(dir, 'tight.bin')} /tight.bin\n`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(dir, 'data', 'homes', USER, 'tight.bin')), want);
    // The buffer (256 KiB of the 1 MiB) left the session enough to go on: the connection was adopted.
    let line: string | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      line = served.serving
        .stderr()
        .split('\n')
        .find((l) => l.includes('"socket reads"'));
      if (!line) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(line, 'the uploading connection was adopted');
    const stats = (JSON.parse(line) as { socketReads: ReadStats }).socketReads;
    assert.ok(stats.reused >= stats.reads * 0.8, JSON.stringify(stats));
    await served.serving.stop();
  });
});
