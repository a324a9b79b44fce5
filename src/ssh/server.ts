// The SSH-2 front door: sockets, algorithm policy, host keys, authentication, and routing of channels to SFTP/SCP.
import { randomBytes } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type AuthContext, type Connection, type ServerChannel } from 'ssh2';
import { type AuthAttempt, ConnectionAuthenticator } from '../auth/authenticator.js';
import { homeDirOf } from '../auth/user-admin.js';
import type { FileSessionFactory } from '../core/types.js';
import type { EventBus } from '../events/bus.js';
import type { HostKey } from '../keys/host-keys.js';
import type { Logger } from '../logger.js';
import { parseScpCommand, serveScp } from '../scp/server.js';
import { serveSftp } from '../sftp/server.js';
import type { UserRecord, UserRepository } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { type AlgorithmProfile, algorithmPolicy } from './algorithms.js';

export interface SshServerOptions {
  readonly listen: string;
  readonly port: number;
  readonly algorithms: AlgorithmProfile;
  readonly hostKeys: readonly HostKey[];
  /** Seconds a connection may take from TCP accept to successful authentication. */
  readonly loginGraceTime: number;
  readonly maxAuthTries: number;
  /** Where user homes live when a user has none of their own. */
  readonly homesDir: string;
  readonly users: UserRepository;
  readonly fileSessions: FileSessionFactory;
  readonly events: EventBus;
  readonly logger: Logger;
}

export interface RunningSshServer {
  readonly port: number;
  readonly address: string;
  /** Stops accepting, ends every session, resolves when all sockets are closed. */
  close(): Promise<void>;
}

const SERVER_IDENT = 'Ferry_0.1';

export async function startSshServer(options: SshServerOptions): Promise<RunningSshServer> {
  const policy = algorithmPolicy(options.algorithms);
  const hostKeys = options.hostKeys
    .filter((k) => options.algorithms === 'compat' || !k.algorithm.startsWith('ecdsa-'))
    .map((k) => k.privateKey);
  const ssh = new ssh2.Server({
    hostKeys,
    ident: SERVER_IDENT,
    algorithms: {
      kex: policy.kex,
      serverHostKey: policy.serverHostKey,
      cipher: policy.cipher,
      hmac: policy.hmac,
      compress: policy.compress,
    } as ssh2.Algorithms,
  });
  const sockets = new Set<Socket>();
  const clients = new Set<Connection>();

  ssh.on('connection', (client, info) => {
    // ssh2 keeps the socket private; it is the only handle on the grace timer and address we set up below.
    const socket = (client as unknown as { _sock: Socket })._sock;
    handleConnection(client, socket, info, options);
    clients.add(client);
    client.once('close', () => clients.delete(client));
  });
  ssh.on('error', (err: Error) => options.logger.error({ err }, 'ssh server error'));

  const net: NetServer = createServer({ noDelay: true }, (socket) => {
    // Without TCP_NODELAY small SFTP replies wait 40 ms for Nagle and uploads run several times slower.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (err) =>
      options.logger.debug({ err, remoteAddress: socket.remoteAddress }, 'socket error'),
    );
    const grace = setTimeout(() => {
      options.logger.info({ remoteAddress: socket.remoteAddress }, 'login grace time exceeded; closing');
      socket.destroy();
    }, options.loginGraceTime * 1000);
    grace.unref();
    graceTimers.set(socket, grace);
    socket.once('close', () => clearTimeout(grace));
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(options.port, options.listen, () => {
      net.off('error', reject);
      resolve();
    });
  });
  net.on('error', (err) => options.logger.error({ err }, 'listener error'));
  const bound = net.address();
  const port = typeof bound === 'object' && bound ? bound.port : options.port;

  return {
    port,
    address: options.listen,
    close: async () => {
      const closed = new Promise<void>((resolve) => net.close(() => resolve()));
      for (const client of clients) client.end();
      // Give clients a moment to receive the disconnect, then cut what is left.
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 2000);
      await closed;
      clearTimeout(deadline);
    },
  };
}

const graceTimers = new WeakMap<Socket, NodeJS.Timeout>();

function toAttempt(ctx: AuthContext): AuthAttempt {
  switch (ctx.method) {
    case 'none':
      return { method: 'none', username: ctx.username };
    case 'password':
      return { method: 'password', username: ctx.username, password: new Secret(ctx.password) };
    case 'publickey':
      return {
        method: 'publickey',
        username: ctx.username,
        algorithm: ctx.key.algo,
        blob: ctx.key.data,
        signature:
          ctx.signature && ctx.blob
            ? { data: ctx.blob, signature: ctx.signature, hashAlgo: ctx.hashAlgo }
            : undefined,
      };
    default:
      return { method: 'other', username: ctx.username, name: ctx.method };
  }
}

function handleConnection(
  client: Connection,
  socket: Socket,
  info: ssh2.ClientInfo,
  options: SshServerOptions,
): void {
  const sessionId = randomBytes(6).toString('hex');
  const remoteAddress = info.ip;
  let log = options.logger.child({ sessionId, remoteAddress });
  const started = Date.now();
  const authenticator = new ConnectionAuthenticator(options.users, { maxAuthTries: options.maxAuthTries });
  let user: UserRecord | undefined;
  // Serialise auth requests: a decision must be sent before the next attempt is judged.
  let authQueue = Promise.resolve();

  const clientSoftware = info.header.versions.software;
  log.info({ client: clientSoftware, protocol: info.header.versions.protocol }, 'connection');
  let handshakes = 0;

  // The connect record waits for the first key exchange so it can name what was negotiated.
  client.on('handshake', (negotiated) => {
    const algorithms = {
      kex: negotiated.kex,
      hostKey: negotiated.serverHostKey,
      cipher: negotiated.cs.cipher,
      mac: negotiated.cs.mac,
      compress: negotiated.cs.compress,
    };
    log.info(algorithms, handshakes === 0 ? 'key exchange done' : 'rekeyed');
    if (handshakes++ > 0) return;
    options.events.emit({
      type: 'session',
      phase: 'connect',
      at: new Date(),
      sessionId,
      remoteAddress,
      detail: { client: clientSoftware, remotePort: info.port, ...algorithms },
    });
  });

  client.on('authentication', (ctx) => {
    authQueue = authQueue.then(async () => {
      const attempt = toAttempt(ctx);
      let decision: Awaited<ReturnType<ConnectionAuthenticator['attempt']>>;
      try {
        decision = await authenticator.attempt(attempt);
      } catch (err) {
        log.error({ err }, 'authentication error');
        ctx.reject(['publickey', 'password']);
        return;
      }
      const entry = { user: ctx.username, method: ctx.method };
      switch (decision.result) {
        case 'accept':
          user = decision.user;
          log = log.child({ user: user.name });
          log.info({ method: ctx.method }, 'authenticated');
          emitAuth(options, sessionId, remoteAddress, ctx.username, ctx.method, 'accepted');
          ctx.accept();
          return;
        case 'pk-ok':
          ctx.accept();
          return;
        case 'partial':
          log.info({ ...entry, methodsLeft: decision.methodsLeft }, 'partial authentication');
          emitAuth(options, sessionId, remoteAddress, ctx.username, ctx.method, 'partial');
          ctx.reject(decision.methodsLeft, true);
          return;
        case 'reject':
          if (ctx.method !== 'none') {
            log.info({ ...entry, reason: decision.reason }, 'authentication failed');
            emitAuth(options, sessionId, remoteAddress, ctx.username, ctx.method, decision.reason);
          }
          if (decision.tooMany) {
            // Like OpenSSH: the last failure is answered by a disconnect, so the client cannot try again.
            log.warn({ failures: authenticator.failures }, 'too many authentication failures; disconnecting');
            client.end();
            return;
          }
          ctx.reject(decision.methodsLeft);
      }
    });
  });

  client.on('ready', () => {
    clearTimeout(graceTimers.get(socket));
    const authed = user!;
    client.on('session', (acceptSession) => {
      const session = acceptSession();
      session.on('subsystem', (accept, reject, request) => {
        if (request.name !== 'sftp') {
          log.info({ subsystem: request.name }, 'subsystem refused');
          reject();
          return;
        }
        const channel = accept();
        const files = options.fileSessions({
          sessionId,
          username: authed.name,
          homeDir: homeDirOf(authed, options.homesDir),
          permissions: authed.permissions,
          remoteAddress,
          protocol: 'sftp',
        });
        log.info('sftp session started');
        serveSftp(channel, files, { logger: log }).then(
          () => log.info('sftp session ended'),
          (err: unknown) => log.error({ err }, 'sftp session failed'),
        );
      });
      session.on('exec', (accept, reject, request) => {
        const scp = parseScpCommand(request.command);
        if (!scp) {
          log.info({ command: request.command.slice(0, 200) }, 'exec refused');
          reject();
          return;
        }
        const channel = accept() as ServerChannel;
        const files = options.fileSessions({
          sessionId,
          username: authed.name,
          homeDir: homeDirOf(authed, options.homesDir),
          permissions: authed.permissions,
          remoteAddress,
          protocol: 'scp',
        });
        log.info({ command: request.command.slice(0, 200) }, 'scp started');
        serveScp(channel, scp, files, { logger: log }).then(
          () => log.info('scp ended'),
          (err: unknown) => log.error({ err }, 'scp failed'),
        );
      });
      // shell, pty, env, x11, agent forwarding: no listener, so ssh2 refuses them.
    });
    // tcpip forwarding requests have no listener either and are refused by ssh2.
  });

  client.on('error', (err) => log.debug({ err }, 'connection error'));
  client.on('close', () => {
    const durationMs = Date.now() - started;
    log.info({ durationMs }, 'disconnected');
    options.events.emit({
      type: 'session',
      phase: 'disconnect',
      at: new Date(),
      sessionId,
      remoteAddress,
      username: user?.name,
      detail: { durationMs, bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten },
    });
  });
}

function emitAuth(
  options: SshServerOptions,
  sessionId: string,
  remoteAddress: string,
  username: string,
  method: string,
  result: string,
): void {
  options.events.emit({
    type: 'session',
    phase: 'auth',
    at: new Date(),
    sessionId,
    remoteAddress,
    username,
    detail: { method, result },
  });
}
