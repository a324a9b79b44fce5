// Test-only: node:fs's positional read calls, counted (how many thread-pool reads a file's reads cost, and how many
// ran on the calling thread).
import * as fs from 'node:fs';
import type { ReadCalls } from './read-queue.js';

/** node:fs's calls, counted; `shortReadv` makes each preadv return only half of what it read. */
export function countingIo(shortReadv = false) {
  const counts = { read: 0, readv: 0, readSync: 0, readvSync: 0, readvBuffers: [] as number[] };
  const io: ReadCalls = {
    read: ((...args: Parameters<typeof fs.read>) => {
      counts.read++;
      return (fs.read as (...a: unknown[]) => void)(...args);
    }) as typeof fs.read,
    readv: ((
      fd: number,
      buffers: NodeJS.ArrayBufferView[],
      position: number,
      done: (err: NodeJS.ErrnoException | null, bytesRead: number, buffers: NodeJS.ArrayBufferView[]) => void,
    ) => {
      counts.readv++;
      counts.readvBuffers.push(buffers.length);
      fs.readv(fd, buffers, position, (err, bytesRead, bufs) =>
        done(err, shortReadv && bytesRead > 0 ? Math.floor(bytesRead / 2) : bytesRead, bufs),
      );
    }) as typeof fs.readv,
    readSync: ((...args: Parameters<typeof fs.readSync>) => {
      counts.readSync++;
      return (fs.readSync as (...a: unknown[]) => number)(...args);
    }) as typeof fs.readSync,
    readvSync: ((fd: number, buffers: NodeJS.ArrayBufferView[], position?: number) => {
      counts.readvSync++;
      counts.readvBuffers.push(buffers.length);
      const bytesRead = fs.readvSync(fd, buffers, position);
      return shortReadv && bytesRead > 0 ? Math.floor(bytesRead / 2) : bytesRead;
    }) as typeof fs.readvSync,
  };
  return { counts, io };
}
