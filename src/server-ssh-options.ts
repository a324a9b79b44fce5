// The SSH server's options, mapped from a validated config and the context: kept out of the lifecycle
// (server.ts), which only starts the server with them.
import { setPassword } from './auth/user-admin.js';
import { connectionLimitsOf, lockoutOf } from './config/limits.js';
import type { FerryConfig } from './config/schema.js';
import type { AppContext } from './context.js';
import { loggers } from './logger.js';
import type { SshServerOptions } from './ssh/options.js';

/** Everything `startSshServer` takes: listener, limits, algorithms, auth and the session services. */
export function sshServerOptions(
  config: FerryConfig,
  ctx: AppContext,
  hostKeys: SshServerOptions['hostKeys'],
  sessionRegistry: SshServerOptions['sessionRegistry'],
): SshServerOptions {
  return {
    listen: config.listen,
    port: config.sftpPort,
    algorithms: config.algorithms,
    hostKeys,
    proxyProtocolFrom: config.proxyProtocolFrom,
    loginGraceTime: config.loginGraceTime,
    maxAuthTries: config.maxAuthTries,
    homesDir: ctx.paths.homes,
    users: ctx.sessionUsers,
    passwords: {
      policy: config.passwordPolicy,
      change: (name, password) => setPassword(ctx.store.users, name, password, config.passwordPolicy),
    },
    fileSessions: ctx.fileSessions,
    events: ctx.events,
    logger: loggers.ssh,
    defender: ctx.defender,
    budgets: ctx.budgets,
    limits: { ...connectionLimitsOf(config), maxChannelsPerConnection: config.maxChannelsPerConnection },
    rekey: { bytes: config.rekeyLimit, seconds: config.rekeyInterval },
    moduliFile: config.moduliFile,
    maxGroupExchangeBits: config.maxGroupExchangeBits,
    sftp: {
      maxInFlight: config.maxInFlight,
      maxOpenHandles: config.maxOpenHandles,
      maxPacketLength: config.maxPacketSize,
      observer: ctx.sftpRequests,
    },
    accounts: ctx.store.accounts,
    lockout: lockoutOf(config),
    totp: ctx.totp,
    directory: ctx.directory,
    certificates: { cas: ctx.store.userCas, revocations: ctx.store.certRevocations },
    sessionRegistry,
  };
}
