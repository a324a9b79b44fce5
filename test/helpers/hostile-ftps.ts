// A hostile FTPS server for tests: its control connection presents one certificate (the one a partner pinned), its
// passive data connections another, as a man in the middle of the data channel would. It serves one file.
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, TLSSocket, createServer as tlsServer } from 'node:tls';
import { makeTlsPair } from './tls-pair.js';

export interface HostileFtps {
  readonly port: number;
  /** SHA-256 of the control connection's certificate (`AA:BB:...`). */
  readonly controlFingerprint: string;
  /** How many data connections the client opened (each one would be sent the listing or the file). */
  readonly dataConnections: () => number;
  close(): Promise<void>;
}

async function identity(dir: string) {
  await mkdir(dir, { recursive: true });
  const files = await makeTlsPair(dir);
  const cert = await readFile(files.cert, 'utf8');
  const key = await readFile(files.key, 'utf8');
  return {
    cert,
    key,
    ctx: createSecureContext({ cert, key }),
    fingerprint: new X509Certificate(cert).fingerprint256,
  };
}

export async function startHostileFtps(
  dir: string,
  file: { name: string; data: Buffer },
  /** `size`: what SIZE and LIST claim (default the truth); `sameCertificate`: no man in the middle on data. */
  lies: { size?: number; sameCertificate?: boolean } = {},
): Promise<HostileFtps> {
  const control = await identity(join(dir, 'control'));
  const data = lies.sameCertificate ? control : await identity(join(dir, 'data'));
  const size = lies.size ?? file.data.length;
  let opened = 0;
  const sockets = new Set<Socket>();
  const servers: Server[] = [];

  /** One passive offer: a TLS listener with the other certificate that sends the payload once it is known. */
  const offer = async (payload: Promise<Buffer>): Promise<number> => {
    // cert and key, not a secureContext: a listener given only a context finds no signature algorithm.
    const server = tlsServer({ cert: data.cert, key: data.key }, (socket) => {
      socket.on('error', () => undefined);
      void payload.then((body) => socket.end(body));
      server.close();
    });
    server.on('connection', (s: Socket) => {
      opened++;
      sockets.add(s);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return (server.address() as { port: number }).port;
  };

  const main = createServer((raw) => {
    sockets.add(raw);
    let socket: Socket | TLSSocket = raw;
    let send: ((body: Buffer) => void) | undefined;
    const reply = (line: string) => socket.write(`${line}\r\n`);
    const commands = async (line: string) => {
      const [verb = '', ...rest] = line.split(' ');
      const arg = rest.join(' ');
      switch (verb.toUpperCase()) {
        case 'AUTH': {
          reply('234 Proceed');
          raw.removeAllListeners('data');
          const tls = new TLSSocket(raw, { isServer: true, secureContext: control.ctx });
          socket = tls;
          listen(tls);
          return;
        }
        case 'USER':
          return reply('331 Password');
        case 'PASS':
          return reply('230 Logged in');
        case 'FEAT':
          return reply('211-Features:\r\n EPSV\r\n SIZE\r\n MDTM\r\n REST STREAM\r\n211 End');
        case 'EPSV': {
          const port = await offer(new Promise<Buffer>((resolve) => (send = resolve)));
          return reply(`229 Entering Extended Passive Mode (|||${port}|)`);
        }
        case 'LIST':
          send?.(Buffer.from(`-rw-r--r-- 1 ftp ftp ${size} Jan 01  2026 ${file.name}\r\n`));
          reply('150 Here comes the listing');
          return setTimeout(() => reply('226 Done'), 200);
        case 'RETR':
          send?.(file.data);
          reply('150 Sending');
          return setTimeout(() => reply('226 Done'), 200);
        case 'SIZE':
          return reply(`213 ${size}`);
        case 'MDTM':
          return reply('213 20260101000000');
        case 'QUIT':
          reply('221 Bye');
          return socket.end();
        default:
          return reply(`200 ${verb}${arg ? ' ' : ''}${arg} ok`);
      }
    };
    const listen = (s: Socket | TLSSocket) => {
      let buffer = '';
      s.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('latin1');
        for (let i = buffer.indexOf('\r\n'); i >= 0; i = buffer.indexOf('\r\n')) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          void commands(line);
        }
      });
      s.on('error', () => undefined);
    };
    listen(raw);
    reply('220 hostile');
  });
  servers.push(main);
  await new Promise<void>((resolve) => main.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (main.address() as { port: number }).port,
    controlFingerprint: control.fingerprint,
    dataConnections: () => opened,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))));
    },
  };
}
