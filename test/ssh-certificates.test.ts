// OpenSSH user certificates against a running `ferry serve`, signed and used by the real ssh-keygen and sftp.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runFerry } from './helpers/cli.js';
import { type Serving, serveFerry } from './helpers/ferry-serve.js';
import { makeClientKey, sftpBatch, sshRun } from './helpers/openssh.js';

const execFileAsync = promisify(execFile);

let dir: string;
let dataDir: string;
let port: number;
let serving: Serving;
const children: ChildProcess[] = [];
let ca = '';
let rogueCa = '';
let n = 0;

const ferry = async (args: string[]) => {
  const r = await runFerry([...args, '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

/** A fresh key signed by `signer` with ssh-keygen's `args`; returns the private key path (…-cert.pub beside it). */
async function certifiedKey(args: string[], signer = ca, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519') {
  const key = await makeClientKey(dir, type, `user${n++}`);
  await execFileAsync('ssh-keygen', ['-q', '-s', signer, ...args, key.publicPath]);
  return key.privatePath;
}

/** `sftp` as `user` with the certificate (and its key, which no user has in their keys). */
function login(identity: string, user = 'alice') {
  return sftpBatch({
    port,
    user,
    identity,
    options: [`CertificateFile=${identity}-cert.pub`],
    batch: 'pwd\n',
  });
}

/** The reason the server logged for refusing the certificate of this attempt. */
function refusals(): string[] {
  return [...serving.stderr().matchAll(/"reason":"([^"]*)"[^\n]*"msg":"certificate refused"/g)].map(
    (m) => m[1]!,
  );
}

async function refused(identity: string, reason: RegExp, user = 'alice') {
  const before = refusals().length;
  const r = await login(identity, user);
  assert.notEqual(r.code, 0, `login should fail: ${r.stdout}`);
  assert.match(r.stderr, /Permission denied/);
  const fresh = refusals().slice(before);
  assert.ok(
    fresh.some((x) => reason.test(x)),
    `expected ${reason} among refusals ${JSON.stringify(fresh)}`,
  );
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-certs-'));
  dataDir = join(dir, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  for (const user of ['alice', 'bob'])
    assert.equal(
      (await runFerry(['users', 'add', user, '--password-stdin', '--data-dir', dataDir], 'pw-Unused-9z\n'))
        .code,
      0,
    );
  ca = (await makeClientKey(dir, 'ed25519', 'user_ca')).privatePath;
  rogueCa = (await makeClientKey(dir, 'ed25519', 'rogue_ca')).privatePath;
  await ferry(['keys', 'ca', 'add', `${ca}.pub`, '--name', 'corp']);
  // Each refused certificate is a refused key query: many of them from 127.0.0.1 must not get it banned here.
  process.env.FERRY_DEFENDER_ENABLED = 'false';
  const started = await serveFerry(dataDir, children, [], /SFTP listening on [^:]+:(\d+)/);
  serving = started.serving;
  port = Number(started.match[1]);
});

after(async () => {
  await serving?.stop();
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('user certificates', () => {
  test('a certificate from a trusted CA naming alice logs her in; the audit trail names its key id, serial and CA', async () => {
    const key = await certifiedKey(['-I', 'alice@laptop', '-n', 'alice', '-z', '4242', '-V', '+1h']);
    const r = await login(key);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Remote working directory: \//);
    const audit = await ferry(['audit', 'query', '--user', 'alice', '--action', 'auth', '--json']);
    const record = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((rec) => rec.detail?.certificate);
    assert.ok(record, audit);
    const fingerprint = (await execFileAsync('ssh-keygen', ['-lf', `${ca}.pub`])).stdout.split(' ')[1];
    assert.deepEqual(record.detail.certificate, {
      keyId: 'alice@laptop',
      serial: '4242',
      caName: 'corp',
      caFingerprint: fingerprint,
    });
  });

  test('ecdsa and rsa (rsa-sha2-512-cert-v01) certificates log in too', async () => {
    for (const type of ['ecdsa', 'rsa'] as const) {
      const key = await certifiedKey(['-I', `alice-${type}`, '-n', 'alice', '-V', '+1h'], ca, type);
      const r = await login(key);
      assert.equal(r.code, 0, `${type}: ${r.stderr}`);
    }
  });

  test('force-command internal-sftp logs in for SFTP only: scp and exec commands are refused', async () => {
    const key = await certifiedKey(['-I', 'fc', '-n', 'alice', '-O', 'force-command=internal-sftp']);
    assert.equal((await login(key)).code, 0);
    const sshOptions = { port, user: 'alice', identity: key, options: [`CertificateFile=${key}-cert.pub`] };
    const exec = await sshRun({ ...sshOptions, command: ['sha256sum', 'x'] });
    assert.notEqual(exec.code, 0);
    assert.match(
      serving.stderr(),
      /"protocol":"ssh","reason":"protocol ssh not allowed"[^\n]*"msg":"channel refused"/,
    );
    // The same user with a certificate that forces nothing may run it (the file is missing, the command is not).
    const free = await certifiedKey(['-I', 'free', '-n', 'alice']);
    const allowed = await sshRun({
      ...sshOptions,
      identity: free,
      options: [`CertificateFile=${free}-cert.pub`],
      command: ['sha256sum', 'x'],
    });
    assert.doesNotMatch(allowed.stderr, /refused|denied/i, allowed.stderr);
  });

  test('an expired certificate is refused, and one not yet valid', async () => {
    await refused(
      await certifiedKey(['-I', 'old', '-n', 'alice', '-V', '20200101:20200102']),
      /certificate expired/,
    );
    await refused(await certifiedKey(['-I', 'soon', '-n', 'alice', '-V', '+1d:+2d']), /not yet valid/);
  });

  test('a certificate for another principal, or for none, does not log in alice', async () => {
    await refused(await certifiedKey(['-I', 'bob', '-n', 'bob,carol']), /principals do not include alice/);
    await refused(await certifiedKey(['-I', 'anyone']), /names no principals/);
  });

  test('a certificate from an untrusted CA is refused', async () => {
    await refused(await certifiedKey(['-I', 'rogue', '-n', 'alice'], rogueCa), /untrusted CA/);
  });

  test('source-address is honoured; force-command other than internal-sftp and unknown critical options refuse', async () => {
    await refused(
      await certifiedKey(['-I', 'net', '-n', 'alice', '-O', 'source-address=10.0.0.0/8']),
      /source-address 10\.0\.0\.0\/8 does not include 127\.0\.0\.1/,
    );
    assert.equal(
      (
        await login(
          await certifiedKey(['-I', 'lo', '-n', 'alice', '-O', 'source-address=10.0.0.0/8,127.0.0.1/32']),
        )
      ).code,
      0,
    );
    await refused(
      await certifiedKey(['-I', 'shell', '-n', 'alice', '-O', 'force-command=/bin/sh']),
      /force-command \/bin\/sh cannot be honoured/,
    );
    await refused(
      await certifiedKey(['-I', 'odd', '-n', 'alice', '-O', 'critical:no-such-option@example.com=x']),
      /unknown critical option no-such-option@example.com/,
    );
  });

  test('revocations by serial, key id and key fingerprint take effect at once in the running server', async () => {
    const bySerial = await certifiedKey(['-I', 'serial-7', '-n', 'alice', '-z', '7']);
    assert.equal((await login(bySerial)).code, 0);
    await ferry(['keys', 'ca', 'revoke', '--serial', '7', '--ca', 'corp']);
    await refused(bySerial, /certificate revoked \(serial 7/);

    const byId = await certifiedKey(['-I', 'lost-laptop', '-n', 'alice', '-z', '8']);
    await ferry(['keys', 'ca', 'revoke', '--key-id', 'lost-laptop']);
    await refused(byId, /certificate revoked/);

    const byKey = await certifiedKey(['-I', 'k', '-n', 'alice', '-z', '9']);
    const fingerprint = (await execFileAsync('ssh-keygen', ['-lf', `${byKey}.pub`])).stdout.split(' ')[1]!;
    await ferry(['keys', 'ca', 'revoke', '--fingerprint', fingerprint]);
    await refused(byKey, /certificate revoked/);

    const list = JSON.parse(await ferry(['keys', 'ca', 'revocations', '--json']));
    assert.deepEqual(
      list.map((r: { kind: string; value: string; ca: string | null }) => [r.kind, r.value, r.ca]),
      [
        ['serial', '7', 'corp'],
        ['key-id', 'lost-laptop', null],
        ['fingerprint', fingerprint, null],
      ],
    );
    await ferry(['keys', 'ca', 'unrevoke', String(list[0].id)]);
    assert.equal((await login(bySerial)).code, 0, 'unrevoked: logs in again');
  });

  test('an OpenSSH KRL (ssh-keygen -k) imported with --krl revokes what it lists', async () => {
    const key = await certifiedKey(['-I', 'krl-victim', '-n', 'alice', '-z', '100']);
    assert.equal((await login(key)).code, 0);
    const spec = join(dir, 'krl.spec');
    await writeFile(spec, 'serial: 100-102\nid: someone-else\n');
    const krl = join(dir, 'revoked.krl');
    await execFileAsync('ssh-keygen', ['-k', '-f', krl, '-s', `${ca}.pub`, spec]);
    const out = await ferry(['keys', 'ca', 'revoke', '--krl', krl]);
    assert.match(out, /KRL: 4 revocations added, 0 already present/);
    await refused(key, /certificate revoked \(serial 100/);
    assert.match(
      await ferry(['keys', 'ca', 'revoke', '--krl', krl]),
      /0 revocations added, 4 already present/,
    );
  });

  test('removing the CA ends its certificates at once', async () => {
    const key = await certifiedKey(['-I', 'late', '-n', 'bob']);
    assert.equal((await login(key, 'bob')).code, 0);
    await ferry(['keys', 'ca', 'remove', 'corp']);
    await refused(key, /untrusted CA/, 'bob');
    await ferry(['keys', 'ca', 'add', `${ca}.pub`, '--name', 'corp']);
  });
});

describe('host certificates', () => {
  /** `sftp` as alice trusting only what `knownHosts` says, strictly: no trust on first use. */
  const strictLogin = async (knownHosts: string, identity: string, hostKeyAlgorithm?: string) =>
    sftpBatch({
      port,
      user: 'alice',
      identity,
      options: [
        ...(hostKeyAlgorithm ? [`HostKeyAlgorithms=${hostKeyAlgorithm}`] : []),
        `CertificateFile=${identity}-cert.pub`,
        'StrictHostKeyChecking=yes',
        `UserKnownHostsFile=${knownHosts}`,
      ],
      batch: 'pwd\n',
    });

  test('a client with only @cert-authority in known_hosts connects without trust on first use', async () => {
    const hostCa = (await makeClientKey(dir, 'ed25519', 'host_ca')).privatePath;
    const keys = JSON.parse(await ferry(['keys', 'host', 'list', '--json']));
    const presented = (algorithm: string) =>
      keys.find((k: { algorithm: string; presented: boolean }) => k.algorithm === algorithm && k.presented);
    const ed = presented('ssh-ed25519');
    for (const key of [ed, presented('ssh-rsa')]) {
      const hostPub = join(dir, `ferry_host_${key.id}.pub`);
      await writeFile(hostPub, await ferry(['keys', 'host', 'export', String(key.id), '--public']));
      const sign = ['-q', '-s', hostCa, '-h', '-I', 'ferry-test', '-n', '127.0.0.1', '-V', '+1h', hostPub];
      await execFileAsync('ssh-keygen', sign);
      const imported = await ferry([
        'keys',
        'host',
        'cert',
        'import',
        join(dir, `ferry_host_${key.id}-cert.pub`),
      ]);
      assert.match(imported, new RegExp(`host key ${key.id} .* certified for 127\\.0\\.0\\.1 until`));
    }
    const listed = JSON.parse(await ferry(['keys', 'host', 'list', '--json']));
    const certified = listed.find((k: { id: number }) => k.id === ed.id).certificate;
    assert.deepEqual([certified.keyId, certified.principals], ['ferry-test', ['127.0.0.1']]);
    const caLine = (await readFile(`${hostCa}.pub`, 'utf8')).trim();
    const knownHosts = join(dir, 'known_hosts_ca');
    await writeFile(knownHosts, `@cert-authority [127.0.0.1]:${port} ${caLine}\n`);
    const user = await certifiedKey(['-I', 'alice', '-n', 'alice']);
    // The running server presents the certificate once it re-reads its host keys (SIGHUP, or its poll).
    serving.child.kill('SIGHUP');
    let r = await strictLogin(knownHosts, user);
    for (let i = 0; i < 40 && r.code !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      r = await strictLogin(knownHosts, user);
    }
    assert.equal(r.code, 0, r.stderr);
    // The RSA host key's certificate, signed with SHA-512 and SHA-256 as the client asks.
    for (const algorithm of ['rsa-sha2-512-cert-v01@openssh.com', 'rsa-sha2-256-cert-v01@openssh.com']) {
      const rsa = await strictLogin(knownHosts, user, algorithm);
      assert.equal(rsa.code, 0, `${algorithm}: ${rsa.stderr}`);
    }

    // Another CA in known_hosts: the certificate proves nothing, and strict checking refuses the host.
    const otherCa = (await makeClientKey(dir, 'ed25519', 'other_host_ca')).privatePath;
    const otherHosts = join(dir, 'known_hosts_other');
    await writeFile(
      otherHosts,
      `@cert-authority [127.0.0.1]:${port} ${(await readFile(`${otherCa}.pub`, 'utf8')).trim()}\n`,
    );
    const refusedHost = await strictLogin(otherHosts, user);
    assert.notEqual(refusedHost.code, 0);
    assert.match(refusedHost.stderr, /Host key verification failed/);
  });

  test('ferry keys host certify signs the host keys with a CA key it is given; @cert-authority clients accept them', async () => {
    const hostCa = (await makeClientKey(dir, 'ecdsa', 'host_ca_2')).privatePath;
    const out = await ferry([
      'keys',
      'host',
      'certify',
      '--ca',
      hostCa,
      '--principals',
      'localhost,127.0.0.1',
      '--valid-days',
      '30',
    ]);
    assert.match(out, /host key \d+ \(SHA256:[^)]+\) certified for localhost,127\.0\.0\.1/);
    const knownHosts = join(dir, 'known_hosts_ca2');
    await writeFile(
      knownHosts,
      `@cert-authority [127.0.0.1]:${port} ${(await readFile(`${hostCa}.pub`, 'utf8')).trim()}\n`,
    );
    const user = await certifiedKey(['-I', 'alice', '-n', 'alice']);
    serving.child.kill('SIGHUP');
    let r = await strictLogin(knownHosts, user);
    for (let i = 0; i < 40 && r.code !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      r = await strictLogin(knownHosts, user);
    }
    assert.equal(r.code, 0, r.stderr);
    const bad = await runFerry([
      'keys',
      'host',
      'certify',
      '--ca',
      hostCa,
      '--principals',
      '',
      '--data-dir',
      dataDir,
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /give the host names clients connect with/);
  });

  test('a user certificate, or one for a key Ferry does not hold, is not imported as a host certificate', async () => {
    const user = await certifiedKey(['-I', 'alice', '-n', 'alice']);
    const asUser = await runFerry([
      'keys',
      'host',
      'cert',
      'import',
      `${user}-cert.pub`,
      '--data-dir',
      dataDir,
    ]);
    assert.notEqual(asUser.code, 0);
    assert.match(asUser.stderr, /this is a user certificate/);
    const stranger = await certifiedKey(['-h', '-I', 'other', '-n', 'x']);
    const foreign = await runFerry([
      'keys',
      'host',
      'cert',
      'import',
      `${stranger}-cert.pub`,
      '--data-dir',
      dataDir,
    ]);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.stderr, /no live host key matches the certified key SHA256:/);
  });
});

describe('ferry keys ca: bad input is one line of error and changes nothing', () => {
  test('a certificate, a missing file, a bad revoke and a duplicate are refused', async () => {
    const key = await certifiedKey(['-I', 'x', '-n', 'alice']);
    const cases: [string[], RegExp][] = [
      [['keys', 'ca', 'add', `${key}-cert.pub`], /this is a certificate/],
      [['keys', 'ca', 'add', join(dir, 'missing.pub')], /cannot read .*missing\.pub: ENOENT/],
      [['keys', 'ca', 'add', `${ca}.pub`, '--name', 'again'], /already trusted/],
      [['keys', 'ca', 'revoke', '--serial', '1'], /--serial needs --ca/],
      [['keys', 'ca', 'revoke', '--serial', '-1', '--ca', 'corp'], /serial must be a number/],
      [['keys', 'ca', 'revoke', '--serial', '1', '--ca', 'nope'], /no trusted CA named nope/],
      [['keys', 'ca', 'revoke', '--key-id', 'a', '--fingerprint', 'SHA256:x'], /exactly one of/],
      [['keys', 'ca', 'revoke', '--fingerprint', 'MD5:aa'], /fingerprint must look like SHA256/],
      [['keys', 'ca', 'revoke', '--krl', `${ca}.pub`], /not an OpenSSH KRL file/],
      [['keys', 'ca', 'revoke', '--krl', join(dir, 'nope.krl')], /cannot read .*nope\.krl: ENOENT/],
      [['keys', 'ca', 'remove', 'nope'], /no trusted CA named nope/],
    ];
    const before = await ferry(['keys', 'ca', 'list', '--json']);
    const revocations = await ferry(['keys', 'ca', 'revocations', '--json']);
    for (const [args, message] of cases) {
      const r = await runFerry([...args, '--data-dir', dataDir]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
    assert.equal(await ferry(['keys', 'ca', 'list', '--json']), before);
    assert.equal(await ferry(['keys', 'ca', 'revocations', '--json']), revocations);
  });
});
