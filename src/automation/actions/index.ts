// The action runners, one per kind: the delivery worker looks each delivery's action up here.
import type { FerryConfig } from '../../config/schema.js';
import type { FileSessionFactory } from '../../core/types.js';
import type { EventBus } from '../../events/bus.js';
import type { Logger } from '../../logger.js';
import type { UserRepository } from '../../store/types.js';
import type { JobManager } from '../../transfers/jobs.js';
import type { PgpKeyMaterial } from '../../vfs/pgp/decrypt-arrival.js';
import type { ActionRunner, RuleActionKind } from '../types.js';
import { createCommandRunner } from './command.js';
import { createEmailRunner } from './email.js';
import { createFileRunners } from './file.js';
import { createPgpRunners } from './pgp.js';
import { createRetentionRunner } from './retention.js';
import { createRunJobRunner } from './run-job.js';
import { webhookRunner } from './webhook.js';

/** What the runners need from the server. Without `server`, only webhooks run (tests of the engine alone). */
export interface ActionRunnerDeps {
  readonly log: Logger;
  /** Resolves once this process's client transfers pause (rules.yieldToTransfersSeconds at most): digests wait. */
  readonly transfersPaused?: () => Promise<void>;
  readonly server?: {
    readonly config: Pick<FerryConfig, 'smtp' | 'rules'>;
    readonly users: Pick<UserRepository, 'findByName'>;
    readonly homesDir: string;
    readonly fileSessions: FileSessionFactory;
    readonly jobs: Pick<JobManager, 'get' | 'run'>;
    /** Where a retention sweep's report goes, as a `retention-swept` event (rules can mail it). */
    readonly events?: Pick<EventBus, 'emit'>;
    /** The Key Manager's OpenPGP keys, for the encrypt and decrypt actions (without them those kinds have no runner). */
    readonly pgpKeys?: PgpKeyMaterial;
  };
}

export interface ActionRunners extends ReadonlyMap<RuleActionKind, ActionRunner> {}

/** The runners with what they hold open (the SMTP transport and its digests); `close` sends held digests now. */
export interface ActionRunnerSet {
  readonly runners: ActionRunners;
  close(): Promise<void>;
}

/** Every runner this build has. A kind without one is dead-lettered with a message naming it. */
export function createActionRunners(deps: ActionRunnerDeps): ActionRunnerSet {
  const runners = new Map<RuleActionKind, ActionRunner>();
  // The map holds runners of every kind; each is only ever called with an action of its own kind.
  runners.set('webhook', webhookRunner as ActionRunner);
  const server = deps.server;
  if (!server) return { runners, close: async () => {} };
  const { log } = deps;
  const email = createEmailRunner({
    smtp: server.config.smtp,
    log,
    ...(deps.transfersPaused ? { transfersPaused: deps.transfersPaused } : {}),
  });
  runners.set('email', email as ActionRunner);
  runners.set('command', createCommandRunner({ enabled: server.config.rules.commands, log }) as ActionRunner);
  const core = { users: server.users, homesDir: server.homesDir, fileSessions: server.fileSessions, log };
  for (const [kind, runner] of Object.entries(createFileRunners(core)))
    runners.set(kind as RuleActionKind, runner as ActionRunner);
  if (server.pgpKeys) {
    const pgp = createPgpRunners({ ...core, keys: server.pgpKeys });
    runners.set('encrypt', pgp.encrypt as ActionRunner);
    runners.set('decrypt', pgp.decrypt as ActionRunner);
  }
  runners.set('run-job', createRunJobRunner({ jobs: server.jobs, log }) as ActionRunner);
  const events = server.events;
  const retention = createRetentionRunner({
    ...core,
    ...(events
      ? {
          onReport: (report, action, rule, sessionId) =>
            void events.emit({
              type: 'system',
              phase: 'retention-swept',
              at: new Date(),
              sessionId,
              username: action.user,
              rule,
              path: action.path,
              dryRun: report.dryRun,
              removed: report.removed,
              bytes: report.bytes,
              kept: report.kept,
              failed: report.failed,
              names: report.names.slice(0, 50),
              errors: report.errors,
            }),
        }
      : {}),
  });
  runners.set('retention', retention as ActionRunner);
  return { runners, close: () => email.close() };
}
