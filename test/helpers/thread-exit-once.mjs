// Preloaded (`node --import`) into a `serve --worker-mode threads` process by test/serve-threads.test.ts: the first
// worker thread to start ends itself a few seconds later, once per marker file (THREAD_EXIT_MARKER), so the test
// sees the main thread start another. It lives in the repository because a thread started after the process was
// hardened can read only the code's own tree (Landlock), and the marker goes in the data dir, the one writable place.
import { existsSync, writeFileSync } from 'node:fs';
import { isMainThread, workerData } from 'node:worker_threads';

const marker = process.env.THREAD_EXIT_MARKER;
if (!isMainThread && workerData?.ferryServeThread && marker && !existsSync(marker)) {
  writeFileSync(marker, `${process.pid}\n`);
  setTimeout(() => process.exit(3), 3000);
}
