// For tests of the native ring threads: how many threads of this process carry a name (native/aead names its
// threads by kind), so a test counts its own kind while other threads of the process come and go.
import { readdirSync, readFileSync } from 'node:fs';

export function namedThreads(name: string): number {
  let count = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trimEnd() === name) count++;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return count;
}
