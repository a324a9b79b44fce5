// A process that starts Ferry, serves one upload and stops it: it must then exit on its own (nothing left open).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { addUser } from '../../src/auth/user-admin.js';
import { loadConfig } from '../../src/config/load.js';
import { startFerry } from '../../src/server.js';
import { Secret } from '../../src/util/secret.js';

const dir = await mkdtemp(join(tmpdir(), 'ferry-lifecycle-child-'));
const shutdown = new AbortController();
const running = await startFerry(
  loadConfig({
    env: {},
    flags: {
      dataDir: join(dir, 'data'),
      listen: '127.0.0.1',
      sftpPort: 0,
      logLevel: 'silent',
      http: { listen: '127.0.0.1:0' },
    },
  }),
  () => {},
  'create',
  { signal: shutdown.signal },
);
await addUser(running.context.store.users, { name: 'u', password: new Secret('child-password') });
await new Promise<void>((resolve, reject) => {
  const client = new Client();
  client.once('error', reject);
  client.once('ready', () =>
    client.sftp((err, sftp) => {
      if (err) return reject(err);
      sftp.writeFile('/up.bin', randomBytes(100_000), (e) => {
        client.end();
        if (e) reject(e);
        else resolve();
      });
    }),
  );
  client.connect({ host: '127.0.0.1', port: running.port, username: 'u', password: 'child-password' });
});
process.stdout.write('uploaded\n');
// Stopped the way `serve` stops it on a signal: through the abort signal.
shutdown.abort('SIGTERM');
await new Promise<void>((resolve) => {
  const wait = () => (running.signal.aborted ? resolve() : setTimeout(wait, 10));
  wait();
});
await running.stop();
await rm(dir, { recursive: true, force: true });
process.stdout.write('stopped\n');
