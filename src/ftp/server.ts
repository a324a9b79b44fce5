// The FTPS front door: explicit (AUTH TLS) and implicit listeners, admission (connection limits, defender, the
// slow-loris guard), login grace, the idle timer and per-user session counts. Each connection is then run by
// control.ts over the core's file session, like the SSH front end.
import { createServer, type Server, type Socket } from 'node:net';
import { Admission } from '../ssh/admission.js';
import { closeOnce, drainConnections, whenEmpty } from '../util/drain.js';
import { listenOptions, noteListening } from '../util/shared-listen.js';
import type { TransferActivity } from './context.js';
import { ControlConnection } from './control.js';
import type { FtpsServerOptions } from './options.js';

export type { TransferActivity } from './context.js';
export type { FtpsServerOptions } from './options.js';

export interface RunningFtpsServer {
  /** Bound explicit port, or undefined when not listening. */
  readonly port: number | undefined;
  readonly implicitPort: number | undefined;
  /** Ends the connection with this session id (an administrator's kill); false when none is open here. */
  disconnect(sessionId: string): boolean;
  /** The transfer a connection is running now, for the live-session view. */
  activity(sessionId: string): TransferActivity | undefined;
  /**
   * Stops accepting and resolves true when every open connection has ended, false when `timeoutMs` passed or
   * `signal` was aborted first (a draining server; those left are closed by close()).
   */
  drain(timeoutMs: number | undefined, signal?: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}

export async function startFtpsServer(options: FtpsServerOptions): Promise<RunningFtpsServer> {
  const admission = new Admission(options.limits, options.defender, options.logger);
  const sockets = new Set<Socket>();
  const connections = new Set<ControlConnection>();
  const sessionsPerUser = new Map<string, number>();

  /**
   * maxSessionsPerUser on every node sharing the store, SSH and FTPS sessions together: the session is recorded
   * (or refused) before the login is answered. A store that cannot write cannot count: the login is admitted
   * under this process's own limit and the failure logged, as SSH logins are (ssh/connection.ts).
   */
  const admitAcrossNodes = async (connection: ControlConnection, user: string, socket: Socket) => {
    const registry = options.sessionRegistry;
    if (!registry) return true;
    let refused: { open: number } | undefined;
    try {
      refused = await registry.admit({
        id: connection.sessionId,
        username: user,
        remoteAddress: connection.remoteAddress,
        client: null,
        connectedAt: connection.connectedAt,
        protocol: 'ftps',
      });
    } catch (err) {
      connection.log.error(
        { err },
        "cluster session count failed; this process's own maxSessionsPerUser applies",
      );
      return true;
    }
    if (refused) {
      const limit = options.limits.maxSessionsPerUser;
      connection.log.warn(
        { open: refused.open, limit },
        'maxSessionsPerUser reached on the cluster; closing',
      );
      options.events.emit({
        type: 'security',
        action: 'limit',
        at: new Date(),
        sessionId: connection.sessionId,
        remoteAddress: connection.remoteAddress,
        detail: { limit: 'maxSessionsPerUser', user, open: refused.open, scope: 'cluster' },
      });
      return false;
    }
    if (socket.destroyed) registry.closed(connection.sessionId);
    else socket.once('close', () => registry.closed(connection.sessionId));
    return true;
  };

  const accept = (socket: Socket, implicit: boolean) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (err) =>
      options.logger.debug({ err, remoteAddress: socket.remoteAddress }, 'socket error'),
    );
    // Login grace: a connection that has not logged in by then is cut (slow-loris and idle pre-login sockets).
    const grace = setTimeout(() => socket.destroy(), options.loginGraceTime * 1000);
    grace.unref();
    socket.once('close', () => clearTimeout(grace));
    admission.admit(socket).then(
      (admitted) => {
        if (!admitted || socket.destroyed) return;
        let counted: string | undefined;
        const connection = new ControlConnection(
          socket,
          options,
          {
            authenticated: async (user) => {
              clearTimeout(grace);
              admitted.authenticated();
              const open = (sessionsPerUser.get(user) ?? 0) + 1;
              sessionsPerUser.set(user, open);
              counted = user;
              if (open > options.limits.maxSessionsPerUser) return false;
              return admitAcrossNodes(connection, user, socket);
            },
          },
          implicit,
        );
        connections.add(connection);
        const idleMs = options.limits.idleTimeout * 1000;
        const idle =
          idleMs > 0
            ? setInterval(
                () => {
                  if (connection.transfer || Date.now() - connection.lastActivity < idleMs) return;
                  connection.log.info({ idleTimeout: options.limits.idleTimeout }, 'idle timeout; closing');
                  connection.reply(421, 'Idle timeout');
                  connection.close();
                },
                Math.min(idleMs / 4, 30_000),
              )
            : undefined;
        idle?.unref();
        socket.once('close', () => {
          clearInterval(idle);
          connections.delete(connection);
          if (counted === undefined) return;
          const left = (sessionsPerUser.get(counted) ?? 1) - 1;
          if (left <= 0) sessionsPerUser.delete(counted);
          else sessionsPerUser.set(counted, left);
        });
      },
      (err: unknown) => {
        options.logger.error({ err }, 'admission failed; refusing the connection');
        socket.destroy();
      },
    );
  };

  const listen = async (port: number, implicit: boolean): Promise<Server> => {
    const server = createServer({ noDelay: true }, (socket) => accept(socket, implicit));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const name = implicit ? 'ftps-implicit' : 'ftps';
      server.listen(listenOptions(name, port, options.listen), () => {
        server.off('error', reject);
        noteListening(name, server);
        resolve();
      });
    });
    server.on('error', (err) => options.logger.error({ err }, 'ftps listener error'));
    return server;
  };
  const servers: Server[] = [];
  const portOf = (server: Server | undefined) => {
    const address = server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  };
  let explicit: Server | undefined;
  let implicit: Server | undefined;
  try {
    if (options.port !== undefined) {
      explicit = await listen(options.port, false);
      servers.push(explicit);
    }
    if (options.implicitPort !== undefined) {
      implicit = await listen(options.implicitPort, true);
      servers.push(implicit);
    }
  } catch (err) {
    for (const server of servers) server.close();
    admission.close();
    throw err;
  }
  // The listeners' close callbacks come before the last sockets' 'close' events, which end their sessions (the
  // disconnect audit record): the server stopping next would close the audit trail under them. So wait for those.
  const allClosed = async () => {
    await Promise.all(servers.map(closeOnce));
    await whenEmpty(sockets, connections);
  };
  const find = (sessionId: string) => [...connections].find((c) => c.sessionId === sessionId);
  return {
    port: portOf(explicit),
    implicitPort: portOf(implicit),
    disconnect: (sessionId) => {
      const connection = find(sessionId);
      if (!connection) return false;
      connection.log.info('session ended by an administrator');
      connection.transfer?.abort();
      connection.reply(421, 'Session ended by the administrator');
      connection.close();
      return true;
    },
    activity: (sessionId) => {
      const activity = find(sessionId)?.activity;
      return activity ? { ...activity } : undefined;
    },
    drain: (timeoutMs, signal) =>
      drainConnections({
        open: () => sockets.size,
        ended: allClosed(),
        timeoutMs,
        signal,
        logger: options.logger,
      }),
    close: async () => {
      admission.close();
      const closed = allClosed();
      for (const connection of connections) {
        connection.reply(421, 'Server shutting down');
        connection.close();
      }
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 2000);
      await closed;
      clearTimeout(deadline);
    },
  };
}
