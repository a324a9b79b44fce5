// Runs the Fs contract, unchanged, over encrypted storage on the local disk, with each segment cipher.
import { runFsContract } from '../contract.js';
import { encryptedFixture } from './encrypted-fs-fixture.js';

runFsContract('encrypted over local', async () => {
  const fx = await encryptedFixture();
  return { fs: fx.fs, root: fx.root, cleanup: fx.cleanup };
});

runFsContract('encrypted over local, ChaCha20-Poly1305', async () => {
  const fx = await encryptedFixture('read', 'chacha20-poly1305');
  return { fs: fx.fs, root: fx.root, cleanup: fx.cleanup };
});
