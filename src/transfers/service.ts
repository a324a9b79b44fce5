// The transfers module's front door for the composition root: partners and jobs over one store.
import type { EventBus } from '../events/bus.js';
import type { SshKeyPair } from '../keys/private-keys.js';
import type { MasterKey } from '../keys/sealing.js';
import type { Store } from '../store/types.js';
import type { PgpKeyMaterial } from './job-pgp.js';
import { JobManager, type TransferAuditSink } from './jobs.js';
import { PartnerManager } from './partners.js';

export interface TransferServiceDeps {
  readonly store: Store;
  readonly masterKey: () => MasterKey;
  readonly clientKeyPair: (name: string) => Promise<SshKeyPair>;
  readonly audit: TransferAuditSink;
  /** Where job runs announce themselves (started, succeeded, failed). */
  readonly events?: EventBus;
  /** OpenPGP keys for jobs that encrypt or decrypt. */
  readonly pgpKeys?: PgpKeyMaterial;
}

export class TransferService {
  readonly partners: PartnerManager;
  readonly jobs: JobManager;

  constructor(deps: TransferServiceDeps) {
    this.partners = new PartnerManager({
      repo: deps.store.partners,
      masterKey: deps.masterKey,
      clientKeyPair: deps.clientKeyPair,
    });
    this.jobs = new JobManager({
      jobs: deps.store.transferJobs,
      runs: deps.store.transferRuns,
      partners: this.partners,
      audit: deps.audit,
      ...(deps.events ? { events: deps.events } : {}),
      ...(deps.pgpKeys ? { pgpKeys: deps.pgpKeys } : {}),
    });
  }
}
