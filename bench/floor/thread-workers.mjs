// A projection for the idle-memory row, not a way to run Ferry: Ferry's own `serve --workers 1` (the bundle in
// dist/) started WORKERS times as worker threads of one process instead of as cluster worker processes. The first
// thread listens on free ports; every later one listens on the same sockets by descriptor (`server.listen({ fd })`,
// which Node 20 accepts in a worker thread: each thread's event loop accepts from the one socket, as cluster
// workers do with a shared handle). Each thread registers as its own node (`--node-id`). None of what the cluster
// primary does for its workers runs here (signals, the metrics and event relays, worker renewal, restarts), so
// this measures what the serving code holds as threads, nothing more. The data dir comes as DATA_DIR (fresh: the
// first thread does the first-run work). Prints "listening PORT" once every thread printed its SFTP line.
import net from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const WORKERS = Number(process.env.WORKERS ?? 2);
const BUNDLE = new URL('../../dist/bundle/main.js', import.meta.url);

if (isMainThread) {
  // libuv accepts every connection waiting on a socket at each wake-up, so with one socket shared, a burst of
  // connections (eight sessions at once) all went to the thread that woke first. One per wake-up balances them
  // (8 sessions × 6 rounds: 19 and 29 with it, 80 and 0 without). libuv reads this when a thread first listens.
  process.env.UV_TCP_SINGLE_ACCEPT ??= '1';
  const argv = (id) => [
    'serve',
    ...['--data-dir', process.env.DATA_DIR, '--workers', '1', '--listen', '127.0.0.1'],
    ...['--sftp-port', '0', '--http-listen', '127.0.0.1:0', '--node-id', `thread-${id}`],
  ];
  /** The first thread's listening descriptors, by the order its servers listened in. */
  const fds = {};
  let port;
  let listening = 0;
  const start = (id) => {
    const worker = new Worker(new URL(import.meta.url), {
      argv: argv(id),
      workerData: { fds: id === 1 ? undefined : fds },
      stdout: true,
    });
    worker.on('message', (m) => {
      fds[m.key] = m.fd;
    });
    worker.on('error', (err) => {
      process.stderr.write(`thread ${id}: ${err.stack ?? err}\n`);
      process.exit(1);
    });
    // Read until the thread's SFTP line, then drained unread: kept, a long run's output would grow this process.
    let text = '';
    const onData = (chunk) => {
      text += chunk;
      const found = /SFTP listening on [^:]+:(\d+)/.exec(text);
      if (!found) return;
      text = '';
      worker.stdout.off('data', onData);
      worker.stdout.resume();
      port ??= found[1];
      if (++listening === WORKERS) process.stdout.write(`listening ${port}\n`);
      else start(id + 1);
    };
    worker.stdout.on('data', onData);
  };
  start(1);
} else {
  // Every server a thread starts: the first thread reports its descriptor, the others listen on it. Servers are
  // told apart by the order they listen in, the same in every thread (SFTP and the HTTP API both ask for port 0).
  const listen = net.Server.prototype.listen;
  let calls = 0;
  net.Server.prototype.listen = function (...args) {
    const key = String(calls++);
    const fd = workerData.fds?.[key];
    if (fd !== undefined)
      return listen.call(
        this,
        { fd },
        args.find((a) => typeof a === 'function'),
      );
    this.once('listening', () => parentPort.postMessage({ key, fd: this._handle.fd }));
    return listen.apply(this, args);
  };
  await import(BUNDLE.href);
}
