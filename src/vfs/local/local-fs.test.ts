// Runs the Fs contract against the local-disk backend on a fresh temp directory per test, with its metadata
// calls on the thread pool and inline (what 'auto' picks for local file systems).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFsContract } from '../contract.js';
import { LocalFs } from './local-fs.js';

for (const metadataCalls of ['pool', 'inline'] as const) {
  runFsContract(`local, ${metadataCalls} metadata calls`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-localfs-'));
    // A small batch size makes the streaming-listing test exercise many batches.
    return {
      fs: new LocalFs({ dirBatchSize: 100, metadataCalls }),
      root,
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  });
}
