// The SSH-2 front door: the listening socket, login grace and admission, and the ssh2 Server that holds the host
// keys and algorithm policy. Each connection is then wired by connection.ts, its channels by channels.ts.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type Connection } from 'ssh2';
import { cidrBlockList, matchesCidrs } from '../auth/defender.js';
import { FerryError } from '../errors.js';
import { type HostKeyMaterial, presentedHostKeys } from '../key-manager/host-keys.js';
import { type AlgorithmProfile, algorithmPolicy, GROUP_EXCHANGE_KEX } from '../ssh-algorithms.js';
import { closeOnce, drainConnections, whenEmpty } from '../util/drain.js';
import { ProxyHeaderError, presentPeer, readProxyHeader } from '../util/proxy-socket.js';
import { listenOptions, noteListening } from '../util/shared-listen.js';
import { Admission } from './admission.js';
import { type ConnectionState, handleConnection } from './connection.js';
import { groupChooser, loadModuli } from './moduli.js';
import type { SshServerOptions } from './options.js';

export type { SshServerOptions } from './options.js';

export interface RunningSshServer {
  readonly port: number;
  readonly address: string;
  /** Presents `keys` to connections made from now on; open sessions keep the keys they negotiated with. */
  setHostKeys(keys: readonly HostKeyMaterial[]): void;
  /**
   * Ends the connection with this session id (an administrator's kill): the client gets an SSH disconnect, and
   * the socket is cut if it does not go within 2 s. False when this process holds no such connection.
   */
  disconnect(sessionId: string): boolean;
  /**
   * Stops accepting (new connections are refused) and waits for the open ones to end by themselves, at most
   * `timeoutMs` or until `signal` aborts. True when every connection ended; close() then cuts what is left.
   */
  drain(timeoutMs: number | undefined, signal?: AbortSignal): Promise<boolean>;
  /** Stops accepting, ends every session, resolves when all sockets are closed. */
  close(): Promise<void>;
}

const SERVER_IDENT = 'Ferry_0.1';
/** A load balancer sends its PROXY header as it connects; one that has not after this is broken or not one. */
const PROXY_HEADER_TIMEOUT_MS = 5000;

/** Host keys this profile presents: no ECDSA host key under 'modern'. */
function presentable(keys: readonly HostKeyMaterial[], profile: AlgorithmProfile): HostKeyMaterial[] {
  return keys.filter((k) => profile === 'compat' || !k.algorithm.startsWith('ecdsa-'));
}

export async function startSshServer(options: SshServerOptions): Promise<RunningSshServer> {
  const policy = algorithmPolicy(options.algorithms);
  // Read once, before the process is confined: the groups diffie-hellman-group-exchange hands out.
  const moduli = policy.kex.includes(GROUP_EXCHANGE_KEX) ? loadModuli(options.moduliFile) : undefined;
  if (moduli) options.logger.info({ groups: moduli.origin }, 'group exchange moduli');
  const sockets = new Set<Socket>();
  const clients = new Set<Connection>();
  const bySession = new Map<string, { client: Connection; socket: Socket }>();

  // ssh2 fixes host keys and its KEXINIT offer when a Server is built, so a key change builds a new one;
  // sockets accepted afterwards are handed to it while older connections finish on the old one.
  const buildSsh = (keys: readonly HostKeyMaterial[]): ssh2.Server => {
    const shown = presentable(keys, options.algorithms);
    // One key per algorithm, chosen by us: ssh2 would keep the first Ed25519 key but the last RSA one.
    const presented = presentedHostKeys(shown);
    if (presented.length === 0) throw new FerryError('ERR_CONFIG', 'no active host key to present');
    const server = new ssh2.Server({
      // Our ssh2 patch: a key with a certificate is also offered as *-cert-v01@openssh.com.
      hostKeys: presented.map((k) =>
        k.certificate ? { key: k.privateKey, certificate: k.certificate } : k.privateKey,
      ),
      ident: SERVER_IDENT,
      algorithms: {
        kex: policy.kex,
        serverHostKey: policy.serverHostKey,
        cipher: policy.cipher,
        hmac: policy.hmac,
        compress: policy.compress,
      } as ssh2.Algorithms,
      // Our ssh2 patch: the server side of group exchange asks this for a group of min..max bits.
      ...(moduli ? { dhGroup: groupChooser(moduli.groups, options.maxGroupExchangeBits) } : {}),
    } as ssh2.ServerConfig);
    server.on('connection', (client, info) => {
      // ssh2 keeps the socket private; it is the only handle on the grace timer and address we set up below.
      const socket = (client as unknown as { _sock: Socket })._sock;
      const sessionId = handleConnection(client, socket, info, options, shown, connectionState.get(socket));
      clients.add(client);
      bySession.set(sessionId, { client, socket });
      client.once('close', () => {
        clients.delete(client);
        bySession.delete(sessionId);
      });
    });
    server.on('error', (err: Error) => options.logger.error({ err }, 'ssh server error'));
    return server;
  };
  let ssh = buildSsh(options.hostKeys);

  const admission = new Admission(options.limits, options.defender, options.logger);
  const sessionsPerUser = new Map<string, number>();
  const trustedProxies = options.proxyProtocolFrom?.length
    ? cidrBlockList(options.proxyProtocolFrom)
    : undefined;
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
    // From a trusted load balancer the PROXY header comes first, and names the client admission then judges.
    // From anyone else there is no header to read: a PROXY line is then just a bad SSH banner.
    const peer = socket.remoteAddress ?? '';
    const proxied = trustedProxies && matchesCidrs(trustedProxies, peer);
    const header = proxied ? readProxyHeader(socket, PROXY_HEADER_TIMEOUT_MS) : Promise.resolve(undefined);
    header.then(
      (source) => {
        if (source) presentPeer(socket, source);
        return admit(socket, grace);
      },
      (err: unknown) => {
        // Not penalized: the address is the load balancer's, and a ban would cut every client behind it.
        // A connection closed before its first byte is a TCP health check, not worth a warning each time.
        const level = err instanceof ProxyHeaderError && err.silent ? 'debug' : 'warn';
        options.logger[level](
          { remoteAddress: peer, reason: (err as Error).message },
          'bad PROXY protocol header; closing',
        );
        socket.destroy();
      },
    );
  });
  const admit = (socket: Socket, grace: NodeJS.Timeout) =>
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
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(listenOptions('ssh', options.port, options.listen), () => {
      net.off('error', reject);
      noteListening('ssh', net);
      resolve();
    });
  });
  net.on('error', (err) => options.logger.error({ err }, 'listener error'));
  // net.close() stops accepting at once; its callback runs when the last open connection has closed.
  const stopAccepting = () => closeOnce(net);
  // net.close()'s callback comes before the last sockets' 'close' events, and with them the sessions' own (their
  // disconnect audit records): a stop that went on at once closed the audit trail under them. So wait for those.
  const allClosed = async () => {
    await stopAccepting();
    await whenEmpty(sockets, clients);
  };
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
    disconnect: (sessionId) => {
      const held = bySession.get(sessionId);
      if (!held) return false;
      options.logger.info(
        { sessionId, remoteAddress: held.socket.remoteAddress },
        'disconnected by an administrator',
      );
      held.client.end();
      const cut = setTimeout(() => held.socket.destroy(), 2000);
      cut.unref();
      held.socket.once('close', () => clearTimeout(cut));
      return true;
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

/** Set by admission for each socket it lets through, read when ssh2 reports the socket as a connection. */
const connectionState = new WeakMap<Socket, ConnectionState>();
