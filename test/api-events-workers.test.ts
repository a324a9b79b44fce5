// `ferry serve --workers 2`, as worker processes and as worker threads: every live event reaches every /api/events
// reader once, whichever worker holds the reader and whichever holds the SFTP session (real OpenSSH sftp uploads,
// readers over fetch and curl).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { freePort, serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';
import { openSse, parseSse, type SseClient, type SseMessage } from './helpers/sse.js';

const PASSWORD = 'wanda-pw-123456';
const UPLOADS = 8;
let dir: string;
const children: ChildProcess[] = [];
const readers: SseClient[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-api-events-workers-'));
});

after(async () => {
  for (const reader of readers) reader.close();
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A reader as curl runs it (`curl -N`), its messages parsed as they arrive. */
function curlReader(url: string, key: string): { messages: SseMessage[]; child: ChildProcess } {
  const child = spawn('curl', ['-sS', '-N', '-H', `Authorization: Bearer ${key}`, url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const messages: SseMessage[] = [];
  let text = '';
  child.stdout?.on('data', (d: Buffer) => {
    text += d.toString();
    for (let at = text.indexOf('\n\n'); at >= 0; at = text.indexOf('\n\n')) {
      messages.push(parseSse(text.slice(0, at)));
      text = text.slice(at + 2);
    }
  });
  return { messages, child };
}

const uploadsOf = (messages: SseMessage[], name: string) =>
  messages.filter((m) => {
    if (m.event !== 'transfer') return false;
    const e = JSON.parse(m.data);
    return e.direction === 'upload' && e.completed === true && e.path === `/${name}`;
  });

async function until(predicate: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A data dir with an auditor API key and the password user wanda, served by `serve --workers 2` with its HTTP API:
 * the key, the SFTP port and the events URL.
 */
async function serveTwoWorkers(name: string, mode: Mode, env: Record<string, string> = {}) {
  const dataDir = join(dir, name);
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const added = await runFerry(['apikeys', 'add', 'watch', '--role', 'auditor', '--data-dir', dataDir]);
  assert.equal(added.code, 0, added.stderr);
  const key = added.stdout.trim().split('\n').at(-1)!;
  const user = await runFerry(
    ['users', 'add', 'wanda', '--password-stdin', '--data-dir', dataDir],
    `${PASSWORD}\n`,
  );
  assert.equal(user.code, 0, user.stderr);
  const port = await freePort();
  const { serving, match } = await serveFerry(
    dataDir,
    children,
    ['--workers', '2', '--worker-mode', mode, '--http-listen', `127.0.0.1:${port}`],
    new RegExp(`SFTP listening on 127\\.0\\.0\\.1:(\\d+) \\(2 worker ${mode}`),
    { env },
  );
  return { serving, key, sftpPort: Number(match[1]), url: `http://127.0.0.1:${port}/api/events` };
}

type Mode = 'processes' | 'threads';

for (const mode of ['processes', 'threads'] as const)
  describe(`the event stream under --workers 2 --worker-mode ${mode}`, () => {
    test('readers on both workers see every upload of sessions spread over both workers exactly once', async () => {
      const { serving, key, sftpPort, url } = await serveTwoWorkers(`data-${mode}`, mode);

      // Readers until both workers hold one (worker processes are handed connections round-robin, threads take
      // turns accepting from one socket); the greeting names the process, or the thread.
      const byPid = new Map<number, SseClient>();
      for (let i = 0; i < 12 && byPid.size < 2; i++) {
        const reader = await openSse(url, { authorization: `Bearer ${key}` });
        readers.push(reader);
        assert.equal(reader.status, 200);
        await reader.until((m) => m.length > 0);
        const pid = Number(/process (\d+)/.exec(reader.messages[0]?.comment ?? '')?.[1]);
        if (byPid.has(pid)) reader.close();
        else byPid.set(pid, reader);
      }
      assert.equal(byPid.size, 2, 'a reader on each worker');
      const curled = curlReader(url, key);
      await until(() => curled.messages.length > 0, 'curl greeted');

      await writeFile(join(dir, 'up.bin'), Buffer.alloc(50_000, 7));
      for (let i = 0; i < UPLOADS; i++) {
        const upload = await sftpBatch({
          port: sftpPort,
          user: 'wanda',
          password: PASSWORD,
          batch: `put up.bin up-${i}.bin\n`,
          cwd: dir,
        });
        assert.equal(upload.code, 0, upload.stderr);
      }
      // The SSH sessions were served by both workers (the log lines carry the pid, a worker thread's id, and the
      // session id). Threads accept from one socket in turns that one after another need not alternate: there, the
      // sessions ran on the readers' workers, one or both.
      const sessionPids = new Map<string, number>();
      for (const line of serving.stderr().split('\n')) {
        if (!line.includes('"msg":"authenticated"')) continue;
        const entry = JSON.parse(line);
        sessionPids.set(entry.sessionId, entry.thread ?? entry.pid);
      }
      assert.equal(sessionPids.size, UPLOADS);
      if (mode === 'processes')
        assert.deepEqual(new Set(sessionPids.values()), new Set(byPid.keys()), 'sessions on both workers');
      else
        for (const worker of sessionPids.values())
          assert.ok(byPid.has(worker), `session on worker ${worker}`);

      const all = [...byPid.values()].map((r) => r.messages).concat([curled.messages]);
      const last = `up-${UPLOADS - 1}.bin`;
      for (const messages of all)
        await until(() => uploadsOf(messages, last).length > 0, 'the last upload streamed to every reader');
      // One more upload after them all: once a reader has it, it has everything before it (one order for all).
      const sentinel = await sftpBatch({
        port: sftpPort,
        user: 'wanda',
        password: PASSWORD,
        batch: 'put up.bin sentinel.bin\n',
        cwd: dir,
      });
      assert.equal(sentinel.code, 0, sentinel.stderr);
      for (const messages of all)
        await until(
          () => uploadsOf(messages, 'sentinel.bin').length > 0,
          'the sentinel streamed to every reader',
        );

      for (const messages of all) {
        for (let i = 0; i < UPLOADS; i++)
          assert.equal(uploadsOf(messages, `up-${i}.bin`).length, 1, `up-${i}.bin exactly once`);
        const connects = messages.filter(
          (m) => m.event === 'session' && m.data.includes('"phase":"connect"'),
        );
        assert.equal(new Set(connects.map((m) => JSON.parse(m.data).sessionId)).size, connects.length);
        assert.equal(connects.length, UPLOADS + 1);
        // One numbering for all readers: ids strictly increasing, each once.
        const numbers = messages.filter((m) => m.id !== undefined).map((m) => Number(m.id!.split('-')[1]));
        for (let i = 1; i < numbers.length; i++) assert.ok(numbers[i]! > numbers[i - 1]!, 'ids increase');
        assert.equal(
          messages.some((m) => m.event === 'gap' || m.event === 'overflow'),
          false,
        );
        assert.equal(
          messages
            .map((m) => m.data)
            .join('')
            .includes(PASSWORD),
          false,
          'no password streamed',
        );
      }
      for (const reader of readers) reader.close();
      curled.child.kill();
      await serving.stop();
    });

    test('while nobody reads, the workers send nothing; a reader resuming from before that gets a gap, then live events', async () => {
      // A worker gives the stream back this long after its last reader left (ten minutes by default).
      const { serving, key, sftpPort, url } = await serveTwoWorkers(`quiet-${mode}`, mode, {
        FERRY_EVENTS_GRACE_MS: '200',
      });
      const auth = { authorization: `Bearer ${key}` };
      await writeFile(join(dir, 'q.bin'), Buffer.alloc(1000, 3));
      const put = async (name: string) => {
        const upload = await sftpBatch({
          port: sftpPort,
          user: 'wanda',
          password: PASSWORD,
          batch: `put q.bin ${name}\n`,
          cwd: dir,
        });
        assert.equal(upload.code, 0, upload.stderr);
      };

      const first = await openSse(url, auth);
      readers.push(first);
      await put('watched.bin');
      await until(() => uploadsOf(first.messages, 'watched.bin').length > 0, 'the watched upload streamed');
      const lastId = uploadsOf(first.messages, 'watched.bin')[0]!.id!;
      first.close();
      // Past the grace time the reader's worker gives the stream back and the primary tells both workers to stop.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await put('unwatched.bin');

      const resumed = await openSse(url, { ...auth, 'last-event-id': lastId });
      readers.push(resumed);
      await until(() => resumed.messages.some((m) => m.event === 'gap'), 'a gap notice for the quiet time');
      await put('after.bin');
      await until(() => uploadsOf(resumed.messages, 'after.bin').length > 0, 'live events after the gap');
      assert.equal(
        uploadsOf(resumed.messages, 'unwatched.bin').length,
        0,
        'nothing was sent while nobody read',
      );
      assert.equal(uploadsOf(resumed.messages, 'watched.bin').length, 0, 'no replay of what the reader had');
      const gapAt = resumed.messages.findIndex((m) => m.event === 'gap');
      const afterAt = resumed.messages.findIndex((m) => uploadsOf([m], 'after.bin').length > 0);
      assert.ok(gapAt < afterAt, 'the gap comes before the live events');
      resumed.close();
      await serving.stop();
    });
  });
