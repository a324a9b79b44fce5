// One server lifecycle: builds every listener and background service from a validated config, stops them in reverse.

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { warmPasswordVerifier } from './auth/password.js';
import type { RunningAutomation } from './automation/index.js';
import type { FerryConfig } from './config/schema.js';
import { AppContext } from './context.js';
import type { EventBus } from './events/bus.js';
import { prepareDataDir } from './first-run.js';
import { pgpKeyMaterial } from './key-manager/pgp-key-source.js';
import { loggers, rootLogger } from './logger.js';
import { hostKeyReloader, promoteDueHostKeys, signAuditWithPresentedKey } from './server-host-keys.js';
import { ServiceStack, systemEvent, watchDiskSpace, watchStoreHealth } from './server-services.js';
import { sshServerOptions } from './server-ssh-options.js';

/** How often the store is polled for host key changes (FERRY_HOST_KEY_POLL_MS: a test knob, not config). */
const HOST_KEY_POLL_MS = Number(process.env.FERRY_HOST_KEY_POLL_MS) || 10_000;
/**
 * How long a process on a store that announces changes (PostgreSQL) reuses its read of the defender's lists
 * (FERRY_DEFENDER_LISTS_MAX_AGE_MS: a test knob, not config); an announced change is read at once.
 */
const DEFENDER_LISTS_MAX_AGE_MS = Number(process.env.FERRY_DEFENDER_LISTS_MAX_AGE_MS) || undefined;
/** How long a stopping server waits for queued subscribers (alerts) to deliver what they hold. */
const QUEUED_DRAIN_MS = 2000;

export interface RunningFerry {
  readonly port: number;
  /** The HTTP API's port; undefined when its default address was taken (see api/start.ts). */
  readonly httpPort: number | undefined;
  /** The FTPS listeners' ports, when FTPS is on (ftps.port, ftps.implicitPort). */
  readonly ftps: { readonly port: number | undefined; readonly implicitPort: number | undefined } | undefined;
  readonly config: FerryConfig;
  readonly context: AppContext;
  /** The rule engine of this process (rule cache, outbox writer, delivery worker, schedules). */
  readonly automation: RunningAutomation;
  /** The services in the order they started (they stop in reverse). */
  readonly services: readonly string[];
  /** Aborted once the server begins to stop (its reason is the stop's). */
  readonly signal: AbortSignal;
  /** Re-reads host keys from the store; true when what the server presents changed. */
  reloadHostKeys(): Promise<boolean>;
  /**
   * Emits `stopping`, then stops every service in reverse order and disposes of the context. Runs once; with
   * `drain` the SFTP listener first stops accepting and open connections get up to `drainTimeout` seconds to
   * end (/readyz answers 503 meanwhile). With `replaced` (a successor already listens) the HTTP API closes at once
   * and the drain has no deadline. `afterDrain` is awaited between the drain and the closing of the listeners.
   * A later call without `drain` cuts a drain (and that wait) in progress short.
   */
  stop(reason?: string, how?: StopHow): Promise<void>;
}

/** How a server stops (RunningFerry.stop). */
export interface StopHow {
  readonly drain?: boolean;
  readonly replaced?: boolean;
  /**
   * Resolves when the listeners may close. Worker threads share their listening sockets: one that closed its HTTP
   * listener while the others still drain would reset a health check it had just accepted, so each waits for all.
   */
  readonly afterDrain?: () => Promise<void>;
}

export interface StartOptions {
  /** Aborting it stops the server (as stop() does, with the abort reason). */
  readonly signal?: AbortSignal;
  /**
   * Called with the event bus before anything starts, so subscribers (alerts, tests) see every event from the
   * first, `started` included.
   */
  readonly subscribe?: (events: EventBus) => void;
  /**
   * The `serve` run this process belongs to in the node registry: the workers of `serve --workers N` share their
   * primary's, so they register one node id together while a second `serve` with that id is refused. Default: new.
   */
  readonly nodeRunId?: string;
}

/**
 * Starts everything `serve` runs, from a validated config: the store and context, first-run work, audit
 * signing and retention, the store's health as events, the SSH server, the scheduler, the host key poll and
 * the disk space check. `out` receives the human-readable start-up lines. The data dir is created on first
 * run ('create'); a worker of a primary that did so opens it with 'write'. Process hardening and signals stay
 * with the caller (`cli/serve.ts`).
 */
export async function startFerry(
  config: FerryConfig,
  out: (line: string) => void = () => {},
  access: 'create' | 'write' = 'create',
  options: StartOptions = {},
): Promise<RunningFerry> {
  rootLogger.level = config.logLevel;
  const log = loggers.serve;
  const ctx = await AppContext.create(config, access);
  // Every record this process writes names its node; without --node-id the name waits for the SFTP port (below).
  ctx.audit.useNode(config.node.id);
  const services = new ServiceStack(log);
  const shutdown = new AbortController();
  services.started('context', () => ctx.dispose());
  // Queued subscribers (alerts) get a moment to deliver what is left, the `stopping` event included.
  services.started('queued event subscribers', async () => {
    if (!(await ctx.events.drainQueued(QUEUED_DRAIN_MS)))
      log.warn({ waitedMs: QUEUED_DRAIN_MS }, 'queued event subscribers did not finish before shutdown');
    ctx.events.closeQueued();
  });
  try {
    options.subscribe?.(ctx.events);
    await prepareDataDir(ctx, out, undefined, { rescanQuotas: access === 'create' });
    await promoteDueHostKeys(ctx, config.hostKeyGracePeriod, log);
    const hostKeys = await ctx.hostKeys.liveMaterial();
    signAuditWithPresentedKey(ctx, hostKeys, 'keep');
    ctx.audit.startRetention(config.auditRetentionDays);
    services.started('audit retention', () => ctx.audit.stopRetention());
    const stopSweeper = ctx.startAbandonedUploadSweeper();
    if (stopSweeper) services.started('abandoned S3 upload sweeper', stopSweeper);
    services.started('store health events', watchStoreHealth(ctx.health, ctx.events));
    // Rules: before the SSH server, so the outbox sees the first upload; it stops after the server closed, so the
    // deliveries of the last uploads are stored before the store closes.
    const { startAutomation, ruleSecretUnsealer } = await import('./automation/index.js');
    const automation = await startAutomation({
      store: ctx.store,
      events: ctx.events,
      unseal: ruleSecretUnsealer((sealed, label) => ctx.masterKey.open(sealed, label)),
      log: loggers.automation,
      health: ctx.health,
      transfers: ctx.activeTransfers,
      server: {
        config,
        users: ctx.sessionUsers,
        homesDir: ctx.paths.homes,
        fileSessions: ctx.fileSessions,
        jobs: ctx.transfers.jobs,
        events: ctx.events,
        pgpKeys: pgpKeyMaterial(() => ctx.pgpKeys),
      },
    });
    // The pre-upload, pre-download and pre-delete rules: the core asks them before it opens or deletes.
    ctx.preOperationGate = automation.gate;
    services.started('automation', () => {
      ctx.preOperationGate = undefined;
      return automation.stop();
    });
    await warmPasswordVerifier();
    // This process' open connections, counted for the node registry's heartbeats from the first one on.
    const liveSessions = new (await import('./api/live-sessions.js')).LiveSessions(ctx.events);
    services.started('session count', () => liveSessions.close());
    // maxSessionsPerUser across every node (and worker) sharing the store; the live view and kills across nodes.
    const { ClusterSessions } = await import('./admin/cluster-sessions.js');
    const clusterSessions = new ClusterSessions({
      store: ctx.store,
      limit: config.maxSessionsPerUser,
      log: loggers.ssh,
    });
    // Imported here: the primary of --workers N serves nothing, and keeps its memory small without them.
    const { startSshServer } = await import('./ssh/server.js');
    const { startNodeHeartbeat, defaultNodeId } = await import('./admin/cluster.js');
    const ssh = await startSshServer(sshServerOptions(config, ctx, hostKeys, clusterSessions));
    const nodeId = config.node.id ?? defaultNodeId(ssh.port);
    ctx.audit.useNode(nodeId);
    services.started('ssh server', () => ssh.close());
    const nodeRunId = options.nodeRunId ?? randomUUID();
    out(`SFTP listening on ${config.listen}:${ssh.port} (data dir ${config.dataDir})`);
    out((await import('./ssh-algorithms.js')).keyExchangeLine(config.algorithms));
    let ftps: RunningFerry['ftps'];
    let ftpsServer: import('./ftp/server.js').RunningFtpsServer | undefined;
    if (config.ftps.port !== undefined || config.ftps.implicitPort !== undefined) {
      const { startFtps } = await import('./ftp/start.js');
      const server = await startFtps(config, ctx, loggers.ftps, out, clusterSessions);
      services.started('ftps server', () => server.close());
      ftps = { port: server.port, implicitPort: server.implicitPort };
      ftpsServer = server;
    }
    // Ends a connection of this process, SSH or FTPS (the API's kills, other nodes' kill requests, the deny list).
    const disconnect = (sessionId: string): boolean =>
      ssh.disconnect(sessionId) || (ftpsServer?.disconnect(sessionId) ?? false);
    // The HTTP API (REST, OpenAPI, /metrics, /healthz, /readyz): src/api/start.ts.
    const { startHttpApi } = await import('./api/start.js');
    const http = await startHttpApi(
      ctx,
      { name: 'sftp', address: config.listen, port: ssh.port },
      out,
      disconnect,
      // FTPS knows its data connection's transfer; SFTP and SCP sessions report their open handles' counters.
      (sessionId) => ftpsServer?.activity(sessionId) ?? ctx.activeTransfers.of(sessionId),
      { nodeId, sessions: clusterSessions },
      (listener) => automation.worker.onAttemptRecorded(listener),
    );
    let httpClosed: Promise<void> | undefined;
    const closeHttp = () => (httpClosed ??= http?.close() ?? Promise.resolve());
    if (http) services.started('http api', closeHttp);
    // The node registry (cluster mode): refuses a second live node with this id before the start is announced.
    const heartbeatMs = Math.round(config.node.heartbeatSeconds * 1000);
    const stopHeartbeat = await startNodeHeartbeat({
      nodes: ctx.store.nodes,
      nodeId,
      runId: nodeRunId,
      heartbeatMs,
      listeners: [
        { name: 'sftp', address: config.listen, port: ssh.port },
        ...(http ? [{ name: 'http', address: http.address, port: http.port }] : []),
      ],
      sessions: () => liveSessions.list().length,
      log,
    });
    services.started('node heartbeat', stopHeartbeat);
    // Registered: from now on this process' logins are counted with every node's (stopped before the heartbeat).
    await clusterSessions.attach({
      owner: { nodeId, runId: nodeRunId, pid: process.pid },
      disconnect,
      counters: () => liveSessions.list(),
      heartbeatMs,
    });
    // Claims across nodes only where nodes share the store (PostgreSQL): on one machine's SQLite a killed
    // process's claim would hold its partial until its heartbeats lapse, and a resume right after a crash failed.
    if (config.store.driver === 'postgres') ctx.clusterUploadClaims = clusterSessions;
    services.started('cluster sessions', () => {
      ctx.clusterUploadClaims = undefined;
      return clusterSessions.stop();
    });
    // An address put on the deny list loses the connections it has open, not only its next ones.
    const stopDenySweep = (await import('./auth/deny-sweep.js')).startDenySweep({
      lists: ctx.defender.lists,
      sessions: () => liveSessions.list(),
      disconnect,
      ended: (session) =>
        ctx.events.emit({
          type: 'security',
          action: 'limit',
          at: new Date(),
          sessionId: session.id,
          remoteAddress: session.remoteAddress,
          ...(session.username ? { username: session.username } : {}),
          detail: { limit: 'denyList', ended: true },
        }),
      log: loggers.ssh,
    });
    services.started('deny list sweep', stopDenySweep);
    // Scheduled transfer jobs. Every worker runs a scheduler; the store's per-job run lock lets only one run a job.
    const { TransferScheduler } = await import('./transfers/scheduler.js');
    const scheduler = new TransferScheduler({ jobs: ctx.transfers.jobs, log: loggers.transfers });
    await scheduler.start();
    services.started('transfer scheduler', () => scheduler.stop());

    // A change (CLI or API generate/import/promote/retire) is announced and presented to new connections.
    const reloadHostKeys = hostKeyReloader({
      ctx,
      graceDays: config.hostKeyGracePeriod,
      initial: hostKeys,
      present: (keys) => ssh.setHostKeys(keys),
      log,
    });
    // Keys are shared through the store (several workers, later several nodes), so poll it as well as obey SIGHUP.
    const poll = setInterval(() => {
      reloadHostKeys().catch((err: unknown) => log.error({ err }, 'host key reload failed'));
    }, HOST_KEY_POLL_MS);
    poll.unref();
    services.started('host key poll', () => clearInterval(poll));
    // On PostgreSQL another node's (or a CLI's) host key or defender list change is announced: re-read at once.
    const notifications = ctx.store.notifications;
    if (notifications) {
      const { STORE_CHANGE_CHANNEL } = await import('./admin/index.js');
      const unlisten = await notifications.listen(STORE_CHANGE_CHANNEL, (action) => {
        // The defender's stored allow and deny lists: read again by the next check.
        if (action.startsWith('defender.allow.') || action.startsWith('defender.deny.'))
          ctx.defender.lists.changed();
        if (!action.startsWith('keys.host.')) return;
        reloadHostKeys().catch((err: unknown) => log.error({ err }, 'host key reload failed'));
      });
      ctx.defender.lists.announcedChanges(DEFENDER_LISTS_MAX_AGE_MS);
      services.started('store change notifications', unlisten);
    }
    // Background checks report only after the server announced itself started.
    let announced!: () => void;
    const afterStarted = new Promise<void>((resolve) => {
      announced = resolve;
    });
    if (config.diskSpaceLowPercent > 0) {
      const unwatchDisk = watchDiskSpace({
        after: afterStarted,
        path: config.dataDir,
        thresholdPercent: config.diskSpaceLowPercent,
        intervalMs: config.diskSpaceCheckInterval * 1000,
        events: ctx.events,
        log,
      });
      services.started('disk space check', unwatchDisk);
    }

    if (config.keyExpiryWarningDays > 0) {
      const { watchKeyExpiry } = await import('./key-manager/expiry.js');
      const unwatchKeys = watchKeyExpiry({
        list: () => ctx.store.pgpKeys.list(),
        warningDays: config.keyExpiryWarningDays,
        log,
        after: afterStarted,
        onExpiring: ({ key, daysLeft }) =>
          void ctx.events.emit(
            systemEvent({
              phase: 'key-expiring',
              keyKind: 'pgp',
              keyName: key.name,
              fingerprint: key.fingerprint,
              expiresAt: key.expiresAt ?? new Date(),
              daysLeft,
            }),
          ),
      });
      services.started('key expiry check', unwatchKeys);
    }

    let stopped: Promise<void> | undefined;
    const cutDrain = new AbortController();
    const stop: RunningFerry['stop'] = (reason = 'stop requested', how = {}) => {
      if (stopped && !how.drain) cutDrain.abort();
      stopped ??= (async () => {
        shutdown.abort(reason);
        log.info({ reason }, 'server stopping');
        await ctx.events.emit(systemEvent({ phase: 'stopping', reason }));
        // Behind a load balancer: not ready first (health checks move new clients away), then no new
        // connections, while transfers in flight finish; what is still open at the deadline is cut below.
        // A replaced worker is not shut down: its connections end on their own (idle ones at idleTimeout) unless
        // a later stop cuts them (cli/serve.ts), and its successor serves HTTP (a 503 here would fail the node).
        const deadlineMs = how.replaced ? undefined : config.drainTimeout * 1000;
        if (how.drain && (how.replaced || config.drainTimeout > 0)) {
          if (how.replaced)
            closeHttp().catch(() => {}); // services.stop() awaits the same close, reports it
          else ctx.health.startDraining(reason);
          // FTPS connections drain as SFTP ones do: no new ones, those open finish within the same deadline.
          await Promise.all([
            ssh.drain(deadlineMs, cutDrain.signal),
            ftpsServer?.drain(deadlineMs, cutDrain.signal),
          ]);
          if (how.afterDrain && !cutDrain.signal.aborted)
            await Promise.race([how.afterDrain(), once(cutDrain.signal, 'abort')]);
        }
        await services.stop();
      })();
      return stopped;
    };
    options.signal?.addEventListener(
      'abort',
      () => {
        stop(String(options.signal?.reason ?? 'aborted')).catch((err: unknown) =>
          log.error({ err }, 'shutdown failed'),
        );
      },
      { once: true },
    );
    if (options.signal?.aborted) void stop(String(options.signal.reason ?? 'aborted'));
    await ctx.events.emit(
      systemEvent({
        phase: 'started',
        detail: {
          listen: config.listen,
          port: ssh.port,
          dataDir: config.dataDir,
          store: config.store.driver,
          storage: config.storage.backend,
          storageEncryption: config.storage.encryption.enabled,
          ...(config.storage.encryption.enabled
            ? { storageCipher: `${ctx.storageCipher.cipher} (${ctx.storageCipher.reason})` }
            : {}),
          services: services.names,
        },
      }),
    );
    announced();
    return {
      port: ssh.port,
      httpPort: http?.port,
      ftps,
      config,
      context: ctx,
      automation,
      services: services.names,
      signal: shutdown.signal,
      reloadHostKeys,
      stop,
    };
  } catch (err) {
    await services.stop();
    throw err;
  }
}
