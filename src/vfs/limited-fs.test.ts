// Runs the Fs contract against the limited test backend, so the suite's capability branches run too.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFsContract } from './contract.js';
import { LimitedFs } from './limited-fs-fixture.js';
import { LocalFs } from './local/local-fs.js';

runFsContract('limited (front-to-back writes, no links)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ferry-limitedfs-'));
  return {
    fs: new LimitedFs(new LocalFs({ dirBatchSize: 100 })),
    root,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
