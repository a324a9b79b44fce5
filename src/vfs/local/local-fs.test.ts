// Runs the Fs contract against the local-disk backend on a fresh temp directory per test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFsContract } from '../contract.js';
import { LocalFs } from './local-fs.js';

runFsContract('local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ferry-localfs-'));
  // A small batch size makes the streaming-listing test exercise many batches.
  return {
    fs: new LocalFs({ dirBatchSize: 100 }),
    root,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
