// Worker-thread side of LstatPool (lstat-pool.ts): lstat a whole listing batch synchronously, answer in one message.
import { lstatSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { LSTAT_FIELDS, type LstatReply, type LstatRequest } from './lstat-protocol.js';

const port = parentPort;
if (!port) throw new Error('lstat-worker.ts must run in a worker thread');

port.on('message', (request: LstatRequest) => {
  const { id, base, names } = request;
  const fields = new Float64Array(names.length * LSTAT_FIELDS);
  names.forEach((name, i) => {
    const at = i * LSTAT_FIELDS;
    // throwIfNoEntry: false makes a vanished entry (removed since readdir) cheap: no exception object.
    let stats: ReturnType<typeof lstatSync>;
    try {
      stats = lstatSync(base + name, { throwIfNoEntry: false });
    } catch {
      stats = undefined; // EACCES, ENAMETOOLONG, …: the entry is left out like a vanished one
    }
    if (!stats) {
      fields[at] = Number.NaN;
      return;
    }
    fields[at] = stats.mode;
    fields[at + 1] = stats.size;
    fields[at + 2] = stats.uid;
    fields[at + 3] = stats.gid;
    fields[at + 4] = stats.nlink;
    fields[at + 5] = stats.atimeMs;
    fields[at + 6] = stats.mtimeMs;
  });
  const reply: LstatReply = { id, fields };
  port.postMessage(reply, [fields.buffer]);
});
