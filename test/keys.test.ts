// The Key Manager as an administrator uses it: host key rotation seen by OpenSSH, client keys, user keys, OpenPGP with GnuPG.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { run, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let work: string;

function ferry(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry([...args, '--data-dir', server.dataDir], input);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-keys-cli-'));
  server = await startTestServer();
  await server.addUser('alice', { password: 'alice-pw' });
});
after(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

async function scannedFingerprints(): Promise<string[]> {
  const { stdout } = await run('ssh-keyscan', ['-p', String(server.port), '127.0.0.1']);
  const listed = execFileSync('ssh-keygen', ['-lf', '-'], { input: stdout }).toString();
  return listed
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[1]!)
    .sort();
}

function knownHostsFingerprints(file: string, type: string): Promise<string[]> {
  return readFile(file, 'utf8').then((text) =>
    text
      .split('\n')
      .filter((l) => l.includes(` ${type} `))
      .map(
        (l) =>
          execFileSync('ssh-keygen', ['-lf', '-'], { input: l.split(' ').slice(1).join(' ') })
            .toString()
            .split(' ')[1]!,
      )
      .sort(),
  );
}

describe('host keys', () => {
  test('list shows the fingerprints ssh-keyscan sees on the running server', async () => {
    const r = await ferry(['keys', 'host', 'list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const keys = JSON.parse(r.stdout) as {
      sha256: string;
      md5: string;
      algorithm: string;
      active: boolean;
      bits: number;
    }[];
    assert.deepEqual(
      keys.map((k) => [k.algorithm, k.bits, k.active]),
      [
        ['ssh-ed25519', 256, true],
        ['ecdsa-sha2-nistp256', 256, true],
        ['ssh-rsa', 3072, true],
      ],
    );
    assert.ok(keys.every((k) => /^MD5:([0-9a-f]{2}:){15}[0-9a-f]{2}$/.test(k.md5)));
    const presented = keys
      .filter((k) => !k.algorithm.startsWith('ecdsa'))
      .map((k) => k.sha256)
      .sort();
    assert.deepEqual(await scannedFingerprints(), presented);
  });

  test('a rotation: clients with UpdateHostKeys learn the new key, then only it is offered', async () => {
    const knownHosts = join(work, 'known_hosts');
    const ssh = (strict: string) =>
      sftpBatch({
        port: server.port,
        user: 'alice',
        password: 'alice-pw',
        batch: 'pwd\n',
        options: [
          `StrictHostKeyChecking=${strict}`,
          `UserKnownHostsFile=${knownHosts}`,
          'UpdateHostKeys=yes',
          'HostKeyAlgorithms=ssh-ed25519',
          'LogLevel=ERROR',
        ],
      });
    assert.equal((await ssh('accept-new')).code, 0);
    const [oldKey] = await knownHostsFingerprints(knownHosts, 'ssh-ed25519');
    assert.ok(oldKey);

    // A checkpoint signed with the old key before the rotation, for `audit verify` below.
    await server.running.context.audit.checkpoint();
    const gen = await ferry(['keys', 'host', 'generate', '--type', 'ed25519']);
    assert.equal(gen.code, 0, gen.stderr);
    const newId = gen.stdout.match(/host key (\d+) generated/)![1]!;
    const newKey = gen.stdout.match(/(SHA256:\S+)/)![1]!;
    await server.running.reloadHostKeys();

    // The old key still signs the key exchange; the announcement teaches the client the new (pending) one.
    assert.equal((await ssh('yes')).code, 0);
    assert.deepEqual(await knownHostsFingerprints(knownHosts, 'ssh-ed25519'), [newKey, oldKey].sort());

    const list = JSON.parse((await ferry(['keys', 'host', 'list', '--json'])).stdout) as {
      id: number;
      sha256: string;
    }[];
    const oldId = list.find((k) => k.sha256 === oldKey)!.id;
    assert.equal((await ferry(['keys', 'host', 'promote', newId])).code, 0);
    assert.equal((await ferry(['keys', 'host', 'retire', String(oldId)])).code, 0);
    await server.running.reloadHostKeys();
    assert.ok(!(await scannedFingerprints()).includes(oldKey));
    assert.ok((await scannedFingerprints()).includes(newKey));
    const after = await ssh('yes');
    assert.equal(after.code, 0, `a client that learned the new key still connects strictly: ${after.stderr}`);
    assert.ok(newId);

    // The running server now signs audit checkpoints with the new key; verify trusts the retired one too.
    await server.running.context.audit.checkpoint();
    const verify = await ferry(['audit', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.ok(verify.stdout.includes(`signed by ${oldKey} (host key ${oldId}, retired`), verify.stdout);
    assert.ok(verify.stdout.includes(`signed by ${newKey} (host key ${newId})`), verify.stdout);
  });

  test('export prints the private key ssh-keygen reads, and the public line', async () => {
    const out = join(work, 'host-export');
    assert.equal((await ferry(['keys', 'host', 'export', '1', '--output', out])).code, 0);
    assert.equal((await import('node:fs')).statSync(out).mode & 0o777, 0o600);
    const pub = (await ferry(['keys', 'host', 'export', '1', '--public'])).stdout.trim();
    assert.equal(
      execFileSync('ssh-keygen', ['-y', '-f', out]).toString().trim().split(' ').slice(0, 2).join(' '),
      pub.split(' ').slice(0, 2).join(' '),
    );
  });
});

describe('client keys', () => {
  test('generate, export in OpenSSH and PuTTY format, list and remove', async () => {
    assert.equal(
      (await ferry(['keys', 'client', 'generate', 'bank', '--type', 'rsa', '--bits', '2048'])).code,
      0,
    );
    const pub = (await ferry(['keys', 'client', 'export', 'bank', '--public'])).stdout.trim();
    const priv = join(work, 'bank');
    assert.equal((await ferry(['keys', 'client', 'export', 'bank', '--output', priv])).code, 0);
    assert.equal(execFileSync('ssh-keygen', ['-y', '-f', priv]).toString().split(' ')[1], pub.split(' ')[1]);
    const ppk = join(work, 'bank.ppk');
    assert.equal(
      (await ferry(['keys', 'client', 'export', 'bank', '--format', 'ppk', '--output', ppk])).code,
      0,
    );
    assert.match(await readFile(ppk, 'utf8'), /^PuTTY-User-Key-File-3: ssh-rsa/);
    const havePuttygen = (await run('sh', ['-c', 'command -v puttygen'])).code === 0;
    if (havePuttygen) {
      const fromPutty = execFileSync('puttygen', [ppk, '-O', 'public-openssh']).toString();
      assert.equal(fromPutty.split(' ')[1], pub.split(' ')[1]);
    }
    const listed = JSON.parse((await ferry(['keys', 'client', 'list', '--json'])).stdout);
    assert.deepEqual(
      listed.map((k: { name: string }) => k.name),
      ['bank'],
    );
    assert.equal((await ferry(['keys', 'client', 'remove', 'bank'])).code, 0);
    assert.equal((await ferry(['keys', 'client', 'export', 'bank'])).code, 1);
  });

  test('import takes ssh-keygen keys with a passphrase and refuses loose modes, wrong passphrases, DSA and public keys', async () => {
    const key = join(work, 'partner');
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', 'secret words', '-f', key]);
    let r = await ferry(['keys', 'client', 'import', 'partner', key], 'wrong\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /passphrase required/);
    r = await ferry(['keys', 'client', 'import', 'partner', key, '--passphrase-stdin'], 'wrong\n');
    assert.match(r.stderr, /wrong passphrase/);
    await chmod(key, 0o644);
    r = await ferry(['keys', 'client', 'import', 'partner', key, '--passphrase-stdin'], 'secret words\n');
    assert.match(r.stderr, /readable by group or others \(mode 644\)/);
    await chmod(key, 0o600);
    r = await ferry(['keys', 'client', 'import', 'partner', key, '--passphrase-stdin'], 'secret words\n');
    assert.equal(r.code, 0, r.stderr);
    const listed = execFileSync('ssh-keygen', ['-lf', `${key}.pub`])
      .toString()
      .split(' ')[1];
    assert.ok(r.stdout.includes(listed!));

    const dsa = join(work, 'dsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'dsa', '-N', '', '-f', dsa]);
    r = await ferry(['keys', 'client', 'import', 'old', dsa]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DSA keys are not supported/);
    await writeFile(join(work, 'pub-only'), await readFile(`${key}.pub`), { mode: 0o600 });
    r = await ferry(['keys', 'client', 'import', 'pubonly', join(work, 'pub-only')]);
    assert.match(r.stderr, /public key; a private key is needed/);
    await writeFile(join(work, 'truncated'), (await readFile(key, 'utf8')).slice(0, 200), { mode: 0o600 });
    r = await ferry(['keys', 'client', 'import', 'cut', join(work, 'truncated')]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    const names = JSON.parse((await ferry(['keys', 'client', 'list', '--json'])).stdout).map(
      (k: { name: string }) => k.name,
    );
    assert.deepEqual(names, ['partner'], 'the refused imports stored nothing');
  });
});

describe('user keys', () => {
  test('users keys generate prints a private key once that logs in; Ferry keeps only the public half', async () => {
    await server.addUser('ula', {});
    const keyFile = join(work, 'ula');
    const r = await ferry(['users', 'keys', 'generate', 'ula', '--output', keyFile]);
    assert.equal(r.code, 0, r.stderr);
    const login = await sftpBatch({ port: server.port, user: 'ula', identity: keyFile, batch: 'pwd\n' });
    assert.equal(login.code, 0, login.stderr);
    const db = await readFile(join(server.dataDir, 'ferry.db'));
    const privateBody = (await readFile(keyFile, 'utf8')).split('\n')[1]!;
    assert.ok(!db.includes(privateBody), 'the private key is not in the store');
  });
});

describe('OpenPGP keys', () => {
  test('our keys import into GnuPG, and GnuPG keys import into Ferry', async () => {
    const gnupg = await mkdtemp(join(tmpdir(), 'ferry-gnupg-'));
    await chmod(gnupg, 0o700);
    const gpg = (args: string[], input?: string) =>
      execFileSync('gpg', ['--batch', '--homedir', gnupg, ...args], {
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      }).toString();
    try {
      let r = await ferry([
        'keys',
        'pgp',
        'generate',
        'atrest',
        '--email',
        'ops@example.com',
        '--expires',
        '365',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const fingerprint = r.stdout.match(/([0-9A-F]{40})/)![1]!;
      const pub = (await ferry(['keys', 'pgp', 'export', 'atrest'])).stdout;
      const priv = (await ferry(['keys', 'pgp', 'export', 'atrest', '--private'])).stdout;
      gpg(['--import'], pub);
      gpg(['--import'], priv);
      assert.match(gpg(['--with-colons', '--list-secret-keys']), new RegExp(fingerprint));
      const listed = JSON.parse((await ferry(['keys', 'pgp', 'list', '--json'])).stdout);
      assert.ok(listed[0].expires, 'expiry listed');

      gpg([
        '--passphrase',
        '',
        '--quick-gen-key',
        'Bank <bank@example.com>',
        'future-default',
        'default',
        'never',
      ]);
      const bankPub = join(work, 'bank.asc');
      await writeFile(bankPub, gpg(['--armor', '--export', 'bank@example.com']));
      r = await ferry(['keys', 'pgp', 'import', bankPub, '--name', 'bank']);
      assert.equal(r.code, 0, r.stderr);
      const bankFpr = gpg(['--with-colons', '--fingerprint', 'bank@example.com']).match(
        /^fpr:+([0-9A-F]{40}):/m,
      )![1];
      assert.match(r.stdout, new RegExp(bankFpr!));
    } finally {
      execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'all']);
      await rm(gnupg, { recursive: true, force: true });
    }
  });
});

describe('audit', () => {
  test('the first start and every private key export are recorded, naming the key, never its secret', async () => {
    const r = await ferry(['audit', 'query', '--action', 'admin', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const records = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { target: string; detail: { command: string; changes?: Record<string, unknown> } },
      );
    const of = (command: string) => records.filter((x) => x.detail.command === command);
    const hostKeys = JSON.parse((await ferry(['keys', 'host', 'list', '--json'])).stdout) as {
      id: number;
      sha256: string;
    }[];

    const firstStart = of('serve (first start)');
    assert.deepEqual(
      firstStart.map((x) => x.target),
      ['host key 1', 'host key 2', 'host key 3', 'admin'],
    );
    assert.equal(firstStart[0]!.detail.changes!.sha256, hostKeys.find((k) => k.id === 1)!.sha256);
    assert.equal(firstStart[0]!.detail.changes!.state, 'active');

    const hostExport = of('keys host export');
    assert.equal(hostExport.length, 1, 'the --public export is not a private export');
    assert.equal(hostExport[0]!.target, 'host key 1');
    assert.deepEqual(hostExport[0]!.detail.changes, {
      private: true,
      fingerprint: hostKeys.find((k) => k.id === 1)!.sha256,
      format: 'openssh',
      to: join(work, 'host-export'),
    });
    assert.deepEqual(
      of('keys client export').map((x) => [x.target, x.detail.changes!.format, x.detail.changes!.encrypted]),
      [
        ['bank', 'openssh', false],
        ['bank', 'ppk', false],
      ],
    );
    assert.match(String(of('keys client export')[0]!.detail.changes!.fingerprint), /^SHA256:/);
    assert.deepEqual(
      of('keys pgp export').map((x) => [x.target, x.detail.changes!.private, x.detail.changes!.to]),
      [['atrest', true, 'stdout']],
    );
    assert.match(String(of('keys pgp export')[0]!.detail.changes!.fingerprint), /^[0-9A-F]{40}$/);
    assert.deepEqual(of('users keys generate')[0]!.detail.changes!.to, join(work, 'ula'));

    const exported = await readFile(join(work, 'host-export'), 'utf8');
    const secretLine = exported.split('\n')[1]!;
    assert.ok(
      secretLine.length > 20 && !r.stdout.includes(secretLine),
      'no private key material in the trail',
    );
    assert.doesNotMatch(r.stdout, /PRIVATE KEY|PuTTY-User-Key-File/);
  });
});
