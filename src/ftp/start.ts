// Starting FTPS from the validated config: the certificate (printed with its fingerprint) and the listeners.

import type { Defender } from '../auth/defender.js';
import type { ExternalPasswordSource } from '../auth/external-login.js';
import { connectionLimitsOf, lockoutOf } from '../config/limits.js';
import type { FerryConfig } from '../config/schema.js';
import type { FileSessionFactory, ResourceBudgets, SessionRegistry } from '../core/types.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { AccountSecurityRepository, UserLookup } from '../store/types.js';
import { type CertificateSource, loadFtpsCertificate } from './certificate.js';
import { type RunningFtpsServer, startFtpsServer } from './server.js';

/** What of the application context FTPS uses (context.ts's AppContext has all of it). */
export interface FtpsServices {
  readonly paths: { readonly homes: string };
  readonly store: { readonly accounts: AccountSecurityRepository };
  /** Users as sessions see them (groups' defaults filled in). */
  readonly sessionUsers: UserLookup;
  readonly fileSessions: FileSessionFactory;
  readonly events: EventBus;
  readonly defender: Defender;
  readonly budgets: ResourceBudgets;
  readonly admin: { readonly keys: { readonly x509: CertificateSource } };
  /** LDAP/AD password logins (`ldap.url`), shared with the other listeners. */
  readonly directory?: ExternalPasswordSource | undefined;
}

export async function startFtps(
  config: FerryConfig,
  ctx: FtpsServices,
  logger: Logger,
  out: (line: string) => void,
  sessionRegistry?: SessionRegistry,
): Promise<RunningFtpsServer> {
  const certificate = await loadFtpsCertificate(config.dataDir, config.ftps, ctx.admin.keys.x509);
  const [low, high] = (config.ftps.passivePorts ?? '0-0').split('-').map(Number) as [number, number];
  const server = await startFtpsServer({
    listen: config.listen,
    port: config.ftps.port,
    implicitPort: config.ftps.implicitPort,
    passivePorts: [low, high],
    ...(config.ftps.passiveAddress ? { passiveAddress: config.ftps.passiveAddress } : {}),
    cert: certificate.cert,
    key: certificate.key,
    loginGraceTime: config.loginGraceTime,
    maxAuthTries: config.maxAuthTries,
    homesDir: ctx.paths.homes,
    users: ctx.sessionUsers,
    passwordPolicy: config.passwordPolicy,
    fileSessions: ctx.fileSessions,
    events: ctx.events,
    logger,
    defender: ctx.defender,
    budgets: ctx.budgets,
    limits: connectionLimitsOf(config),
    accounts: ctx.store.accounts,
    lockout: lockoutOf(config),
    directory: ctx.directory,
    ...(sessionRegistry ? { sessionRegistry } : {}),
  });
  const where = [
    server.port !== undefined ? `explicit ${config.listen}:${server.port}` : '',
    server.implicitPort !== undefined ? `implicit ${config.listen}:${server.implicitPort}` : '',
  ].filter(Boolean);
  out(`FTPS listening (${where.join(', ')})`);
  const named = certificate.name !== undefined ? ` ${certificate.name} (Key Manager)` : '';
  out(
    `FTPS certificate${named} SHA-256 ${certificate.fingerprint}${certificate.generated ? ' (generated, self-signed)' : ''}`,
  );
  return server;
}
