// The HTTP API server: Fastify with zod schemas, one error mapper, one permission check, OpenAPI and docs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { ApiAccessAdmin } from '../admin/api-access.js';
import { consoleRoutes } from '../console/index.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { listenOptions, noteListening } from '../util/shared-listen.js';
import { workerTaskId } from '../util/worker-task-id.js';
import { type WebClientDeps, webClientRoutes } from '../web/index.js';
import { installAuth, PERMISSIONS } from './auth.js';
import { workerGatherer } from './cluster-gather.js';
import type { ApiDeps, ListenerInfo } from './deps.js';
import { errorHandler, frameworkErrorHandler, MAX_PARAM_LENGTH, notFoundHandler } from './errors.js';
import { parseHostPort, servesHttps } from './listen-address.js';
import { LiveSessions } from './live-sessions.js';
import { FerryMetrics, type MetricsSources } from './metrics.js';
import { installRateLimits, loginRateLimit } from './rate-limit.js';
import { accessRoutes } from './routes/access.js';
import { adminTotpRoutes } from './routes/admin-totp.js';
import { auditRoutes } from './routes/audit.js';
import { certificateRoutes } from './routes/certificates.js';
import { clientKeyRoutes } from './routes/client-keys.js';
import { clusterRoutes } from './routes/cluster.js';
import { consoleSessionRoutes } from './routes/console-session.js';
import { defenderRoutes } from './routes/defender.js';
import { defenderListRoutes } from './routes/defender-lists.js';
import { eventRoutes } from './routes/events.js';
import { folderRoutes } from './routes/folders.js';
import { groupRoutes } from './routes/groups.js';
import { jobRoutes } from './routes/jobs.js';
import { keyImportRoutes } from './routes/key-imports.js';
import { keyRoutes } from './routes/keys.js';
import { killLocalSession, localSessions, operationRoutes } from './routes/operations.js';
import { partnerRoutes } from './routes/partners.js';
import { permissionRoutes } from './routes/permissions.js';
import { probeRoutes } from './routes/probes.js';
import { ruleRoutes } from './routes/rules.js';
import { totpEnrolmentRoutes } from './routes/totp-enrolment.js';
import { userTransferRoutes } from './routes/user-transfer.js';
import { userRoutes } from './routes/users.js';

/** Request bodies are small JSON documents (a user with keys); anything larger is refused before parsing. */
const BODY_LIMIT = 1024 * 1024;

function readVersion(): string {
  try {
    // src/api and dist/api both sit two levels below the package.
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'unknown';
  }
}

export type ApiServerOptions = Omit<ApiDeps, 'sessions' | 'metrics' | 'version' | 'startedAt' | 'gather'> & {
  readonly log: Logger;
  /** The audit writer's batch commits, for the audit latency metric. */
  readonly onAuditCommit: (listener: (seconds: number, records: number) => void) => () => void;
  /** The rule delivery worker's recorded attempts, for the delivery metrics (absent without automation). */
  readonly onDeliveryAttempt?: MetricsSources['onDeliveryAttempt'];
  /** SFTP requests' handler times and the process' open handles (absent in tests of the API alone). */
  readonly onSftpRequest?: MetricsSources['onSftpRequest'];
  readonly openHandles?: MetricsSources['openHandles'];
  /** The end-user web client at /files (src/web/); absent in tests of the API alone. */
  readonly webClient?: WebClientDeps;
};

export interface RunningApi {
  readonly address: string;
  readonly port: number;
  /** The Key Manager certificate served (http.tlsKeyName), for the start-up line. */
  readonly tls?: { readonly name: string; readonly fingerprint: string };
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds the app (routes, OpenAPI, docs) without listening: tests may inject into it. */
export async function buildApiApp(
  options: ApiServerOptions,
): Promise<{ app: FastifyInstance; deps: ApiDeps; tls?: { name: string; fingerprint: string } }> {
  const { config, log } = options;
  const sessions = new LiveSessions(options.events, options.sessionActivity);
  const metrics = new FerryMetrics({
    events: options.events,
    sessions,
    onAuditCommit: options.onAuditCommit,
    ...(options.onSftpRequest ? { onSftpRequest: options.onSftpRequest } : {}),
    ...(options.openHandles ? { openHandles: options.openHandles } : {}),
    ...(options.onDeliveryAttempt ? { onDeliveryAttempt: options.onDeliveryAttempt } : {}),
  });
  // Under --workers N: this worker answers the primary's collect requests and may ask for everyone's parts.
  const gather = workerGatherer(async (kind, arg) =>
    kind === 'metrics'
      ? metrics.part()
      : kind === 'pid'
        ? workerTaskId
        : kind === 'kill'
          ? (killLocalSession({ sessions, disconnect: options.disconnect }, arg ?? '') ?? null)
          : localSessions({ sessions, cluster: options.cluster }),
  );
  const deps: ApiDeps = {
    ...options,
    sessions,
    metrics,
    version: readVersion(),
    startedAt: new Date(),
    gather,
  };
  const served = await tlsMaterial(options);
  const tls = served ? { https: { cert: served.cert, key: served.key, minVersion: 'TLSv1.2' as const } } : {};
  // One instance type whether it serves HTTP or HTTPS (the options decide at run time).
  const app = Fastify({
    ...tls,
    loggerInstance: log,
    // One access line per response (onResponse below) instead of Fastify's two, and without headers.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Behind no proxy by default: the address the defender scores is the socket's.
    trustProxy: false,
    // Names are checked by each route's schema (at most 200 characters); the router only refuses absurd segments,
    // and says so as a problem (frameworkErrorHandler) rather than Fastify's bare 414.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler,
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler(log));
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onClose', async () => {
    metrics.close();
    sessions.close();
  });
  const hsts = servesHttps(config);
  app.addHook('onSend', async (request, reply) => {
    // What @fastify/helmet would set for a JSON API, without its CSP (the docs UI brings its own).
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    if (hsts) reply.header('strict-transport-security', 'max-age=31536000');
    // Answers hold user lists, audit records and (once) new keys: no cache keeps them.
    if (request.url.startsWith('/api/') && !request.url.startsWith('/api/docs'))
      reply.header('cache-control', 'no-store');
  });
  app.addHook('onResponse', async (request, reply) => {
    // Never headers or bodies: they carry API keys and passwords. The URL has no secrets (none is taken in a query).
    log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        remoteAddress: request.ip,
        actor: request.principal
          ? `${request.principal.actor.kind}:${request.principal.actor.name}`
          : undefined,
      },
      'http request',
    );
  });
  await app.register(cookie);
  await installRateLimits(app, options.defender);
  // Every route's permission, stated in its OpenAPI operation (x-permission and the description) from the one table.
  app.addHook('onRoute', (route) => {
    const permission = route.config?.permission;
    if (permission === undefined || route.schema === undefined) return;
    const who =
      permission === 'public'
        ? 'no authentication'
        : `permission ${permission}: ${PERMISSIONS[permission].join(', ')}`;
    // FastifySchema does not name OpenAPI extensions; @fastify/swagger copies x- keys into the operation.
    route.schema = Object.assign({}, route.schema, {
      'x-permission': permission,
      description: `Requires ${who}.`,
    });
  });
  installAuth(app, { access: options.admin.apiAccess as ApiAccessAdmin, defender: options.defender, log });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ferry REST API',
        version: deps.version,
        description:
          'Administration of a Ferry MFT server. Authenticate with an API key (`ferry apikeys add NAME --role ROLE`): `Authorization: Bearer ferry_…`. Errors are RFC 9457 problem documents.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'ferry_… API key' },
          consoleSession: {
            type: 'apiKey',
            in: 'cookie',
            name: 'ferry_session',
            description: 'console session from POST /api/login; changes also need its X-CSRF-Token header',
          },
        },
      },
      security: [{ apiKey: [] }, { consoleSession: [] }],
    },
    transform: jsonSchemaTransform,
    // Schemas with a meta id (User, Problem, …) become components the operations refer to.
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });
  app.get('/api/openapi.json', { config: { permission: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  const plugins = [
    probeRoutes,
    consoleSessionRoutes,
    userRoutes,
    groupRoutes,
    folderRoutes,
    auditRoutes,
    operationRoutes,
    partnerRoutes,
    jobRoutes,
    ruleRoutes,
    defenderRoutes,
    defenderListRoutes,
    clusterRoutes,
    keyRoutes,
    keyImportRoutes,
    certificateRoutes,
    clientKeyRoutes,
    eventRoutes,
    accessRoutes,
    adminTotpRoutes,
    totpEnrolmentRoutes,
    permissionRoutes,
    userTransferRoutes,
  ];
  for (const routes of plugins) await app.register(routes(deps));
  // The web client's sign-in is a login like /api/login: the same per-address limit and defender scoring.
  if (options.webClient)
    await app.register(
      webClientRoutes({ ...options.webClient, loginRateLimit: loginRateLimit(options.defender) }),
    );
  // The administrators' console: pages over the routes above, called in-process as the signed-in admin.
  await app.register(consoleRoutes());
  return {
    app,
    deps,
    ...(served?.name !== undefined ? { tls: { name: served.name, fingerprint: served.fingerprint } } : {}),
  };
}

/** The certificate and key to serve: the configured files, or a certificate of the Key Manager; none for HTTP. */
async function tlsMaterial(
  options: ApiServerOptions,
): Promise<{ cert: string | Buffer; key: string | Buffer; name?: string; fingerprint: string } | undefined> {
  const { http } = options.config;
  if (http.tlsCert !== undefined)
    return {
      cert: readTlsFile(http.tlsCert, 'http.tlsCert'),
      key: readTlsFile(http.tlsKey ?? '', 'http.tlsKey'),
      fingerprint: '',
    };
  if (http.tlsKeyName === undefined) return undefined;
  let material: Awaited<ReturnType<ApiServerOptions['admin']['keys']['x509']['tlsMaterial']>>;
  try {
    material = await options.admin.keys.x509.tlsMaterial(http.tlsKeyName);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_NOT_FOUND') throw err;
    throw new ConfigError(
      `http.tlsKeyName: no certificate named ${http.tlsKeyName} in the Key Manager (ferry keys x509 list)`,
      { cause: err },
    );
  }
  return {
    cert: material.cert,
    key: material.key.reveal(),
    name: http.tlsKeyName,
    fingerprint: material.fingerprint,
  };
}

function readTlsFile(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Builds the app and listens on `http.listen`. Under `--workers N` every worker calls this: node:cluster
 * hands the primary's one listening socket to all of them (as for SSH), so they share the port.
 */
export async function startApiServer(options: ApiServerOptions): Promise<RunningApi> {
  const { app, tls } = await buildApiApp(options);
  const { host, port } = parseHostPort(options.config.http.listen);
  try {
    await app.listen(listenOptions('http', port, host));
    noteListening('http', app.server);
  } catch (err) {
    await app.close();
    throw err;
  }
  const bound = app.server.address();
  const actualPort = typeof bound === 'object' && bound ? bound.port : port;
  return { address: host, port: actualPort, app, ...(tls ? { tls } : {}), close: () => app.close() };
}

export type { ListenerInfo };
