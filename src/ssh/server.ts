// The SSH-2 front door: sockets, algorithm policy, host keys, authentication, and routing of channels to SFTP/SCP.
import { randomBytes } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type AuthContext, type Connection, type ServerChannel } from 'ssh2';
import { type AuthAttempt, ConnectionAuthenticator, type LockoutPolicy } from '../auth/authenticator.js';
import { DEFENDER_SCORES, type Defender } from '../auth/defender.js';
import type { TotpService } from '../auth/totp.js';
import { homeDirOf } from '../auth/user-admin.js';
import type { FileSessionFactory, ResourceBudgets } from '../core/types.js';
import { FerryError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { type HostKeyMaterial, presentedHostKeys } from '../key-manager/host-keys.js';
import type { Logger } from '../logger.js';
import { parseScpCommand, serveScp } from '../scp/server.js';
import { serveSftp } from '../sftp/server.js';
import type { AccountSecurityRepository, UserRecord, UserRepository } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { withActivity } from './activity.js';
import { Admission, type ConnectionLimits } from './admission.js';
import { type AlgorithmProfile, algorithmPolicy } from './algorithms.js';
import { announceHostKeys, proveHostKeys } from './host-key-rotation.js';

export interface SshServerOptions {
  readonly listen: string;
  readonly port: number;
  readonly algorithms: AlgorithmProfile;
  /** Pending and active host keys, oldest first: all are announced; presentedHostKeys picks the ones that sign. */
  readonly hostKeys: readonly HostKeyMaterial[];
  /** Seconds a connection may take from TCP accept to successful authentication. */
  readonly loginGraceTime: number;
  readonly maxAuthTries: number;
  /** Where user homes live when a user has none of their own. */
  readonly homesDir: string;
  readonly users: UserRepository;
  readonly fileSessions: FileSessionFactory;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly defender: Defender;
  readonly limits: ConnectionLimits & {
    readonly maxSessionsPerUser: number;
    /** Session channels (SFTP, SCP) open at once on one connection; more are refused (OpenSSH's MaxSessions). */
    readonly maxChannelsPerConnection: number;
    /** Seconds without any file operation before an authenticated connection is closed; 0: never. */
    readonly idleTimeout: number;
  };
  readonly sftp: {
    readonly maxInFlight: number;
    readonly maxOpenHandles: number;
    readonly maxPacketLength: number;
  };
  /** Open handles and buffered reply bytes per connection and per user; without it only per-session limits hold. */
  readonly budgets?: ResourceBudgets;
  readonly accounts?: AccountSecurityRepository;
  readonly lockout?: LockoutPolicy;
  readonly totp?: TotpService;
}

export interface RunningSshServer {
  readonly port: number;
  readonly address: string;
  /** Presents `keys` to connections made from now on; open sessions keep the keys they negotiated with. */
  setHostKeys(keys: readonly HostKeyMaterial[]): void;
  /** Stops accepting, ends every session, resolves when all sockets are closed. */
  close(): Promise<void>;
}

const SERVER_IDENT = 'Ferry_0.1';

/** Host keys this profile presents: no ECDSA host key under 'modern'. */
function presentable(keys: readonly HostKeyMaterial[], profile: AlgorithmProfile): HostKeyMaterial[] {
  return keys.filter((k) => profile === 'compat' || !k.algorithm.startsWith('ecdsa-'));
}

export async function startSshServer(options: SshServerOptions): Promise<RunningSshServer> {
  const policy = algorithmPolicy(options.algorithms);
  const sockets = new Set<Socket>();
  const clients = new Set<Connection>();

  // ssh2 fixes host keys and its KEXINIT offer when a Server is built, so a key change builds a new one;
  // sockets accepted afterwards are handed to it while older connections finish on the old one.
  const buildSsh = (keys: readonly HostKeyMaterial[]): ssh2.Server => {
    const shown = presentable(keys, options.algorithms);
    // One key per algorithm, chosen by us: ssh2 would keep the first Ed25519 key but the last RSA one.
    const presented = presentedHostKeys(shown);
    if (presented.length === 0) throw new FerryError('ERR_CONFIG', 'no active host key to present');
    const server = new ssh2.Server({
      hostKeys: presented.map((k) => k.privateKey),
      ident: SERVER_IDENT,
      algorithms: {
        kex: policy.kex,
        serverHostKey: policy.serverHostKey,
        cipher: policy.cipher,
        hmac: policy.hmac,
        compress: policy.compress,
      } as ssh2.Algorithms,
    });
    server.on('connection', (client, info) => {
      // ssh2 keeps the socket private; it is the only handle on the grace timer and address we set up below.
      const socket = (client as unknown as { _sock: Socket })._sock;
      handleConnection(client, socket, info, options, shown);
      clients.add(client);
      client.once('close', () => clients.delete(client));
    });
    server.on('error', (err: Error) => options.logger.error({ err }, 'ssh server error'));
    return server;
  };
  let ssh = buildSsh(options.hostKeys);

  const admission = new Admission(options.limits, options.defender, options.logger);
  const sessionsPerUser = new Map<string, number>();
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
    socket.once('close', () => clearTimeout(grace));
    admission.admit(socket).then(
      (admitted) => {
        if (!admitted || socket.destroyed) return;
        connectionState.set(socket, { grace, authenticated: admitted.authenticated, sessionsPerUser });
        ssh.injectSocket(socket);
      },
      (err: unknown) => {
        options.logger.error({ err }, 'admission failed; refusing the connection');
        socket.destroy();
      },
    );
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
    setHostKeys: (keys) => {
      ssh = buildSsh(keys);
      options.logger.info(
        { hostKeys: presentedHostKeys(presentable(keys, options.algorithms)).map((k) => k.sha256) },
        'host keys reloaded',
      );
    },
    close: async () => {
      admission.close();
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

interface ConnectionState {
  readonly grace: NodeJS.Timeout;
  /** Moves the connection out of its address's not-yet-authenticated count. */
  readonly authenticated: () => void;
  readonly sessionsPerUser: Map<string, number>;
}

const connectionState = new WeakMap<Socket, ConnectionState>();

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
    case 'keyboard-interactive':
      return {
        method: 'keyboard-interactive',
        username: ctx.username,
        ask: (prompt) =>
          new Promise((resolve) =>
            ctx.prompt([{ prompt, echo: false }], 'Ferry', '', (answers) => resolve(answers[0])),
          ),
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
  hostKeys: readonly HostKeyMaterial[],
): void {
  const sessionId = randomBytes(6).toString('hex');
  const remoteAddress = info.ip;
  let log = options.logger.child({ sessionId, remoteAddress });
  const started = Date.now();
  const authenticator = new ConnectionAuthenticator(options.users, {
    maxAuthTries: options.maxAuthTries,
    remoteAddress,
    accounts: options.accounts,
    lockout: options.lockout,
    totp: options.totp,
  });
  const state = connectionState.get(socket);
  const penalize = (points: number, reason: string) => {
    options.defender
      .penalize(remoteAddress, points, reason)
      .catch((err: unknown) => log.error({ err }, 'defender failed'));
  };
  let user: UserRecord | undefined;
  // Serialise auth requests: a decision must be sent before the next attempt is judged.
  let authQueue = Promise.resolve();

  const clientSoftware = info.header.versions.software;
  log.info({ client: clientSoftware, protocol: info.header.versions.protocol }, 'connection');
  let handshakes = 0;
  let negotiatedHostKey = '';

  // The connect record waits for the first key exchange so it can name what was negotiated.
  client.on('handshake', (negotiated) => {
    const algorithms = {
      kex: negotiated.kex,
      hostKey: negotiated.serverHostKey,
      cipher: negotiated.cs.cipher,
      mac: negotiated.cs.mac,
      compress: negotiated.cs.compress,
    };
    negotiatedHostKey = negotiated.serverHostKey;
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
      // Once the address is banned (by this process, which already cut the socket, or by another one) its
      // connections' attempts are not judged any more.
      if (socket.destroyed) return;
      const attempt = toAttempt(ctx);
      let decision: Awaited<ReturnType<ConnectionAuthenticator['attempt']>>;
      try {
        if ((await options.defender.verdict(remoteAddress)) !== 'allow') {
          log.warn('address banned while connected; closing');
          socket.destroy();
          return;
        }
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
          if (ctx.method !== 'none' && decision.counted) {
            log.info({ ...entry, reason: decision.reason }, 'authentication failed');
            emitAuth(options, sessionId, remoteAddress, ctx.username, ctx.method, decision.reason);
            penalize(DEFENDER_SCORES.loginFailed, `login failed: ${decision.reason}`);
          } else if (attempt.method === 'publickey' && !attempt.signature) {
            penalize(DEFENDER_SCORES.keyQueryRefused, `key query refused: ${decision.reason}`);
          }
          if (authenticator.lockedAccount) {
            log.warn({ account: authenticator.lockedAccount }, 'account locked after repeated failures');
            emitSecurity(options, sessionId, remoteAddress, 'lockout', {
              account: authenticator.lockedAccount,
            });
          }
          if (decision.tooMany) {
            penalize(DEFENDER_SCORES.tooManyAuthTries, 'too many authentication failures');
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
    const authed = user!;
    if (state) {
      clearTimeout(state.grace);
      state.authenticated();
      const open = (state.sessionsPerUser.get(authed.name) ?? 0) + 1;
      state.sessionsPerUser.set(authed.name, open);
      client.once('close', () => {
        const left = (state.sessionsPerUser.get(authed.name) ?? 1) - 1;
        if (left <= 0) state.sessionsPerUser.delete(authed.name);
        else state.sessionsPerUser.set(authed.name, left);
      });
      if (open > options.limits.maxSessionsPerUser) {
        log.warn({ open, limit: options.limits.maxSessionsPerUser }, 'maxSessionsPerUser reached; closing');
        emitSecurity(options, sessionId, remoteAddress, 'limit', {
          limit: 'maxSessionsPerUser',
          user: authed.name,
        });
        client.end();
        return;
      }
    }
    // Everything this connection holds is given back when it ends, whatever its sessions did or did not finish.
    const budgets = options.budgets?.openConnection(authed.name);
    // Aborted when the connection is gone: sessions tear down even when their channel never reports it (a
    // paused channel with unread input never emits 'end', so ssh2 never emits its 'close').
    const gone = new AbortController();
    client.once('close', () => {
      gone.abort(new FerryError('ERR_IO', 'Connection closed'));
      budgets?.close();
    });
    let lastActivity = Date.now();
    const touch = () => {
      lastActivity = Date.now();
    };
    if (options.limits.idleTimeout > 0) {
      const idleMs = options.limits.idleTimeout * 1000;
      const timer = setInterval(
        () => {
          if (Date.now() - lastActivity < idleMs) return;
          log.info({ idleTimeout: options.limits.idleTimeout }, 'idle timeout; closing');
          clearInterval(timer);
          client.end();
        },
        Math.min(idleMs / 4, 30_000),
      );
      timer.unref();
      client.once('close', () => clearInterval(timer));
    }
    const openFiles = (protocol: 'sftp' | 'scp') =>
      withActivity(
        options.fileSessions(
          {
            sessionId,
            username: authed.name,
            virtualId: authed.id,
            homeDir: homeDirOf(authed, options.homesDir),
            permissions: authed.permissions,
            remoteAddress,
            protocol,
          },
          { handles: budgets?.handles, signal: gone.signal },
        ),
        touch,
      );
    /** A session that cannot start (a bad home directory, say) is refused with a log line saying why. */
    const openFilesOrLog = (protocol: 'sftp' | 'scp', reject: () => void) => {
      try {
        return openFiles(protocol);
      } catch (err) {
        log.error({ err, protocol }, `${protocol} session could not start`);
        reject();
        return undefined;
      }
    };
    // OpenSSH's UpdateHostKeys: tell the client every key we hold, so it trusts a new key before the old one retires.
    announceHostKeys(client, hostKeys, log);
    client.on('request', (accept, reject, name, data) => {
      // Our ssh2 patch adds this request name, which ssh2's typings do not list.
      if ((name as string) !== 'hostkeys-prove-00@openssh.com' || !accept || !reject) {
        reject?.();
        return;
      }
      const proof = proveHostKeys(client, hostKeys, data as unknown as Buffer, negotiatedHostKey);
      if (proof) accept(proof as never);
      else {
        log.warn('host key proof requested for a key we do not hold');
        reject();
      }
    });
    let channels = 0;
    let channelLimitReported = false;
    const maxChannels = options.limits.maxChannelsPerConnection;
    client.on('session', (acceptSession, rejectSession) => {
      // A limit per channel times unlimited channels is no limit: refuse the open, keep the connection.
      if (channels >= maxChannels) {
        // Logged and audited once per connection: a client retrying in a loop must not flood the trail.
        if (!channelLimitReported) {
          channelLimitReported = true;
          log.warn({ channels, limit: maxChannels }, 'maxChannelsPerConnection reached; channel refused');
          emitSecurity(options, sessionId, remoteAddress, 'limit', {
            limit: 'maxChannelsPerConnection',
            user: authed.name,
          });
        }
        rejectSession();
        return;
      }
      channels++;
      const session = acceptSession();
      // The client's CHANNEL_CLOSE frees the slot (ssh2 keeps the channel until then, so do we).
      session.once('close', () => channels--);
      session.on('subsystem', (accept, reject, request) => {
        if (request.name !== 'sftp') {
          log.info({ subsystem: request.name }, 'subsystem refused');
          reject();
          return;
        }
        touch();
        const files = openFilesOrLog('sftp', reject);
        if (!files) return;
        const channel = accept();
        log.info('sftp session started');
        serveSftp(channel, files, {
          logger: log,
          ...options.sftp,
          replyBudget: budgets?.replyBytes,
          signal: gone.signal,
        }).then(
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
        touch();
        const files = openFilesOrLog('scp', reject);
        if (!files) return;
        const channel = accept() as ServerChannel;
        log.info({ command: request.command.slice(0, 200) }, 'scp started');
        serveScp(channel, scp, files, { logger: log, signal: gone.signal }).then(
          () => log.info('scp ended'),
          (err: unknown) => log.error({ err }, 'scp failed'),
        );
      });
      // shell, pty, env, x11, agent forwarding: no listener, so ssh2 refuses them.
    });
    // tcpip forwarding requests have no listener either and are refused by ssh2.
  });

  client.on('error', (err: Error & { level?: string }) => {
    log.debug({ err }, 'connection error');
    // Broken SSH packets are misbehaviour; socket resets are not, and neither is a handshake that found no
    // common algorithm (ssh-keyscan probes every host key type; old clients meet the modern profile).
    if (err.level === 'protocol') penalize(DEFENDER_SCORES.protocolError, `protocol error: ${err.message}`);
  });
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

function emitSecurity(
  options: SshServerOptions,
  sessionId: string,
  remoteAddress: string,
  action: 'ban' | 'lockout' | 'limit',
  detail: Record<string, unknown>,
): void {
  options.events.emit({ type: 'security', action, at: new Date(), sessionId, remoteAddress, detail });
}
