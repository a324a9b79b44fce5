// A deny entry added over HTTP (curl) to a running `ferry serve` refuses a real OpenSSH login from that address
// before authentication, at once; removed again, the same login succeeds. The CLI sees the same lists.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Json } from './helpers/api.js';
import { runFerry } from './helpers/cli.js';
import { curl, serveFerry } from './helpers/ferry-serve.js';
import { holdSftp, sftpBatch } from './helpers/openssh.js';
import { alive, childPids } from './helpers/processes.js';

let dir: string;
let dataDir: string;
const children: ChildProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-defender-lists-'));
  dataDir = join(dir, 'data');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  const user = await runFerry(
    ['users', 'add', 'alice', '--password-stdin', '--data-dir', dataDir],
    'alice-pw-123456\n',
  );
  assert.equal(user.code, 0, user.stderr);
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a deny entry added over HTTP refuses an OpenSSH login from 127.0.0.1 at once and ends the open session; removing it lets the login in', async () => {
  const issued = await runFerry(['apikeys', 'add', 'ops', '--role', 'operator', '--data-dir', dataDir]);
  assert.equal(issued.code, 0, issued.stderr);
  const key = issued.stdout.trim().split('\n').at(-1)!;
  const { serving, match } = await serveFerry(
    dataDir,
    children,
    ['--http-listen', '127.0.0.1:0'],
    /SFTP listening on 127\.0\.0\.1:(\d+)[\s\S]*HTTP API listening on http:\/\/127\.0\.0\.1:(\d+)\/api/,
  );
  const sshPort = Number(match[1]);
  const api = `http://127.0.0.1:${match[2]}`;
  // The administrator calls from another loopback address: denying 127.0.0.1 must not lock the API caller out.
  const http = (args: string[]) =>
    curl(['--interface', '127.0.0.2', '-H', `Authorization: Bearer ${key}`, ...args]);
  const login = () =>
    sftpBatch({ port: sshPort, user: 'alice', password: 'alice-pw-123456', batch: 'pwd\n' });

  const allowed = await login();
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stdout, /Remote working directory: \//);
  // A session logged in before the entry: the deny list ends it too (within the sweep's 2 s), not only new ones.
  const held = holdSftp(sshPort, 'alice', 'alice-pw-123456');
  children.push(held.child);
  // Its own start: the login above logged one already.
  await until(
    'the held session is logged in',
    () => serving.stderr().split('sftp session started').length > 2,
  );
  const transport = await sshUnder(held.child.pid!);

  const added = await http([
    '-H',
    'Content-Type: application/json',
    '-d',
    '{"cidr":"127.0.0.1","note":"test"}',
    `${api}/api/defender/deny`,
  ]);
  assert.equal(added.status, 201, added.body);
  await until('the open session is ended', () =>
    /connection ended: its address is on the deny list/.test(serving.stderr()),
  );
  // OpenSSH's ssh (the transport under sftp) exits when the server closes the connection.
  await until('the ssh client under the held sftp has exited', () => !alive(transport));
  held.child.stdin?.end();
  await held.exited;
  const refused = await login();
  assert.notEqual(refused.code, 0);
  assert.doesNotMatch(refused.stdout, /Remote working directory/);
  assert.match(refused.stderr, /Connection (closed|reset)|kex_exchange_identification/, refused.stderr);
  assert.match(serving.stderr(), /address deny-listed/);
  const listed = await runFerry(['defender', 'deny', 'list', '--json', '--data-dir', dataDir]);
  assert.deepEqual(
    JSON.parse(listed.stdout).map((e: Json) => [e.cidr, e.source, e.createdBy]),
    [['127.0.0.1', 'store', 'api:ops']],
  );

  const removed = await http(['-X', 'DELETE', `${api}/api/defender/deny/127.0.0.1`]);
  assert.equal(removed.status, 204, removed.body);
  const again = await login();
  assert.equal(again.code, 0, again.stderr);

  const audit = await http([`${api}/api/audit?action=admin&limit=10`]);
  const changes = JSON.parse(audit.body)
    .items.filter((r: Json) => r.target === '127.0.0.1')
    .map((r: Json) => [r.actor, r.detail.command]);
  assert.deepEqual(changes, [
    ['api:ops', 'defender deny add'],
    ['api:ops', 'defender deny remove'],
  ]);
  await serving.stop();
});

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pid of the `ssh` that `sftp` (run by sshpass, pid `sshpass`) runs as its transport. */
async function sshUnder(sshpass: number): Promise<number> {
  const [sftp] = await childPids(sshpass);
  const [ssh] = sftp ? await childPids(sftp) : [];
  if (!ssh) throw new Error('no ssh process under the held sftp');
  return ssh;
}
