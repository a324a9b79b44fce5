#!/usr/bin/env node
// Container health check: healthy when the SFTP port answers with an SSH-2.0 banner within 5 seconds.
// Plain JavaScript (no tsx, no dependencies) so it starts fast. Port: argv[2], else FERRY_SFTP_PORT, else 2222.
import { connect } from 'node:net';

const port = Number(process.argv[2] ?? process.env.FERRY_SFTP_PORT ?? 2222);
const host = process.env.FERRY_HEALTHCHECK_HOST ?? '127.0.0.1';
const socket = connect({ host, port });
let received = '';
const finish = (healthy, why) => {
  if (!healthy) process.stderr.write(`unhealthy: ${why}\n`);
  socket.destroy();
  process.exit(healthy ? 0 : 1);
};
socket.setTimeout(5000, () => finish(false, `no SSH banner from ${host}:${port} within 5 s`));
socket.on('error', (err) => finish(false, `${host}:${port}: ${err.message}`));
socket.on('data', (chunk) => {
  received += chunk.toString('latin1');
  const end = received.indexOf('\n');
  if (end === -1 && received.length < 256) return;
  const banner = received.slice(0, end === -1 ? 255 : end).replace(/\r$/, '');
  finish(banner.startsWith('SSH-2.0-'), `unexpected greeting '${banner}'`);
});
socket.on('end', () => finish(false, `${host}:${port} closed the connection without a banner`));
