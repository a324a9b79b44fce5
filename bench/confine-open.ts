// Micro benchmark, not a test: 20k open+close through the confine addon against fs.promises.open.
// Run: node --import tsx bench/confine-open.ts. Rounds alternate so a noisy neighbour hits both alike.
import { close, constants } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { confine } from '../src/vfs/local/confine.js';

const COUNT = 20_000;
const ROUNDS = 5;
const CONCURRENCY = 16; // an SFTP server has many requests in flight; both sides get the same
const closeFd = promisify(close);

async function round(once: () => Promise<void>, count: number): Promise<number> {
  const start = process.hrtime.bigint();
  let left = count;
  const lane = async () => {
    while (left-- > 0) await once();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const dir = await mkdtemp(join(tmpdir(), 'ferry-confine-bench-'));
try {
  await writeFile(join(dir, 'file'), 'x');
  const root = await confine.openRoot(dir);
  const viaNode = async () => (await open(join(dir, 'file'), 'r')).close();
  const viaConfine = async () => closeFd((await confine.open(root, 'file', constants.O_RDONLY, 0)).fd);
  await round(viaNode, 1000); // warm up: pool threads, JIT
  await round(viaConfine, 1000);
  const node: number[] = [];
  const native: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    node.push(await round(viaNode, COUNT / ROUNDS));
    native.push(await round(viaConfine, COUNT / ROUNDS));
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const perOp = (ms: number) => `${((ms * 1000) / COUNT).toFixed(1)} µs/op`;
  console.log(`fs.promises.open + close: ${sum(node).toFixed(0)} ms (${perOp(sum(node))})`);
  console.log(`confine.open + fs.close:  ${sum(native).toFixed(0)} ms (${perOp(sum(native))})`);
  console.log(
    `ratio confine/fs.promises: total ${(sum(native) / sum(node)).toFixed(2)}, best round ${(Math.min(...native) / Math.min(...node)).toFixed(2)}`,
  );
  await closeFd(root);
} finally {
  await rm(dir, { recursive: true, force: true });
}
