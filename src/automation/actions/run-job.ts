// The run-job action: a partner transfer job run now, as `ferry jobs run` does (a file arrives, it is pushed).
import { FerryError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { JobBusyError, type JobManager } from '../../transfers/jobs.js';
import type { ActionRunner, RunJobAction } from '../types.js';

export interface RunJobRunnerDeps {
  /** `AppContext.transfers.jobs`. */
  readonly jobs: Pick<JobManager, 'get' | 'run'>;
  readonly log: Logger;
}

/**
 * Runs the job with trigger `rule` (its run record and job events say so). A missing or disabled job is a
 * permanent failure: a disabled job is one the operator stopped, and a rule does not start it behind their
 * back. A job already running is retried later: that run listed its files before this one arrived. A run
 * that failed after the job's own retries fails the delivery (retried with the delivery's backoff); the
 * job's run and audit records hold the detail.
 */
export function createRunJobRunner(deps: RunJobRunnerDeps): ActionRunner<RunJobAction> {
  return {
    kind: 'run-job',
    async run(action, delivery, context) {
      try {
        const job = await deps.jobs.get(action.job);
        if (!job.enabled) return { ok: false, permanent: true, error: `job ${action.job} is disabled` };
        const run = await deps.jobs.run(action.job, { trigger: 'rule', signal: context.signal });
        const output = `run ${run.id} of job ${action.job}: ${run.status}, ${run.files.length} files, ${run.bytes} bytes in ${run.attempts} attempts`;
        deps.log.info(
          {
            rule: context.rule.name,
            delivery: delivery.id,
            job: action.job,
            run: run.id,
            status: run.status,
          },
          'rule ran a job',
        );
        return run.status === 'ok'
          ? { ok: true, output }
          : { ok: false, output, error: run.error ?? 'run failed' };
      } catch (err) {
        if (err instanceof JobBusyError) return { ok: false, error: err.message };
        const message = err instanceof Error ? err.message : String(err);
        const notFound = err instanceof FerryError && err.code === 'ERR_NOT_FOUND';
        return { ok: false, error: message, ...(notFound ? { permanent: true } : {}) };
      }
    },
  };
}
