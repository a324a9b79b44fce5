// Every repository of a Store over one kysely database. The drivers differ only in how a write keeps others out,
// so the list lives here once and a repository cannot be wired into one driver and forgotten in the other.
import type { Kysely } from 'kysely';
import {
  KyselyApiAdminRepository,
  KyselyApiKeyRepository,
  KyselyApiSessionRepository,
} from './api-repositories.js';
import { type AuditRepositoryOptions, KyselyAuditRepository } from './audit-repository.js';
import { KyselyRuleRepository } from './automation-repositories.js';
import { KyselyCertificateRepository } from './certificate-repository.js';
import { KyselyDeliveryRepository } from './delivery-repository.js';
import { KyselyFolderRepository } from './folder-repository.js';
import { KyselyGroupRepository } from './group-repository.js';
import {
  KyselyClientKeyRepository,
  KyselyHostKeyRepository,
  KyselyPgpKeyRepository,
} from './key-repositories.js';
import { KyselyLiveSessionRepository, KyselyUploadClaimRepository } from './live-session-repository.js';
import { KyselyNodeRepository } from './node-repository.js';
import { KyselyRuleCounterRepository } from './rule-counter-repository.js';
import { KyselyS3UploadRepository } from './s3-upload-repository.js';
import type { Database } from './schema.js';
import { countSealedSecrets } from './sealed-secrets.js';
import {
  KyselyAccountSecurityRepository,
  KyselyDefenderListRepository,
  KyselyDefenderRepository,
} from './security-repositories.js';
import { KyselyCertRevocationRepository, KyselyUserCaRepository } from './ssh-ca-repository.js';
import { KyselyTotpRepository } from './totp-repository.js';
import {
  KyselyPartnerRepository,
  KyselyTransferJobRepository,
  KyselyTransferRunRepository,
} from './transfer-repositories.js';
import { KyselyTransferUsageRepository } from './transfer-usage-repository.js';
import type { Store } from './types.js';
import { KyselyUserRepository } from './user-repository.js';
import { KyselyWebSessionRepository } from './web-session-repository.js';
import type { WriteTransactionOptions } from './write-transaction.js';

export interface WriteLocking {
  /** Writers that read before they write (rules, claims, counters). */
  readonly writes: WriteTransactionOptions;
  /** The audit append, which reads the chain head and extends it: the chain must stay one line. */
  readonly audit: AuditRepositoryOptions;
  /** Node registration, which must see every live holder of an id before it takes it. */
  readonly nodes: WriteTransactionOptions;
  /** Session admissions (count, then insert) and upload claims (read the holder, then take it). */
  readonly sessions: WriteTransactionOptions;
  /**
   * Whether statements take row locks (`FOR UPDATE SKIP LOCKED` on claims, `FOR UPDATE` on counter rows):
   * PostgreSQL's way; SQLite's one write lock already excludes every other writer.
   */
  readonly rowLocks: boolean;
}

export function repositoriesOf(db: Kysely<Database>, locking: WriteLocking): Store {
  const { writes } = locking;
  return {
    users: new KyselyUserRepository(db, writes),
    groups: new KyselyGroupRepository(db, writes),
    folders: new KyselyFolderRepository(db, writes),
    // Each count is one conditional UPDATE: atomic on both drivers.
    transferUsage: new KyselyTransferUsageRepository(db),
    hostKeys: new KyselyHostKeyRepository(db),
    clientKeys: new KyselyClientKeyRepository(db),
    pgpKeys: new KyselyPgpKeyRepository(db),
    certificates: new KyselyCertificateRepository(db),
    userCas: new KyselyUserCaRepository(db),
    certRevocations: new KyselyCertRevocationRepository(db),
    // Score and ban are single upserts / compare-and-set updates: atomic on both drivers.
    defender: new KyselyDefenderRepository(db),
    defenderLists: new KyselyDefenderListRepository(db),
    accounts: new KyselyAccountSecurityRepository(db),
    audit: new KyselyAuditRepository(db, locking.audit),
    partners: new KyselyPartnerRepository(db),
    transferJobs: new KyselyTransferJobRepository(db),
    transferRuns: new KyselyTransferRunRepository(db),
    rules: new KyselyRuleRepository(db, writes),
    deliveries: new KyselyDeliveryRepository(db, { ...writes, skipLocked: locking.rowLocks }),
    ruleCounters: new KyselyRuleCounterRepository(db, { ...writes, lockRows: locking.rowLocks }),
    apiAdmins: new KyselyApiAdminRepository(db),
    apiKeys: new KyselyApiKeyRepository(db),
    apiSessions: new KyselyApiSessionRepository(db),
    apiAdminTotp: new KyselyTotpRepository(db, 'api_admin_totp', 'admin_name'),
    nodes: new KyselyNodeRepository(db, locking.nodes),
    liveSessions: new KyselyLiveSessionRepository(db, locking.sessions),
    uploadClaims: new KyselyUploadClaimRepository(db, locking.sessions),
    s3Uploads: new KyselyS3UploadRepository(db),
    webSessions: new KyselyWebSessionRepository(db),
    countSealedSecrets: () => countSealedSecrets(db),
    close: () => db.destroy(),
  };
}
