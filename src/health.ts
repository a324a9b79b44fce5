// Process health other code can query (a readiness probe, upload admission): healthy until a component reports otherwise.
import { type Logger, loggers } from './logger.js';

/** Parts of the process that can degrade it; each reports itself. */
export type HealthComponent = 'audit' | 'outbox';

export interface ComponentHealth {
  readonly healthy: boolean;
  /** Why it is degraded (absent while healthy). */
  readonly reason?: string;
  /** When the current state began. */
  readonly since: Date;
  /** Failures reported so far; a caller compares two readings to learn whether one happened in between. */
  readonly failures: number;
}

export interface HealthReport {
  readonly status: 'healthy' | 'degraded';
  /** The degraded components' reasons, joined (absent while healthy). */
  readonly reason?: string;
  readonly components: Readonly<Partial<Record<HealthComponent, ComponentHealth>>>;
}

export type HealthListener = (component: HealthComponent, state: ComponentHealth) => void;

export class HealthState {
  readonly #components = new Map<HealthComponent, ComponentHealth>();
  readonly #listeners = new Set<HealthListener>();
  readonly #log: Logger;

  constructor(log: Logger = loggers.health) {
    this.#log = log;
  }

  /** Set once the process stops taking connections before it shuts down (SIGTERM): it is then not ready. */
  #draining: string | undefined;

  /** The process is draining: /readyz answers 503 so a load balancer sends new clients elsewhere. */
  startDraining(reason: string): void {
    this.#draining ??= reason;
  }

  /** Why the process is draining; undefined while it takes connections. */
  get draining(): string | undefined {
    return this.#draining;
  }

  /** Records a failure of `component`; listeners hear of a change from healthy (or of a new reason). */
  degrade(component: HealthComponent, reason: string): void {
    const current = this.#components.get(component);
    const changed = current === undefined || current.healthy || current.reason !== reason;
    const failures = (current?.failures ?? 0) + 1;
    const since = current && !current.healthy ? current.since : new Date();
    this.#set(component, { healthy: false, reason, since, failures }, changed);
  }

  /** Records that `component` works again; listeners hear of it only when it was degraded. */
  recover(component: HealthComponent): void {
    const current = this.#components.get(component);
    if (current === undefined || current.healthy) return;
    this.#set(component, { healthy: true, since: new Date(), failures: current.failures }, true);
  }

  get(component: HealthComponent): ComponentHealth {
    return this.#components.get(component) ?? { healthy: true, since: new Date(0), failures: 0 };
  }

  isHealthy(component?: HealthComponent): boolean {
    if (component !== undefined) return this.get(component).healthy;
    return [...this.#components.values()].every((c) => c.healthy);
  }

  /** What a /readyz endpoint serves. */
  report(): HealthReport {
    const components = Object.fromEntries(this.#components);
    const reasons = [...this.#components]
      .filter(([, c]) => !c.healthy)
      .map(([name, c]) => `${name}: ${c.reason}`);
    return reasons.length === 0
      ? { status: 'healthy', components }
      : { status: 'degraded', reason: reasons.join('; '), components };
  }

  /** Called on every change of state; returns the unsubscribe function. */
  onChange(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(component: HealthComponent, state: ComponentHealth, notify: boolean): void {
    this.#components.set(component, state);
    if (!notify) return;
    if (state.healthy) this.#log.info({ component }, `${component} recovered; the process is healthy again`);
    else
      this.#log.error({ component, reason: state.reason }, `${component} failing; the process is degraded`);
    for (const listener of this.#listeners) {
      try {
        listener(component, state);
      } catch (err) {
        // A listener's failure must not stop the others or the component reporting its state.
        this.#log.error({ err, component }, 'health listener failed');
      }
    }
  }
}

/** The process's health: one per process, like its loggers (every worker reports its own). */
export const health = new HealthState();
