// Prometheus metrics of this process, fed by the event bus and the audit writer; summed over the workers on a scrape.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from '../events/bus.js';
import type { FerryEvent } from '../events/types.js';
import type { LiveSessions } from './live-sessions.js';
import { RequestHistogram } from './request-histogram.js';

/** What the metrics read besides events. */
export interface MetricsSources {
  readonly events: EventBus;
  readonly sessions: LiveSessions;
  /** The audit writer's batch commits (seconds, records); returns the unsubscribe function. */
  readonly onAuditCommit: (listener: (seconds: number, records: number) => void) => () => void;
  /** The rule delivery worker's recorded attempts (outcome, seconds); absent without one. Returns the unsubscribe. */
  readonly onDeliveryAttempt?: (
    listener: (outcome: 'succeeded' | 'retry' | 'dead', seconds: number) => void,
  ) => () => void;
  /** Every SFTP request's type (its table row's name) and handler time; returns the unsubscribe. */
  readonly onSftpRequest?: (listener: (type: string, seconds: number) => void) => () => void;
  /** File and directory handles open now on every connection of this process (SFTP, SCP, FTPS). */
  readonly openHandles?: () => number;
}

/** A login attempt's outcome from the SSH layer's `result` ('accepted', 'partial' or the refusal's reason). */
function loginResult(result: unknown): 'ok' | 'partial' | 'failed' {
  return result === 'accepted' ? 'ok' : result === 'partial' ? 'partial' : 'failed';
}

/**
 * The SFTP latency histogram and what feeds it, called per request (every READ and WRITE): request-histogram.ts.
 * Types are the request table's row names: a small fixed set (unknown requests are refused before dispatch).
 */
function sftpRequestObserver(registers: Registry[]): (type: string, seconds: number) => void {
  const histogram = new RequestHistogram({
    name: 'ferry_sftp_request_seconds',
    help: 'How long SFTP request handlers ran, by request type (open, read, write, ..., extensions by name)',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers,
  });
  return (type, seconds) => histogram.observe(type, seconds);
}

export class FerryMetrics {
  /** One registry per server (not prom-client's global one): tests run several servers in one process. */
  readonly registry = new Registry();
  readonly #stop: (() => void)[] = [];
  readonly #logins: Counter<'method' | 'result'>;
  readonly #bytes: Counter<'direction' | 'protocol'>;
  readonly #files: Counter<'direction' | 'protocol' | 'outcome'>;
  readonly #durations: Histogram<'direction'>;
  readonly #bans: Counter;
  readonly #adminChanges: Counter<'actor_kind'>;
  readonly #jobRuns: Counter<'outcome'>;
  readonly #keyExchanges: Counter<'kex' | 'post_quantum'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const sessions = sources.sessions;
    new Gauge({
      name: 'ferry_sessions',
      help: 'Open SSH connections of this process, by protocol (ssh until a transfer shows sftp or scp)',
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        for (const [protocol, n] of sessions.countByProtocol()) this.set({ protocol }, n);
      },
    });
    this.#logins = new Counter({
      name: 'ferry_logins_total',
      help: 'SSH authentication attempts by method and result (ok, partial: one factor of several, failed)',
      labelNames: ['method', 'result'],
      registers,
    });
    this.#bytes = new Counter({
      name: 'ferry_transfer_bytes_total',
      help: 'Bytes transferred by direction (upload, download) and protocol',
      labelNames: ['direction', 'protocol'],
      registers,
    });
    this.#files = new Counter({
      name: 'ferry_transfer_files_total',
      help: 'Files transferred by direction, protocol and outcome (completed, failed)',
      labelNames: ['direction', 'protocol', 'outcome'],
      registers,
    });
    this.#durations = new Histogram({
      name: 'ferry_transfer_duration_seconds',
      help: 'Duration of completed file transfers',
      labelNames: ['direction'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers,
    });
    this.#bans = new Counter({
      name: 'ferry_defender_bans_total',
      help: 'Addresses banned by the defender of this process',
      registers,
    });
    this.#adminChanges = new Counter({
      name: 'ferry_admin_changes_total',
      help: 'Administrative changes by actor kind (cli, api, console, system)',
      labelNames: ['actor_kind'],
      registers,
    });
    this.#jobRuns = new Counter({
      name: 'ferry_job_runs_total',
      help: 'Transfer job runs that ended, by outcome (succeeded, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.#keyExchanges = new Counter({
      name: 'ferry_ssh_key_exchanges_total',
      help: 'SSH connections by the key exchange they negotiated (post_quantum: true for the ML-KEM hybrid)',
      labelNames: ['kex', 'post_quantum'],
      registers,
    });
    const auditLatency = new Histogram({
      name: 'ferry_audit_write_seconds',
      help: 'Duration of audit batch commits (one store transaction each)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
    const auditRecords = new Counter({
      name: 'ferry_audit_records_total',
      help: 'Audit records committed by this process',
      registers,
    });
    this.#stop.push(
      sources.onAuditCommit((seconds, records) => {
        auditLatency.observe(seconds);
        auditRecords.inc(records);
      }),
    );
    if (sources.onDeliveryAttempt) {
      const deliveries = new Counter({
        name: 'ferry_event_deliveries_total',
        help: 'Attempts at rule actions (webhooks, e-mails, commands, …) by outcome: succeeded, retry, dead',
        labelNames: ['outcome'],
        registers,
      });
      const deliveryLatency = new Histogram({
        name: 'ferry_event_delivery_seconds',
        help: 'How long a rule action attempt ran',
        registers,
      });
      this.#stop.push(
        sources.onDeliveryAttempt((outcome, seconds) => {
          deliveries.inc({ outcome });
          deliveryLatency.observe(seconds);
        }),
      );
    }
    if (sources.onSftpRequest) this.#stop.push(sources.onSftpRequest(sftpRequestObserver(registers)));
    const openHandles = sources.openHandles;
    if (openHandles)
      new Gauge({
        name: 'ferry_open_handles',
        help: 'File and directory handles open now on SFTP, SCP and FTPS connections (opens in progress included)',
        registers,
        collect() {
          this.set(openHandles());
        },
      });
    // Queued: counting never delays an operation, and an event is counted once whatever its listeners do.
    this.#stop.push(
      sources.events.subscribeQueued((event) => this.#observe(event), { name: 'metrics', maxQueue: 10_000 }),
    );
  }

  /** This process' metrics as JSON, the part a worker contributes to the cluster's sum. */
  async part(): Promise<unknown> {
    return this.registry.getMetricsAsJSON();
  }

  /**
   * The text a scrape gets: this process' metrics, or with `parts` (every worker's, from cluster-gather.ts) their
   * sum by labels, so one scrape of any worker counts the whole server.
   */
  async text(parts?: unknown[]): Promise<string> {
    if (parts === undefined) return this.registry.metrics();
    // Each part is a worker's getMetricsAsJSON(); the aggregator sums counters, gauges and histograms.
    return AggregatorRegistry.aggregate(
      parts as Parameters<typeof AggregatorRegistry.aggregate>[0],
    ).metrics();
  }

  close(): void {
    for (const stop of this.#stop) stop();
    this.registry.clear();
  }

  #observe(event: FerryEvent): void {
    switch (event.type) {
      case 'session':
        // The kex names come from the server's own offer list, so the label set stays small.
        if (event.phase === 'connect' && typeof event.detail.kex === 'string')
          this.#keyExchanges.inc({
            kex: event.detail.kex,
            post_quantum: String(event.detail.postQuantum === true),
          });
        if (event.phase === 'auth')
          this.#logins.inc({
            method: String(event.detail.method ?? 'unknown'),
            result: loginResult(event.detail.result),
          });
        return;
      case 'transfer': {
        const labels = { direction: event.direction, protocol: event.protocol };
        this.#bytes.inc(labels, event.bytes);
        this.#files.inc({
          direction: event.direction,
          protocol: event.protocol,
          outcome: event.completed ? 'completed' : 'failed',
        });
        if (event.completed) this.#durations.observe({ direction: event.direction }, event.durationMs / 1000);
        return;
      }
      case 'security':
        if (event.action === 'ban') this.#bans.inc();
        return;
      case 'admin':
        this.#adminChanges.inc({ actor_kind: event.actor.kind });
        return;
      case 'job':
        if (event.phase !== 'started') this.#jobRuns.inc({ outcome: event.phase });
        return;
      default:
        return;
    }
  }
}
