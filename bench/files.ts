// Test data for the benchmark: random files written with their SHA-256, streamed hashing, and a huge flat directory.
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const CHUNK = 4 * 1024 * 1024;

/** Writes `bytes` random bytes to `path` and returns their SHA-256 (hex). */
export async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (let written = 0; written < bytes; ) {
      const n = Math.min(CHUNK, bytes - written);
      const chunk = randomFillSync(buffer, 0, n).subarray(0, n);
      hash.update(chunk);
      await file.write(chunk, 0, n);
      written += n;
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A directory holding exactly `count` empty files (created once, reused by later runs). */
export async function ensureManyFiles(dir: string, count: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const existing = (await readdir(dir)).length;
  if (existing === count) return;
  const width = String(count).length;
  const batch = 256;
  for (let i = existing; i < count; i += batch) {
    const names: string[] = [];
    for (let j = i; j < Math.min(count, i + batch); j++)
      names.push(`file-${String(j).padStart(width, '0')}.dat`);
    await Promise.all(names.map(async (name) => (await open(join(dir, name), 'w')).close()));
  }
}
