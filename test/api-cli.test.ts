// `ferry apikeys`, `ferry admins` and `ferry serve --http-listen` as a user runs them, with real curl.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from 'ssh2';
import type { Json } from './helpers/api.js';
import { runFerry } from './helpers/cli.js';
import { curl, freePort, serveFerry } from './helpers/ferry-serve.js';
import { holdSftp, sftpBatch } from './helpers/openssh.js';

let dir: string;
let dataDir: string;
const children: ChildProcess[] = [];

const serve = (args: string[], pattern: RegExp) => serveFerry(dataDir, children, args, pattern);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-api-cli-'));
  dataDir = join(dir, 'data');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ferry apikeys and the API over curl', () => {
  let key = '';

  test('apikeys add prints the key once, as its last line; list never shows it', async () => {
    const added = await runFerry(['apikeys', 'add', 'deploy', '--role', 'operator', '--data-dir', dataDir]);
    assert.equal(added.code, 0, added.stderr);
    key = added.stdout.trim().split('\n').at(-1)!;
    assert.match(key, /^ferry_[A-Za-z0-9_-]{43}$/);
    const list = await runFerry(['apikeys', 'list', '--json', '--data-dir', dataDir]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.includes(key), false);
    const [row] = JSON.parse(list.stdout);
    assert.deepEqual(
      [row.name, row.role, row.prefix, row.lastUsed],
      ['deploy', 'operator', key.slice(0, 12), null],
    );
    const bad = await runFerry(['apikeys', 'add', 'x', '--role', 'root', '--data-dir', dataDir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--role must be one of admin, operator, auditor/);
    const again = await runFerry(['apikeys', 'add', 'deploy', '--role', 'auditor', '--data-dir', dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  });

  test('serve --http-listen: curl creates a user with a key, reads the audit trail and sessions; the key is never logged', async () => {
    const admin = await runFerry(
      ['admins', 'add', 'olga', '--role', 'operator', '--password-stdin', '--data-dir', dataDir],
      'olga-passphrase-1\n',
    );
    assert.equal(admin.code, 0, admin.stderr);
    const { serving, match } = await serve(
      ['--http-listen', '127.0.0.1:0'],
      /HTTP API listening on http:\/\/127\.0\.0\.1:(\d+)\/api/,
    );
    const api = `http://127.0.0.1:${match[1]}`;
    const auth = ['-H', `Authorization: Bearer ${key}`];
    const created = await curl([
      ...auth,
      '-H',
      'Content-Type: application/json',
      '-d',
      '{"username":"alice","password":"alice-pw-123456","publicKeys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"]}',
      `${api}/api/users`,
    ]);
    assert.equal(created.status, 201, created.body);
    assert.equal(JSON.parse(created.body).publicKeys.length, 1);
    const users = await curl([...auth, `${api}/api/users`]);
    assert.deepEqual(
      JSON.parse(users.body).items.map((u: { name: string }) => u.name),
      ['admin', 'alice'],
    );
    const audit = await curl([...auth, `${api}/api/audit?limit=3`]);
    assert.equal(audit.status, 200);
    const last = JSON.parse(audit.body).items.at(-1);
    assert.deepEqual([last.actor, last.target, last.detail.command], ['api:deploy', 'alice', 'users add']);
    const sessions = await curl([...auth, `${api}/api/sessions`]);
    assert.deepEqual(JSON.parse(sessions.body), { items: [], nextCursor: null });
    const anonymous = await curl([`${api}/api/users`]);
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.body).code, 'ERR_UNAUTHENTICATED');
    const openapi = await curl([`${api}/api/openapi.json`]);
    assert.equal(JSON.parse(openapi.body).openapi, '3.1.0');
    const docs = await curl(['-L', `${api}/api/docs`]);
    assert.equal(docs.status, 200);
    assert.match(docs.body, /swagger/i);

    // A console login with curl's cookie jar: the session id lives in the jar (and the store's hash), never the log.
    const jar = join(dir, 'cookies.txt');
    const login = await curl([
      '-c',
      jar,
      '-H',
      'Content-Type: application/json',
      '-d',
      '{"name":"olga","password":"olga-passphrase-1"}',
      `${api}/api/login`,
    ]);
    assert.equal(login.status, 200, login.body);
    const { csrfToken } = JSON.parse(login.body);
    const sessionId = (await readFile(jar, 'utf8')).match(/ferry_session\t(\S+)/)?.[1];
    assert.ok(sessionId, 'curl kept the session cookie');
    const disabled = await curl([
      '-b',
      jar,
      '-X',
      'POST',
      '-H',
      `X-CSRF-Token: ${csrfToken}`,
      `${api}/api/users/alice/disable`,
    ]);
    assert.equal(disabled.status, 200, disabled.body);
    assert.equal(
      (await curl(['-b', jar, '-X', 'POST', `${api}/api/users/alice/enable`])).status,
      403,
      'no CSRF token',
    );
    assert.equal(
      (await curl(['-b', jar, '-X', 'POST', '-H', `X-CSRF-Token: ${csrfToken}`, `${api}/api/logout`])).status,
      204,
    );
    assert.equal(
      (await curl(['-b', `ferry_session=${sessionId}`, `${api}/api/users`])).status,
      401,
      'the cookie is dead',
    );

    const removed = await runFerry(['apikeys', 'remove', 'deploy', '--data-dir', dataDir]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await curl([...auth, `${api}/api/users`])).status, 401, 'revoked from the next request on');
    await serving.stop();
    const log = serving.stderr();
    assert.match(log, /"logger":"http".*"url":"\/api\/users".*"status":201.*"actor":"api:deploy"/);
    assert.equal(log.includes(key), false, 'the API key never reaches the log');
    assert.equal(log.includes(sessionId), false, 'nor the session id');
    assert.equal(log.includes('olga-passphrase-1'), false, 'nor a console password');
    assert.equal(log.includes('alice-pw-123456'), false, 'nor a password from a body');
  });

  test('with --workers 2 both workers serve the one HTTP port; metrics and sessions cover every worker', async () => {
    const port = await freePort();
    const added = await runFerry(['apikeys', 'add', 'status', '--role', 'auditor', '--data-dir', dataDir]);
    const statusKey = added.stdout.trim().split('\n').at(-1)!;
    const user = await runFerry(
      ['users', 'add', 'wanda', '--password-stdin', '--data-dir', dataDir],
      'wanda-pw-123456\n',
    );
    assert.equal(user.code, 0, user.stderr);
    const { serving, match } = await serve(
      ['--workers', '2', '--http-listen', `127.0.0.1:${port}`],
      /SFTP listening on 127\.0\.0\.1:(\d+) \(2 worker processes/,
    );
    const sftpPort = Number(match[1]);
    const auth = ['-H', `Authorization: Bearer ${statusKey}`];
    const pids = new Set<number>();
    for (let i = 0; i < 40 && pids.size < 2; i++) {
      const status = await curl([...auth, `http://127.0.0.1:${port}/api/status`]);
      assert.equal(status.status, 200, status.body);
      pids.add(JSON.parse(status.body).pid);
    }
    assert.equal(pids.size, 2, 'requests answered by two processes');
    const status = JSON.parse((await curl([...auth, `http://127.0.0.1:${port}/api/status`])).body);
    assert.deepEqual(
      status.workers,
      [...pids].sort((a, b) => a - b),
      'either worker names both',
    );

    await writeFile(join(dir, 'up.bin'), Buffer.alloc(100_000, 3));
    const upload = await sftpBatch({
      port: sftpPort,
      user: 'wanda',
      password: 'wanda-pw-123456',
      batch: 'put up.bin\n',
      cwd: dir,
    });
    assert.equal(upload.code, 0, upload.stderr);
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject);
      client.connect({ host: '127.0.0.1', port: sftpPort, username: 'wanda', password: 'wanda-pw-123456' });
    });
    try {
      // Every scrape and every session list is whole, whichever worker answers it (round-robin: both do).
      const writes = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const metrics = await curl([`http://127.0.0.1:${port}/metrics`]);
        const bytes = metrics.body.match(
          /^ferry_transfer_bytes_total\{direction="upload",protocol="sftp"\} (\d+)$/m,
        );
        assert.equal(bytes?.[1], '100000', metrics.body.slice(0, 2000));
        assert.match(metrics.body, /^ferry_sessions\{protocol="ssh"\} 1$/m);
        // The upload's WRITEs were timed by the one worker that served it; every scrape counts them.
        const written = metrics.body.match(/^ferry_sftp_request_seconds_count\{type="write"\} (\d+)$/m)?.[1];
        assert.ok(written !== undefined && Number(written) >= 1, metrics.body.slice(0, 2000));
        writes.add(written);
        assert.match(metrics.body, /^ferry_open_handles 0$/m);
        const sessions = JSON.parse((await curl([...auth, `http://127.0.0.1:${port}/api/sessions`])).body);
        assert.deepEqual(
          sessions.items.map((s: { username: string }) => s.username),
          ['wanda'],
        );
      }
      assert.equal(writes.size, 1, 'the same count whichever worker answered');
    } finally {
      client.end();
    }

    // A kill asked of one worker ends a real OpenSSH session that the other worker holds.
    const operator = await runFerry([
      'apikeys',
      'add',
      'killer',
      '--role',
      'operator',
      '--data-dir',
      dataDir,
    ]);
    const killerKey = operator.stdout.trim().split('\n').at(-1)!;
    // One kept-alive HTTP connection: every request on it is answered by the same worker, whose pid it tells.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const onOneWorker = (method: string, path: string, key: string) =>
      new Promise<{ status: number; body: Json }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method, path, agent, headers: { authorization: `Bearer ${key}` } },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => {
              text += d.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const answering = (await onOneWorker('GET', '/api/status', statusKey)).body.pid as number;
    // SSH connections are handed out round-robin too: hold sessions until one is on the other worker.
    let held: ReturnType<typeof holdSftp> | undefined;
    let session: { id: string; pid: number } | undefined;
    const known = new Set<string>();
    for (let attempt = 0; attempt < 6 && !session; attempt++) {
      const next = holdSftp(sftpPort, 'wanda', 'wanda-pw-123456');
      children.push(next.child);
      for (let i = 0; i < 100; i++) {
        const list = (await onOneWorker('GET', '/api/sessions', statusKey)).body;
        const fresh = list.items.find(
          (s: { username: string; id: string }) => s.username === 'wanda' && !known.has(s.id),
        );
        if (fresh) {
          known.add(fresh.id);
          if (fresh.pid !== answering) {
            session = fresh;
            held = next;
          }
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(session && held, 'an sftp session held by the other worker');
    const killed = await onOneWorker('DELETE', `/api/sessions/${session.id}`, killerKey);
    agent.destroy();
    assert.equal(killed.status, 200, JSON.stringify(killed.body));
    assert.deepEqual([killed.body.pid, killed.body.username], [session.pid, 'wanda']);
    assert.notEqual(killed.body.pid, answering, 'asked of one worker, done by the other');
    held.child.stdin?.write('ls\n');
    const ended = await held.exited;
    assert.notEqual(ended.code, 0, 'sftp saw its connection end');
    const audit = JSON.parse(
      (await curl([...auth, `http://127.0.0.1:${port}/api/audit?limit=20&action=admin`])).body,
    );
    const record = audit.items.find((r: { target: string }) => r.target === `session ${session.id}`);
    assert.equal(record?.actor, 'api:killer', JSON.stringify(audit.items.slice(0, 3)));
    await serving.stop();
  });

  test('init --admin-password-stdin creates the first API administrator; an empty password creates nothing', async () => {
    const fresh = join(dir, 'fresh');
    const empty = await runFerry(['init', '--data-dir', fresh, '--admin-password-stdin'], '\n');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^ferry: empty admin password on standard input$/m);
    const after = await runFerry(['admins', 'list', '--json', '--data-dir', fresh]);
    assert.notEqual(after.code, 0, 'no data dir was made');

    const init = await runFerry(
      ['init', '--data-dir', fresh, '--admin-password-stdin'],
      'first-admin-pass-1\n',
    );
    assert.equal(init.code, 0, init.stderr);
    assert.match(
      init.stdout,
      /^created API administrator 'admin' \(role admin\); log in with POST \/api\/login$/m,
    );
    assert.equal(init.stdout.includes('first-admin-pass-1'), false);
    const port = await freePort();
    const { serving } = await serve(
      ['--data-dir', fresh, '--http-listen', `127.0.0.1:${port}`],
      /HTTP API listening/,
    );
    try {
      const login = (password: string) =>
        curl([
          '-H',
          'Content-Type: application/json',
          '-d',
          JSON.stringify({ name: 'admin', password }),
          `http://127.0.0.1:${port}/api/login`,
        ]);
      assert.equal((await login('wrong-password')).status, 401);
      const ok = await login('first-admin-pass-1');
      assert.equal(ok.status, 200, ok.body);
      assert.equal(JSON.parse(ok.body).role, 'admin');
    } finally {
      await serving.stop();
    }
  });

  test('an --http-listen address in use stops serve with one line (exit 2)', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const address = holder.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const r = await runFerry([
        'serve',
        '--data-dir',
        dataDir,
        '--listen',
        '127.0.0.1',
        '--sftp-port',
        '0',
        '--workers',
        '1',
        '--http-listen',
        `127.0.0.1:${port}`,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^ferry: cannot listen on 127\\.0\\.0\\.1:${port} \\(http\\.listen\\): EADDRINUSE`, 'm'),
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  test('admins add prints a one-time password; list, passwd and remove work; a bad role is refused', async () => {
    const added = await runFerry(['admins', 'add', 'carol', '--role', 'auditor', '--data-dir', dataDir]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /one-time password \(shown only now\): \S{20}/);
    const fromStdin = await runFerry(
      ['admins', 'add', 'dave', '--role', 'admin', '--password-stdin', '--data-dir', dataDir],
      'dave-long-passphrase\n',
    );
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.doesNotMatch(fromStdin.stdout, /one-time/);
    const list = await runFerry(['admins', 'list', '--json', '--data-dir', dataDir]);
    assert.deepEqual(
      JSON.parse(list.stdout).map((a: { name: string; role: string }) => `${a.name}:${a.role}`),
      ['admin:admin', 'carol:auditor', 'dave:admin', 'olga:operator'],
    );
    assert.equal(list.stdout.includes('argon2'), false);
    const passwd = await runFerry(
      ['admins', 'passwd', 'carol', '--password-stdin', '--data-dir', dataDir],
      'carol-new-passphrase\n',
    );
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal((await runFerry(['admins', 'remove', 'carol', '--data-dir', dataDir])).code, 0);
    const gone = await runFerry(['admins', 'remove', 'carol', '--data-dir', dataDir]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no admin named carol/);
    const audit = await runFerry(['audit', 'query', '--action', 'admin', '--json', '--data-dir', dataDir]);
    const commands = audit.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .map((r: { detail: { command: string } }) => r.detail.command);
    for (const expected of ['apikeys add', 'apikeys remove', 'admins add', 'admins passwd', 'admins remove'])
      assert.ok(commands.includes(expected), `${expected} in the trail`);
  });
});
