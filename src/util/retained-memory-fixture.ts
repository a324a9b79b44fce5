// For tests that bound memory: what the process really holds after a full collection.
//
// `external` counts the backing stores of collected buffers until V8's sweeper frees them, and by default that
// sweep runs on a background thread after gc() returns: on a loaded machine it lags, and a reading took garbage
// for retained memory (65 MiB read where 5.5 MiB was held). With the sweep done inside the collection, the
// figure is what is held.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
setFlagsFromString('--no-concurrent-array-buffer-sweeping');
const gc = runInNewContext('gc') as () => void;

/** Heap and external memory in use after a full collection whose buffers are swept before it returns. */
export function retainedBytes(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Array buffers still held after such a collection: for tests whose own side grows the heap. */
export function retainedBufferBytes(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}
