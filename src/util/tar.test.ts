import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { readTar, TarError, TarWriter } from './tar.js';

async function archive(files: { name: string; data: Buffer }[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const writer = new TarWriter(out);
  for (const f of files)
    await writer.add({ name: f.name, size: f.data.length, mode: 0o600, mtime: new Date() }, f.data);
  await writer.finish();
  out.end();
  return Buffer.concat(chunks);
}

async function* inPieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

const files = [
  { name: 'manifest.json', data: Buffer.from('{"a":1}') },
  { name: 'empty', data: Buffer.alloc(0) },
  { name: 'big.bin', data: Buffer.alloc(70_001, 7) },
  { name: 'exact', data: Buffer.alloc(1024, 1) },
];

test('what the writer archives, GNU tar lists and extracts byte for byte', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tar-'));
  try {
    await writeFile(join(dir, 'a.tar'), await archive(files));
    const listing = execFileSync('tar', ['-tvf', join(dir, 'a.tar')], { encoding: 'utf8' });
    assert.match(listing, /-rw------- .* 70001 .* big\.bin/);
    execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', dir]);
    for (const f of files) assert.deepEqual(await readFile(join(dir, f.name)), f.data);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the reader reads its own archives and GNU tar ones, whatever the chunking, skipping unread bodies', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tar-'));
  try {
    for (const f of files) await writeFile(join(dir, f.name), f.data);
    execFileSync('tar', [
      '--format=ustar',
      '-cf',
      join(dir, 'gnu.tar'),
      '-C',
      dir,
      ...files.map((f) => f.name),
    ]);
    for (const data of [await archive(files), await readFile(join(dir, 'gnu.tar'))]) {
      for (const piece of [1, 100, 511, 4096, 1 << 20]) {
        const seen: { name: string; data: Buffer }[] = [];
        await readTar(inPieces(data, piece), async (entry, body) => {
          if (entry.name === 'exact') return; // left unread: the reader skips it
          const parts: Buffer[] = [];
          for await (const c of body) parts.push(c);
          seen.push({ name: entry.name, data: Buffer.concat(parts) });
        });
        assert.deepEqual(
          seen,
          files.filter((f) => f.name !== 'exact'),
          `pieces of ${piece}`,
        );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a truncated or corrupted archive is refused', async () => {
  const data = await archive(files);
  const drain = async (_: unknown, body: AsyncIterable<Buffer>) => {
    for await (const _c of body);
  };
  await assert.rejects(readTar(inPieces(data.subarray(0, 2000), 300), drain), TarError);
  await assert.rejects(readTar(inPieces(data.subarray(0, data.length - 1024), 300), drain), /end-of-archive/);
  const bad = Buffer.from(data);
  bad[3] = 0x41;
  await assert.rejects(readTar(inPieces(bad, 300), drain), /checksum/);
});

test('names must fit a ustar header and bodies must match their declared size', async () => {
  const writer = new TarWriter(new PassThrough());
  await assert.rejects(
    writer.add({ name: 'x'.repeat(100), size: 0, mode: 0o600, mtime: new Date() }, Buffer.alloc(0)),
    TarError,
  );
  await assert.rejects(
    writer.add({ name: 'short', size: 5, mode: 0o600, mtime: new Date() }, Buffer.alloc(4)),
    /changed size/,
  );
});
