// Shared set-up for transfer tests: a Ferry context in a temp data dir, a client key, files with known hashes.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config/load.js';
import { AppContext } from '../../src/context.js';

const execFileAsync = promisify(execFile);

export interface TransferFixture {
  readonly dir: string;
  readonly ctx: AppContext;
  /** Private key file (ssh-keygen) also imported into the Key Manager as client key `id`. */
  readonly keyFile: string;
  readonly publicKey: string;
  close(): Promise<void>;
}

export async function transferFixture(): Promise<TransferFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-xfer-'));
  const keyFile = join(dir, 'id_ed25519');
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ferry-test', '-f', keyFile]);
  const ctx = await AppContext.create(
    loadConfig({ env: {}, flags: { dataDir: join(dir, 'data'), logLevel: 'silent' } }),
    'create',
  );
  await ctx.clientKeys.import('id', await readFile(keyFile));
  return {
    dir,
    ctx,
    keyFile,
    publicKey: await readFile(`${keyFile}.pub`, 'utf8'),
    close: async () => {
      await ctx.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `size` random bytes (in 1 MiB pieces) and returns their SHA-256. */
export async function randomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const parts: Buffer[] = [];
  for (let left = size; left > 0; left -= 1024 * 1024) parts.push(randomBytes(Math.min(left, 1024 * 1024)));
  const data = Buffer.concat(parts);
  hash.update(data);
  await writeFile(path, data);
  return hash.digest('hex');
}
