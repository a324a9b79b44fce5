// Handshakes per second with the post-quantum hybrid against curve25519: OpenSSH 10's sftp (unpacked by
// scripts/fetch-openssh10.sh) runs `sessions` sequential logins (ls) against Ferry with each kex, and against
// OpenSSH 10's own sshd with its default (mlkem768x25519-sha256) for scale.
// Usage: node --import tsx bench/pq-handshakes.ts [sessions] (default 30)
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonSshOptions, makeClientKey, run } from '../test/helpers/openssh.js';
import { startOpenSshServer } from '../test/helpers/openssh-server.js';
import { startTestServer } from '../test/helpers/server.js';

const sessions = Number(process.argv[2] ?? 30);
const root = join(
  process.env.FERRY_OPENSSH10_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ferry', 'openssh10'),
  'root',
);
if (!existsSync(join(root, 'usr/bin/sftp'))) {
  console.error(`OpenSSH 10 is not unpacked under ${root}: run scripts/fetch-openssh10.sh`);
  process.exit(2);
}

const work = await mkdtemp(join(tmpdir(), 'ferry-pq-bench-'));
const key = await makeClientKey(work, 'ed25519');
const ferry = await startTestServer({ config: { logLevel: 'silent' } });
await ferry.addUser('bench', { publicKeys: [key.publicText] });
const sshd = await startOpenSshServer({
  authorizedKeys: key.publicText,
  sshdPath: join(root, 'usr/sbin/sshd'),
  extraConfig: [
    `SshdSessionPath ${join(root, 'usr/lib/openssh/sshd-session')}`,
    `SshdAuthPath ${join(root, 'usr/lib/openssh/sshd-auth')}`,
  ],
});

async function rate(port: number, user: string, kex: string | undefined): Promise<number> {
  const options = kex ? [`KexAlgorithms=${kex}`] : [];
  const args = [
    ...commonSshOptions({ port, user, identity: key.privatePath, options }),
    '-S',
    join(root, 'usr/bin/ssh'),
    '-P',
    String(port),
    '-b',
    '-',
    `${user}@127.0.0.1`,
  ];
  const started = performance.now();
  for (let i = 0; i < sessions; i++) {
    const r = await run(join(root, 'usr/bin/sftp'), args, { input: 'ls\n' });
    if (r.code !== 0) throw new Error(`sftp failed: ${r.stderr}`);
  }
  return sessions / ((performance.now() - started) / 1000);
}

try {
  const results: [string, number][] = [];
  // Alternating, twice, so a neighbour's burst of CPU does not land on one kex only.
  for (let round = 0; round < 2; round++) {
    results.push(['ferry mlkem768x25519-sha256', await rate(ferry.port, 'bench', 'mlkem768x25519-sha256')]);
    results.push(['ferry curve25519-sha256', await rate(ferry.port, 'bench', 'curve25519-sha256')]);
    results.push(['openssh10 sshd default', await rate(sshd.port, sshd.user, undefined)]);
  }
  const best = new Map<string, number>();
  for (const [name, r] of results) best.set(name, Math.max(best.get(name) ?? 0, r));
  for (const [name, r] of best)
    console.log(`${name}: ${r.toFixed(1)} sessions/s (${sessions} sequential, best of 2)`);
  const ratio = best.get('ferry mlkem768x25519-sha256')! / best.get('ferry curve25519-sha256')!;
  console.log(`mlkem768x25519 / curve25519 on Ferry: ${ratio.toFixed(2)}x`);
} finally {
  await sshd.close();
  await ferry.close();
  await rm(work, { recursive: true, force: true });
}
