// PuTTY (pscp, psftp) and curl (libssh2) log in to a default (modern) Ferry, verify its host key and move files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);

const PASSWORD = 'Interop-Pass-42';

/** Why a client cannot run here (with the Debian package to install), or false when it can. */
async function missing(
  command: string,
  versionArgs: string[],
  debianPackage: string,
): Promise<string | false> {
  try {
    await execFileAsync(command, versionArgs);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return `${command} is not installed (Debian package: ${debianPackage})`;
    }
    return false;
  }
}

async function curlMissing(): Promise<string | false> {
  const absent = await missing('curl', ['-V'], 'curl');
  if (absent) return absent;
  const { stdout } = await execFileAsync('curl', ['-V']);
  const protocols = /^Protocols: (.*)$/m.exec(stdout)?.[1]?.split(' ') ?? [];
  return protocols.includes('sftp')
    ? false
    : 'this curl has no sftp support (Debian curl is built with libssh2)';
}

const skipPutty = await missing('psftp', ['-V'], 'putty-tools');
const skipCurl = await curlMissing();

/** Runs a client without blocking the event loop (the server runs in this process). */
async function run(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(command, args, { timeout: 30_000 });
  } catch (err) {
    const failed = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} failed: ${failed.message}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
  }
}

describe('interop: PuTTY and curl under the modern profile', () => {
  let server: TestServer;
  let work: string;
  let home: string;
  /** `-hostkey SHA256:...` for every host key the server presents: PuTTY refuses anything else in -batch. */
  let puttyHostKeys: string[];
  /** curl checks the base64 SHA-256 of the host key libssh2 negotiates (ssh-ed25519 first). */
  let ed25519Sha256: string;

  before(async () => {
    server = await startTestServer();
    await server.addUser('interop', { password: PASSWORD });
    home = await server.homeOf('interop');
    work = await mkdtemp(join(tmpdir(), 'ferry-interop-'));
    const keys = await server.running.context.hostKeys.activeMaterial();
    puttyHostKeys = keys.flatMap((key) => ['-hostkey', key.sha256]);
    const ed25519 = keys.find((key) => key.algorithm === 'ssh-ed25519');
    assert.ok(ed25519, 'a default Ferry has an ed25519 host key');
    ed25519Sha256 = ed25519.sha256.replace(/^SHA256:/, '');
  });

  after(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  const putty = (): string[] => ['-batch', '-P', String(server.port), '-pw', PASSWORD, ...puttyHostKeys];

  it('pscp uploads and downloads over SFTP', { skip: skipPutty }, async () => {
    const local = join(work, 'pscp-up.bin');
    // Big enough for many pipelined READs, and not a multiple of 32 KiB.
    const content = Buffer.alloc(300_001, 'pscp');
    await writeFile(local, content);
    await run('pscp', ['-sftp', ...putty(), local, 'interop@127.0.0.1:/pscp.bin']);
    assert.deepEqual(await readFile(join(home, 'pscp.bin')), content);
    const back = join(work, 'pscp-down.bin');
    await run('pscp', ['-sftp', ...putty(), 'interop@127.0.0.1:/pscp.bin', back]);
    assert.deepEqual(await readFile(back), content);
    // A small file: pscp queues READs far past its end and must still get the data before the EOFs.
    await writeFile(join(home, 'small.txt'), 'hello putty\n');
    await run('pscp', ['-sftp', ...putty(), 'interop@127.0.0.1:small.txt', join(work, 'small.txt')]);
    assert.equal(await readFile(join(work, 'small.txt'), 'utf8'), 'hello putty\n');
  });

  it('psftp runs a batch script: ls, put, get, rename, rm', { skip: skipPutty }, async () => {
    const local = join(work, 'psftp-up.txt');
    await writeFile(local, 'from psftp\n');
    const script = join(work, 'psftp.batch');
    await writeFile(
      script,
      [
        'mkdir inbox',
        'cd inbox',
        `put ${local} a.txt`,
        'mv a.txt b.txt',
        `get b.txt ${join(work, 'psftp-down.txt')}`,
        'ls',
        'rm b.txt',
        'quit',
        '',
      ].join('\n'),
    );
    const { stdout } = await run('psftp', [...putty(), '-b', script, 'interop@127.0.0.1']);
    assert.match(stdout, /b\.txt/);
    assert.equal(await readFile(join(work, 'psftp-down.txt'), 'utf8'), 'from psftp\n');
    await assert.rejects(readFile(join(home, 'inbox', 'b.txt')), /ENOENT/);
  });

  it('curl (libssh2) downloads, uploads and lists with the host key pinned', { skip: skipCurl }, async () => {
    const url = `sftp://127.0.0.1:${server.port}`;
    const curl = ['-sS', '--hostpubsha256', ed25519Sha256, '-u', `interop:${PASSWORD}`];
    // The home exists after a first login; the PuTTY tests may have been skipped, so make it here.
    await mkdir(home, { recursive: true, mode: 0o700 });
    await writeFile(join(home, 'for-curl.txt'), 'fetched by curl\n');
    const { stdout: fetched } = await run('curl', [...curl, `${url}/for-curl.txt`]);
    assert.equal(fetched, 'fetched by curl\n');
    const local = join(work, 'curl-up.bin');
    const content = Buffer.alloc(200_000, 'curl');
    await writeFile(local, content);
    await run('curl', [...curl, '-T', local, `${url}/from-curl.bin`]);
    assert.deepEqual(await readFile(join(home, 'from-curl.bin')), content);
    const { stdout: listing } = await run('curl', [...curl, '-l', `${url}/`]);
    assert.deepEqual(
      listing
        .split('\n')
        .filter((name) => name.endsWith('curl.txt') || name.endsWith('curl.bin'))
        .sort(),
      ['for-curl.txt', 'from-curl.bin'],
    );
    // A wrong pin is refused before any password is sent.
    await assert.rejects(
      run('curl', [
        '-sS',
        '--hostpubsha256',
        'A'.repeat(43),
        '-u',
        `interop:${PASSWORD}`,
        `${url}/for-curl.txt`,
      ]),
      /curl failed/,
    );
  });
});
