// Bandwidth limits that more sessions cannot multiply: a user's rate is shared by all of the user's sessions, and
// the server-wide cap by every session, also when `serve --workers 2` spreads the sessions over two processes or
// over two threads of one process (`--worker-mode threads`).
// Each check is a lower bound on the time (a slow machine only makes it longer); a per-session limit would
// finish in a third (user rate) or a half (server cap) of it.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { type Serving, serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';

const MiB = 1024 * 1024;
const PW = 'shared-rate-pw-2718';

describe('bandwidth limits shared across sessions and workers', () => {
  const children: ChildProcess[] = [];
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ferry-shared-rate-'));
    await writeFile(join(work, '3m.bin'), Buffer.alloc(3 * MiB, 7));
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  /** A data dir with `users` (password PW) and `ferry serve --workers 2` on it. */
  async function serve(name: string, users: string[], extra: string[] = []) {
    const dataDir = join(work, name);
    assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
    for (const user of users) {
      const added = await runFerry(['users', 'add', user, '--password-stdin', '--data-dir', dataDir], PW);
      assert.equal(added.code, 0, added.stderr);
    }
    const { serving, match } = await serveFerry(
      dataDir,
      children,
      ['--workers', '2', ...extra],
      /SFTP listening on 127\.0\.0\.1:(\d+)/,
    );
    return { dataDir, serving, port: Number(match[1]) };
  }

  const timed = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    return (performance.now() - started) / 1000;
  };

  for (const mode of ['processes', 'threads'])
    test(`three sessions of one user at 1 MiB/s share it: 9 MiB take at least 8 s (worker ${mode})`, {
      timeout: 120_000,
    }, async (t) => {
      let serving: Serving | undefined;
      try {
        const server = await serve(`user-rate-${mode}`, ['sharer'], ['--worker-mode', mode]);
        serving = server.serving;
        const set = await runFerry([
          'users',
          'set',
          'sharer',
          '--upload-rate',
          '1MiB',
          '--data-dir',
          server.dataDir,
        ]);
        assert.equal(set.code, 0, set.stderr);
        const seconds = await timed(() =>
          Promise.all(
            [0, 1, 2].map(async (i) => {
              const up = await sftpBatch({
                port: server.port,
                user: 'sharer',
                password: PW,
                batch: `put 3m.bin up-${i}.bin\n`,
                cwd: work,
              });
              assert.equal(up.code, 0, up.stderr);
            }),
          ),
        );
        t.diagnostic(`9 MiB in ${seconds.toFixed(1)} s over three sessions`);
        assert.ok(seconds >= 8, `the three uploads shared 1 MiB/s (took ${seconds.toFixed(1)} s, not ≥ 8)`);
        // Both workers served sessions: the primary's bucket, not one worker's, held them back. Worker processes
        // are handed connections in turn; threads accept from one socket as they wake, so three sessions may land
        // on one of them (the limit holds either way; the log says where they ran).
        const workers = new Set(
          serving
            .stderr()
            .split('\n')
            .filter((line) => line.includes('"msg":"authenticated"'))
            .map((line) => {
              const entry = JSON.parse(line) as { pid: number; thread?: number };
              return entry.thread ?? entry.pid;
            }),
        );
        t.diagnostic(`sessions ran on workers ${[...workers].join(', ')}`);
        if (mode === 'processes')
          assert.equal(workers.size, 2, `sessions on both workers: ${[...workers].join(', ')}`);
      } finally {
        await serving?.stop();
      }
    });

  test('serverDownloadRate 1 MiB/s caps two users together: 6 MiB take at least 5.4 s', {
    timeout: 120_000,
  }, async (t) => {
    let serving: Serving | undefined;
    try {
      const config = join(work, 'cap.json');
      await writeFile(config, JSON.stringify({ serverDownloadRate: MiB }));
      const server = await serve('server-cap', ['ann', 'bob'], ['--config', config]);
      serving = server.serving;
      for (const user of ['ann', 'bob']) {
        const home = join(server.dataDir, 'homes', user);
        await mkdir(home, { recursive: true });
        await writeFile(join(home, 'report.bin'), Buffer.alloc(3 * MiB, 3));
      }
      const seconds = await timed(() =>
        Promise.all(
          ['ann', 'bob'].map(async (user) => {
            const down = await sftpBatch({
              port: server.port,
              user,
              password: PW,
              batch: `get report.bin ${user}-report.bin\n`,
              cwd: work,
            });
            assert.equal(down.code, 0, down.stderr);
          }),
        ),
      );
      t.diagnostic(`6 MiB in ${seconds.toFixed(1)} s for two users`);
      assert.ok(seconds >= 5.4, `the server cap held both users (took ${seconds.toFixed(1)} s, not ≥ 5.4)`);
    } finally {
      await serving?.stop();
    }
  });
});
