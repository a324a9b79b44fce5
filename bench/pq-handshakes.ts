// Scenario `pq` of `npm run bench`: what the post-quantum hybrid costs a login. OpenSSH 10's sftp (unpacked by
// scripts/fetch-openssh10.sh; Debian 12's 9.2 has no mlkem768x25519) runs sequential logins (ls) against the
// bench's Ferry with mlkem768x25519-sha256 and with curve25519-sha256, and against OpenSSH 10's own sshd with its
// default (mlkem768x25519-sha256), rounds alternating so a neighbour's burst of CPU lands on every column.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { commonSshOptions, run } from '../test/helpers/openssh.js';
import { startOpenSshServer } from '../test/helpers/openssh-server.js';
import type { Measurement } from './scenarios.js';
import type { BenchServer } from './servers.js';

const PQ = 'mlkem768x25519-sha256';
const CLASSIC = 'curve25519-sha256';

/** The unpacked OpenSSH 10 root, or undefined when scripts/fetch-openssh10.sh has not run. */
export function openSsh10Root(): string | undefined {
  const root = join(
    process.env.FERRY_OPENSSH10_DIR ??
      join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ferry', 'openssh10'),
    'root',
  );
  return existsSync(join(root, 'usr/bin/sftp')) ? root : undefined;
}

export async function pqHandshakes(options: {
  readonly root: string;
  readonly ferry: BenchServer;
  /** The bench client's private key file and its public line. */
  readonly key: string;
  readonly publicKey: string;
  readonly sessions: number;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement[]> {
  const { root, ferry, key, sessions, log } = options;
  const sshd = await startOpenSshServer({
    authorizedKeys: options.publicKey,
    sshdPath: join(root, 'usr/sbin/sshd'),
    extraConfig: [
      `SshdSessionPath ${join(root, 'usr/lib/openssh/sshd-session')}`,
      `SshdAuthPath ${join(root, 'usr/lib/openssh/sshd-auth')}`,
    ],
  });
  const rate = async (port: number, user: string, kex: string | undefined): Promise<number> => {
    const args = [
      ...commonSshOptions({ port, user, identity: key, options: kex ? [`KexAlgorithms=${kex}`] : [] }),
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
      if (r.code !== 0) throw new Error(`sftp (OpenSSH 10) failed against port ${port}: ${r.stderr.trim()}`);
    }
    return sessions / ((performance.now() - started) / 1000);
  };
  const pq: number[] = [];
  const classic: number[] = [];
  const openssh10: number[] = [];
  try {
    for (let round = 0; round < options.runs; round++) {
      pq.push(await rate(ferry.port, ferry.user, PQ));
      classic.push(await rate(ferry.port, ferry.user, CLASSIC));
      openssh10.push(await rate(sshd.port, sshd.user, undefined));
      log(
        `  round ${round + 1}: ferry ${PQ} ${pq.at(-1)!.toFixed(1)}, ferry ${CLASSIC} ${classic.at(-1)!.toFixed(1)}, ` +
          `OpenSSH 10 sshd ${openssh10.at(-1)!.toFixed(1)} sessions/s`,
      );
    }
  } finally {
    await sshd.close();
  }
  return [
    {
      id: 'pq-kex-cost',
      label: `${sessions} sequential OpenSSH 10 sessions, ${PQ} (OpenSSH column: Ferry, ${CLASSIC})`,
      unit: 'sessions/s',
      better: 'higher',
      runs: { ferry: pq, openssh: classic },
      target: { kind: 'ratio-at-least', value: 0.8 },
    },
    {
      id: 'pq-vs-openssh10',
      label: `${sessions} sequential OpenSSH 10 sessions, ${PQ} (OpenSSH column: OpenSSH 10 sshd, its default kex)`,
      unit: 'sessions/s',
      better: 'higher',
      runs: { ferry: pq, openssh: openssh10 },
    },
  ];
}
