// Runs the Fs contract, unchanged, over encrypted storage on the local disk.
import { runFsContract } from '../contract.js';
import { encryptedFixture } from './encrypted-fs-fixture.js';

runFsContract('encrypted over local', async () => {
  const fx = await encryptedFixture();
  return { fs: fx.fs, root: fx.root, cleanup: fx.cleanup };
});
