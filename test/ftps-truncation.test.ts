// An FTPS upload ends with the client's TLS close_notify. A data connection that ends without one (a bare TCP
// FIN or a reset: a killed client, a truncation attack) while the control connection stays must not publish what
// arrived: the client gets 426, the upload stays a hidden partial that REST + STOR completes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { FerryEvent } from '../src/events/types.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const pattern = (size: number) => Buffer.alloc(size, Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
let server: TestServer;
let port: number;
let home: string;
const events: FerryEvent[] = [];

before(async () => {
  server = await startTestServer({ config: { ftps: { port: 0 } } });
  port = server.running.ftps!.port!;
  server.running.context.events.subscribe((e) => {
    events.push(e);
  });
  await server.addUser('alice', { password: 'pw-alice-123' });
  home = await server.homeOf('alice');
});
after(async () => {
  await server.close();
});

async function upload(name: string, bytes: number, mode: 'fin' | 'rst' | 'notify') {
  const { stdout } = await run(
    'python3',
    [
      join(import.meta.dirname, 'helpers/ftps_cut_upload.py'),
      String(port),
      'alice',
      'pw-alice-123',
      String(bytes),
      mode,
      name,
    ],
    { timeout: 30_000 },
  );
  return JSON.parse(stdout) as { reply: string; size: string; noop: string };
}

/** Finishes `name` from `offset` with ftplib's REST + STOR (which ends the data connection with close_notify). */
async function resume(name: string, offset: number, full: number): Promise<void> {
  const script = `
import ftplib, ssl, sys, io
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
class Reuse(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        return self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session), size
data = (bytes(range(256)) * (${full} // 256 + 1))[:${full}]
f = Reuse(context=ctx); f.connect('127.0.0.1', ${port}); f.login('alice', 'pw-alice-123'); f.prot_p()
print(f.storbinary('STOR ${name}', io.BytesIO(data[${offset}:]), rest=${offset}))
f.quit()
`;
  const { stdout } = await run('python3', ['-c', script], { timeout: 30_000 });
  assert.match(stdout, /^226 /);
}

for (const mode of ['fin', 'rst'] as const) {
  test(`a data connection cut by TCP ${mode} without close_notify: 426, hidden partial, REST + STOR completes`, async () => {
    const name = `cut-${mode}.bin`;
    const full = 2_000_000;
    const r = await upload(name, 700_000, mode);
    assert.match(r.reply, /^426 Connection closed; transfer aborted/);
    // The control connection carries on; the final name does not exist, the partial holds what arrived.
    assert.match(r.noop, /^200/);
    await assert.rejects(stat(join(home, name)));
    // A FIN comes after every byte sent; a reset lets the kernel drop what the server had not read yet.
    const arrived = Number(/^213 (\d+)$/.exec(r.size)?.[1]);
    if (mode === 'fin') assert.equal(arrived, 700_000);
    else assert.ok(arrived <= 700_000, r.size);
    const names = await readdir(home);
    assert.ok(
      names.some((n) => n.includes(name) && n !== name),
      `a hidden partial among ${names.join(', ')}`,
    );
    const audit = events.find(
      (e) => e.type === 'transfer' && e.path === `/${name}` && e.direction === 'upload',
    );
    assert.ok(audit && audit.type === 'transfer');
    assert.equal(audit.completed, false);
    await resume(name, arrived, full);
    assert.equal(sha(await readFile(join(home, name))), sha(pattern(full)));
  });
}

test('an upload ended with close_notify is published and answered 226', async () => {
  const r = await upload('clean.bin', 700_000, 'notify');
  assert.match(r.reply, /^226 /);
  assert.equal(r.size, '213 700000');
  assert.equal(sha(await readFile(join(home, 'clean.bin'))), sha(pattern(700_000)));
});
