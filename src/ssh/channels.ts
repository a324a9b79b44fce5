// Session channels of an authenticated connection: the per-connection channel cap, and subsystem/exec routing to SFTP, SCP and the hash commands.
import type { Connection, ServerChannel } from 'ssh2';
import { DEFENDER_SCORES } from '../auth/defender.js';
import { homeDirOf } from '../auth/user-admin.js';
import { sessionLimitsOf } from '../core/session-limits.js';
import type { ConnectionBudgets } from '../core/types.js';
import type { Logger } from '../logger.js';
import { parseScpCommand, serveScp } from '../scp/server.js';
import { serveSftp } from '../sftp/server.js';
import { protocolAllowed, type UserRecord } from '../store/types.js';
import type { SinkTap } from '../util/socket-reads.js';
import { withActivity } from './activity.js';
import { parseHashCommand, serveHashCommand } from './hash-command.js';
import type { SshServerOptions } from './options.js';
import { emitAuth, emitSecurity } from './session-events.js';
import { reserveFileChannelWindow } from './window-reserve.js';

/** What an authenticated connection lends its channels: who is logged in, its budgets, and its lifetime. */
export interface ChannelContext {
  readonly options: SshServerOptions;
  readonly sessionId: string;
  readonly remoteAddress: string;
  readonly user: UserRecord;
  readonly log: Logger;
  readonly budgets: ConnectionBudgets | undefined;
  /** Aborted when the connection is gone, so its sessions tear down with it. */
  readonly signal: AbortSignal;
  /** Marks the connection active, for the idle timer. */
  readonly touch: () => void;
  /** The connection's socket reads, told by SFTP sessions when they upload (upload-reads.ts). */
  readonly sinkTap: SinkTap | undefined;
}

/** Listens for session channels on `client`; call once, when it is authenticated. */
export function routeSessionChannels(client: Connection, context: ChannelContext): void {
  const { options, sessionId, remoteAddress, log, budgets, signal, touch } = context;
  const authed = context.user;
  const openFiles = (protocol: 'sftp' | 'scp' | 'ssh') =>
    withActivity(
      options.fileSessions(
        {
          sessionId,
          username: authed.name,
          virtualId: authed.id,
          homeDir: homeDirOf(authed, options.homesDir),
          permissions: authed.permissions,
          ...sessionLimitsOf(authed),
          remoteAddress,
          protocol,
        },
        { handles: budgets?.handles, signal },
      ),
      touch,
    );
  /** A session that cannot start (a bad home directory, say) is refused with a log line saying why. */
  const openFilesOrLog = (protocol: 'sftp' | 'scp' | 'ssh', reject: () => void) => {
    try {
      return openFiles(protocol);
    } catch (err) {
      log.error({ err, protocol }, `${protocol} session could not start`);
      reject();
      return undefined;
    }
  };
  /**
   * Whether the user may open this kind of channel. A refusal is answered like any refused channel request (no
   * hint) and goes the way of a failed login: the log, an auth event naming the protocol, a defender score.
   */
  const permitted = (protocol: 'sftp' | 'scp' | 'ssh'): boolean => {
    if (protocolAllowed(authed, protocol)) return true;
    const reason = `protocol ${protocol} not allowed`;
    log.info({ protocol, reason }, 'channel refused');
    emitAuth(options, sessionId, remoteAddress, authed.name, 'channel', reason);
    options.defender
      .penalize(remoteAddress, DEFENDER_SCORES.loginFailed, `login failed: ${reason}`)
      .catch((err: unknown) => log.error({ err }, 'defender failed'));
    return false;
  };
  // Debug only: the client's window is then used whole, as before (a slow reader or a long round trip).
  const reserveReleased = () => log.debug('window reserve given up: the client returned window slowly');
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
    // The client's first request on the channel comes one round trip after our confirmation of it.
    const confirmedAt = performance.now();
    // The client's CHANNEL_CLOSE frees the slot (ssh2 keeps the channel until then, so do we).
    session.once('close', () => channels--);
    session.on('subsystem', (accept, reject, request) => {
      const roundTripMs = performance.now() - confirmedAt;
      if (request.name !== 'sftp') {
        log.info({ subsystem: request.name }, 'subsystem refused');
        reject();
        return;
      }
      if (!permitted('sftp')) {
        reject();
        return;
      }
      touch();
      const files = openFilesOrLog('sftp', reject);
      if (!files) return;
      const channel = accept();
      reserveFileChannelWindow(channel, roundTripMs, reserveReleased);
      log.info('sftp session started');
      serveSftp(channel, files, {
        logger: log,
        ...options.sftp,
        replyBudget: budgets?.replyBytes,
        signal,
        sinkTap: context.sinkTap,
      }).then(
        () => log.info('sftp session ended'),
        (err: unknown) => log.error({ err }, 'sftp session failed'),
      );
    });
    session.on('exec', (accept, reject, request) => {
      const roundTripMs = performance.now() - confirmedAt;
      const command = request.command.slice(0, 200);
      const scp = parseScpCommand(request.command);
      // Hash commands (md5sum, sha256sum, ...) are answered by Ferry itself, through the core; no shell ever runs.
      const hash = scp ? null : parseHashCommand(request.command);
      if (!scp && !hash) {
        log.info({ command }, 'exec refused');
        reject();
        return;
      }
      if (!permitted(scp ? 'scp' : 'ssh')) {
        reject();
        return;
      }
      touch();
      const files = openFilesOrLog(scp ? 'scp' : 'ssh', reject);
      if (!files) return;
      const channel = accept() as ServerChannel;
      if (hash) {
        log.info({ command }, 'hash command started');
        serveHashCommand(channel, hash, files, { logger: log, signal }).then(
          () => log.info('hash command ended'),
          (err: unknown) => log.error({ err }, 'hash command failed'),
        );
        return;
      }
      reserveFileChannelWindow(channel, roundTripMs, reserveReleased);
      log.info({ command }, 'scp started');
      serveScp(channel, scp!, files, { logger: log, signal }).then(
        () => log.info('scp ended'),
        (err: unknown) => log.error({ err }, 'scp failed'),
      );
    });
    // shell, pty, env, x11, agent forwarding: no listener, so ssh2 refuses them.
  });
}
