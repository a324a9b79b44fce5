// Starts the HTTP API for a serving process from its parts; the one call server.ts makes.

import type { AdminServices } from '../admin/index.js';
import type { AuditWriter } from '../audit/writer.js';
import type { Defender } from '../auth/defender.js';
import type { ExternalPasswordSource } from '../auth/external-login.js';
import type { TotpService } from '../auth/totp.js';
import { setPassword } from '../auth/user-admin.js';
import { lockoutOf } from '../config/limits.js';
import type { FerryConfig } from '../config/schema.js';
import type { ResourceBudget } from '../core/budgets.js';
import type { RequestTimings } from '../core/request-timings.js';
import type { FileSessionFactory } from '../core/types.js';
import { ConfigError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { HealthState } from '../health.js';
import type { MasterKey } from '../keys/sealing.js';
import { loggers } from '../logger.js';
import type { Store, UserLookup } from '../store/types.js';
import type { Secret } from '../util/secret.js';
import type { WebClientDeps } from '../web/index.js';
import type { ApiCluster, ListenerInfo } from './deps.js';
import { httpApiLine, servesHttps } from './listen-address.js';
import type { SessionActivitySource } from './live-sessions.js';
import { type ApiServerOptions, type RunningApi, startApiServer } from './server.js';

/** What the API needs of the composition root (AppContext has it all). */
export interface ApiContext {
  readonly config: FerryConfig;
  readonly admin: AdminServices;
  readonly store: Store;
  /** Users as sessions see them (groups' defaults filled in): the web client's sign-in and requests. */
  readonly sessionUsers: UserLookup;
  readonly events: EventBus;
  readonly defender: Defender;
  readonly health: HealthState;
  readonly audit: Pick<AuditWriter, 'onBatchCommitted'>;
  /** SFTP requests' handler times and the open handles of every connection, for the metrics. */
  readonly sftpRequests: Pick<RequestTimings, 'subscribe'>;
  readonly budgets: { readonly handles: Pick<ResourceBudget, 'inUse'> };
  /** For the web client (/files): the core's file sessions, homes, TOTP and the master key its cookies derive from. */
  readonly fileSessions: FileSessionFactory;
  readonly paths: { readonly homes: string };
  readonly totp: TotpService;
  readonly directory?: ExternalPasswordSource | undefined;
  readonly masterKey: Pick<MasterKey, 'deriveKey'>;
}

const DEFAULT_LISTEN = '127.0.0.1:8080';

/**
 * Listens on `http.listen` and prints where. Only when the address is the default one and already taken
 * (another Ferry, or any local service on 8080) the server starts without the API and says so: SFTP is the
 * service, the API its console. An address the operator chose must work, or the server does not start.
 */
export async function startHttpApi(
  ctx: ApiContext,
  sftp: ListenerInfo,
  out: (line: string) => void,
  /** The SSH and FTPS servers' disconnect, for DELETE /api/sessions/{id}. */
  disconnect?: (sessionId: string) => boolean,
  /** What an FTPS connection is transferring now, for GET /api/sessions. */
  sessionActivity?: SessionActivitySource,
  /** This node's id and every node's sessions, for the cluster-wide session view and kills. */
  cluster?: ApiCluster,
  /** The rule delivery worker's recorded attempts, for the delivery metrics. */
  onDeliveryAttempt?: ApiServerOptions['onDeliveryAttempt'],
): Promise<RunningApi | undefined> {
  const listeners: ListenerInfo[] = [sftp];
  const log = loggers.http;
  let api: RunningApi;
  try {
    api = await startApiServer({
      config: ctx.config,
      admin: ctx.admin,
      store: ctx.store,
      events: ctx.events,
      defender: ctx.defender,
      health: ctx.health,
      listeners: () => listeners,
      disconnect,
      ...(sessionActivity ? { sessionActivity } : {}),
      cluster,
      log,
      onAuditCommit: (listener) => ctx.audit.onBatchCommitted(listener),
      onSftpRequest: (listener) => ctx.sftpRequests.subscribe(listener),
      openHandles: () => ctx.budgets.handles.inUse,
      ...(onDeliveryAttempt ? { onDeliveryAttempt } : {}),
      webClient: webClientDeps(ctx, cluster?.nodeId),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'EADDRINUSE' && ctx.config.http.listen === DEFAULT_LISTEN) {
      const line = `HTTP API not started: ${DEFAULT_LISTEN} is in use; choose another with --http-listen HOST:PORT`;
      log.warn({ listen: DEFAULT_LISTEN }, line);
      out(line);
      return undefined;
    }
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new ConfigError(
        `cannot listen on ${ctx.config.http.listen} (http.listen): ${code}; choose another --http-listen`,
        { cause: err },
      );
    throw err;
  }
  listeners.push({ name: 'http', address: api.address, port: api.port });
  out(httpApiLine(ctx.config, api.port));
  if (api.tls) out(`HTTP API certificate ${api.tls.name}: SHA-256 fingerprint ${api.tls.fingerprint}`);
  return api;
}

function webClientDeps(ctx: ApiContext, nodeId: string | undefined): WebClientDeps {
  const { config } = ctx;
  let sessionKey: Secret<Buffer> | undefined;
  return {
    users: ctx.sessionUsers,
    passwords: {
      policy: config.passwordPolicy,
      change: (name, password) => setPassword(ctx.store.users, name, password, config.passwordPolicy),
    },
    accounts: ctx.store.accounts,
    lockout: lockoutOf(config),
    maxAuthTries: config.maxAuthTries,
    totp: ctx.totp,
    directory: ctx.directory,
    defender: ctx.defender,
    events: ctx.events,
    fileSessions: ctx.fileSessions,
    webSessions: ctx.store.webSessions,
    nodeId,
    homesDir: ctx.paths.homes,
    // Derived on first use, the same in every worker and node sharing the master key.
    sessionKey: () => {
      sessionKey ??= ctx.masterKey.deriveKey('web-client-session');
      return sessionKey;
    },
    secureCookies: servesHttps(config),
    uploadMode: config.uploadMode,
    maxFileSize: config.maxFileSize,
    log: loggers.http.child({ component: 'web-client' }),
  };
}
