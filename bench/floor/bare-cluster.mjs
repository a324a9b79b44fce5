// The floor of the idle-memory row: a cluster primary and WORKERS workers that load only what every Ferry worker
// cannot do without (ssh2 and better-sqlite3 with one open database) and listen with an ssh2 Server, doing nothing
// else. Its summed RSS is the least a server of this shape occupies on this Node, before any of Ferry's own code.
// Prints "listening" once every worker listens; the bench reads the processes' memory from /proc.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';

const WORKERS = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary) {
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === WORKERS) process.stdout.write('listening\n');
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork();
} else {
  const [{ default: ssh2 }, { default: Database }] = await Promise.all([
    import('ssh2'),
    import('better-sqlite3'),
  ]);
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (a INTEGER)');
  const server = new ssh2.Server({ hostKeys: [readFileSync(process.env.HOST_KEY)] }, (client) => {
    client.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
}
