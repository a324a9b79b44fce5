// One SSH connection's lifecycle: its log and session events, authentication wiring, per-user session count,
// idle timer and host-key announcements; its channels are routed by channels.ts once it is authenticated.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ClientInfo, Connection, PasswordAuthContext } from 'ssh2';
import { ConnectionAuthenticator } from '../auth/authenticator.js';
import { DEFENDER_SCORES } from '../auth/defender.js';
import { PasswordPolicyError, passwordChangeDue } from '../auth/password-policy.js';
import { FerryError } from '../errors.js';
import type { HostKeyMaterial } from '../key-manager/host-keys.js';
import { isCertificateAlgorithm } from '../keys/ssh-certificate.js';
import { isPostQuantumKex } from '../ssh-algorithms.js';
import type { UserRecord } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { toAttempt } from './auth-attempt.js';
import { routeSessionChannels } from './channels.js';
import { announceHostKeys, proveHostKeys } from './host-key-rotation.js';
import type { SshServerOptions } from './options.js';
import { scheduleRekeys } from './rekey.js';
import { emitAuth, emitSecurity } from './session-events.js';
import { uploadReads } from './upload-reads.js';

/** What admission hands a connection before ssh2 takes over its socket. */
export interface ConnectionState {
  readonly grace: NodeJS.Timeout;
  /** Moves the connection out of its address's not-yet-authenticated count. */
  readonly authenticated: () => void;
  readonly sessionsPerUser: Map<string, number>;
}

/**
 * Wires one accepted connection; `state` is missing only for a socket that did not come through admission.
 * Returns the connection's session id (the one its events carry).
 */
export function handleConnection(
  client: Connection,
  socket: Socket,
  info: ClientInfo,
  options: SshServerOptions,
  hostKeys: readonly HostKeyMaterial[],
  state: ConnectionState | undefined,
): string {
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
    directory: options.directory,
    // A user allowed none of SSH's channel kinds is refused at login; each channel checks its own kind.
    protocols: ['sftp', 'scp', 'ssh'],
    certificates: options.certificates,
  });
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
      // Whether a recording of this session stays secret against a future quantum computer.
      postQuantum: isPostQuantumKex(negotiated.kex),
    };
    negotiatedHostKey = negotiated.serverHostKey;
    log.info(algorithms, handshakes === 0 ? 'key exchange done' : 'rekeyed');
    // A key exchange costs the server real CPU (a 4096-bit group about 0.1 s): before login, one is all a client
    // needs, so a second (the client sending KEXINIT again to burn our CPU) ends the connection.
    if (handshakes > 0 && !user) {
      log.warn('key exchange repeated before login; disconnecting');
      client.end();
      return;
    }
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

  /**
   * maxSessionsPerUser on every node sharing the store: the session is recorded (or refused) before the login is
   * accepted, so two nodes cannot both take a user's last place; a refused one is closed once ready, as the
   * per-process limit does. A store that cannot write (a full disk) cannot count: the login is admitted under
   * this process's own limit, as downloads go on while the audit store cannot write (docs/OPERATIONS.md), and the
   * failure is logged; the session is then missing from other nodes' lists.
   */
  let overClusterLimit: { open: number } | undefined;
  const admitAcrossNodes = async (username: string): Promise<'admitted' | 'failed'> => {
    const registry = options.sessionRegistry;
    if (!registry) return 'admitted';
    try {
      overClusterLimit = await registry.admit({
        id: sessionId,
        username,
        remoteAddress,
        client: clientSoftware,
        connectedAt: new Date(started),
      });
    } catch (err) {
      log.error({ err }, "cluster session count failed; this process's own maxSessionsPerUser applies");
      overClusterLimit = undefined;
      return 'admitted';
    }
    if (!overClusterLimit) client.once('close', () => registry.closed(sessionId));
    return 'admitted';
  };

  /**
   * A password past passwordPolicy.maxAgeDays (or flagged by `users set --must-change-password`) is changed before
   * the login completes: RFC 4252 §8's SSH_MSG_USERAUTH_PASSWD_CHANGEREQ, which OpenSSH's client answers by asking
   * for the new password twice. A new one the policy refuses is asked again with the refusal as the prompt (three
   * times at most). False: the client gave up, or never found an acceptable one; the login is refused.
   */
  const passwordChangedIfDue = async (ctx: PasswordAuthContext, account: UserRecord): Promise<boolean> => {
    const passwords = options.passwords;
    const due = passwords ? passwordChangeDue(account, passwords.policy) : undefined;
    if (!passwords || !due) return true;
    let prompt =
      due === 'expired'
        ? `Your password is older than ${passwords.policy.maxAgeDays} days and must be changed.`
        : 'Your password must be changed before you log in.';
    for (let round = 0; round < 3; round++) {
      const next = await new Promise<string | undefined>((resolve) => {
        client.once('close', () => resolve(undefined));
        ctx.requestChange(prompt, (answer) => resolve(answer));
      });
      if (next === undefined) return false;
      try {
        await passwords.change(account.name, new Secret(next));
      } catch (err) {
        if (!(err instanceof PasswordPolicyError)) throw err;
        log.info({ user: account.name, reason: err.message }, 'new password refused by the policy');
        prompt = err.message;
        continue;
      }
      log.info({ user: account.name, reason: due }, 'password changed at login');
      emitAuth(options, sessionId, remoteAddress, account.name, 'password', 'password changed');
      return true;
    }
    return false;
  };

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
        case 'accept': {
          if (ctx.method === 'password' && !(await passwordChangedIfDue(ctx, decision.user))) {
            // Not a factor any more: a key offered next must not finish a two-factor login on it.
            authenticator.withdraw('password');
            emitAuth(options, sessionId, remoteAddress, ctx.username, ctx.method, 'password change required');
            ctx.reject(['password']);
            return;
          }
          if ((await admitAcrossNodes(decision.user.name)) === 'failed') return;
          user = decision.user;
          log = log.child({ user: user.name });
          log.info(
            {
              method: ctx.method,
              ...(decision.source ? { source: decision.source } : {}),
              ...(decision.certificate ? { certificate: decision.certificate } : {}),
            },
            'authenticated',
          );
          emitAuth(
            options,
            sessionId,
            remoteAddress,
            ctx.username,
            ctx.method,
            'accepted',
            decision.source,
            decision.certificate,
          );
          ctx.accept();
          return;
        }
        case 'pk-ok':
          ctx.accept();
          return;
        case 'partial':
          // The password came first of two factors: a change that is due happens now, not never.
          if (ctx.method === 'password' && !(await passwordChangedIfDue(ctx, decision.user))) {
            authenticator.withdraw('password');
            emitAuth(options, sessionId, remoteAddress, ctx.username, ctx.method, 'password change required');
            ctx.reject(['password']);
            return;
          }
          log.info({ ...entry, methodsLeft: decision.methodsLeft }, 'partial authentication');
          emitAuth(options, sessionId, remoteAddress, ctx.username, ctx.method, 'partial', decision.source);
          ctx.reject(decision.methodsLeft, true);
          return;
        case 'reject':
          if (ctx.method !== 'none' && decision.counted) {
            log.info({ ...entry, reason: decision.reason, source: decision.source }, 'authentication failed');
            emitAuth(
              options,
              sessionId,
              remoteAddress,
              ctx.username,
              ctx.method,
              decision.reason,
              decision.source,
            );
            penalize(DEFENDER_SCORES.loginFailed, `login failed: ${decision.reason}`);
          } else if (attempt.method === 'publickey' && !attempt.signature) {
            // A refused certificate is refused at its query (the client never signs): say why, as sshd does.
            if (isCertificateAlgorithm(attempt.algorithm))
              log.info({ ...entry, reason: decision.reason }, 'certificate refused');
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
    if (overClusterLimit) {
      const limit = options.limits.maxSessionsPerUser;
      log.warn({ open: overClusterLimit.open, limit }, 'maxSessionsPerUser reached on the cluster; closing');
      emitSecurity(options, sessionId, remoteAddress, 'limit', {
        limit: 'maxSessionsPerUser',
        user: authed.name,
        open: overClusterLimit.open,
        scope: 'cluster',
      });
      client.end();
      return;
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
    // RFC 4253 section 9: fresh keys after rekey.bytes in either direction or rekey.seconds.
    const stopRekeys = scheduleRekeys(client, socket, options.rekey, log);
    client.once('close', stopRekeys);
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
    const reads = uploadReads(client, socket, budgets?.replyBytes);
    client.once('close', () => {
      if (reads.stats) log.debug({ socketReads: reads.stats }, 'socket reads');
    });
    routeSessionChannels(client, {
      options,
      sessionId,
      remoteAddress,
      user: authed,
      log,
      budgets,
      signal: gone.signal,
      touch,
      sinkTap: reads,
    });
    // tcpip forwarding requests have no listener here, so ssh2 refuses them too.
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
  return sessionId;
}
