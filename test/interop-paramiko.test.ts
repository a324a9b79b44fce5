// paramiko (Python) logs in with two factors: it asks for the ssh-userauth service again before each method.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { generate } from 'otplib';
import ssh2 from 'ssh2';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
/** Debian's python3 (the one python3-paramiko installs into), not a pyenv python3 that may come first on PATH. */
const PYTHON = '/usr/bin/python3';

async function paramikoMissing(): Promise<string | false> {
  try {
    await execFileAsync(PYTHON, ['-c', 'import paramiko']);
    return false;
  } catch {
    return `${PYTHON} cannot import paramiko (Debian package: python3-paramiko)`;
  }
}
const skip = await paramikoMissing();

/**
 * Logs in with the given factors in order (each a separate paramiko auth_* call, as its users write it), then
 * reads hello.txt over SFTP. Prints one JSON line: what each step left to do, and the file or the error.
 */
const CLIENT = `
import json, sys, paramiko
port, user, key_file, password, code = sys.argv[1:6]
steps = []
transport = paramiko.Transport(('127.0.0.1', int(port)))
try:
    transport.start_client(timeout=20)
    if key_file:
        steps.append(transport.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key_file)))
    if password:
        steps.append(transport.auth_password(user, password))
    if code:
        steps.append(transport.auth_interactive(user, lambda title, instructions, prompts: [code] * len(prompts)))
    sftp = paramiko.SFTPClient.from_transport(transport)
    with sftp.open('hello.txt') as f:
        print(json.dumps({'steps': steps, 'file': f.read().decode()}))
except Exception as e:
    print(json.dumps({'steps': steps, 'error': type(e).__name__ + ': ' + str(e)}))
finally:
    transport.close()
`;

interface ParamikoResult {
  steps: string[][];
  file?: string;
  error?: string;
}

async function paramiko(
  port: number,
  user: string,
  factors: { key?: string; password?: string; code?: string },
): Promise<ParamikoResult> {
  // Asynchronous on purpose: the server runs in this process and must keep answering.
  const { stdout } = await execFileAsync(
    PYTHON,
    ['-c', CLIENT, String(port), user, factors.key ?? '', factors.password ?? '', factors.code ?? ''],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as ParamikoResult;
}

describe('interop: paramiko multi-step logins', { skip }, () => {
  let server: TestServer;
  let work: string;
  let keyFile: string;
  let totpSecret: string;

  before(async () => {
    server = await startTestServer();
    work = await mkdtemp(join(tmpdir(), 'ferry-paramiko-'));
    const key = ssh2.utils.generateKeyPairSync('ed25519');
    keyFile = join(work, 'id_ed25519');
    await writeFile(keyFile, key.private, { mode: 0o600 });
    await server.addUser('pkpw', {
      password: 'pkpw-pass',
      publicKeys: [key.public],
      require: ['publickey', 'password'],
    });
    await server.addUser('otp', { password: 'otp-pass', require: ['password', 'keyboard-interactive'] });
    totpSecret = (await server.running.context.totp.enrol('otp')).secret.reveal();
    for (const user of ['pkpw', 'otp']) {
      const home = await server.homeOf(user);
      await mkdir(home, { recursive: true });
      await writeFile(join(home, 'hello.txt'), `hi ${user}\n`);
    }
  });

  after(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('logs in with a key and then a password (publickey,password)', async () => {
    const result = await paramiko(server.port, 'pkpw', { key: keyFile, password: 'pkpw-pass' });
    assert.deepEqual(result, { steps: [['password'], []], file: 'hi pkpw\n' });
  });

  it('logs in with a password and then a one-time code (keyboard-interactive)', async () => {
    const code = await generate({ secret: totpSecret });
    const result = await paramiko(server.port, 'otp', { password: 'otp-pass', code });
    assert.deepEqual(result, { steps: [['keyboard-interactive'], []], file: 'hi otp\n' });
  });

  it('is still refused with the right password and a wrong code', async () => {
    const result = await paramiko(server.port, 'otp', { password: 'otp-pass', code: '000000' });
    assert.deepEqual(result.steps, [['keyboard-interactive']]);
    assert.match(result.error ?? '', /AuthenticationException/);
  });
});
