// Admin services: every administrative operation, for every front end (CLI, REST API, console), one event per change.

import { ApiAccessAdmin } from './api-access.js';
import { AuditAdmin } from './audit.js';
import { CertificateAdmin } from './certificates.js';
import { DataAdmin } from './data.js';
import { DefenderAdmin } from './defender.js';
import type { AdminDeps } from './deps.js';
import { FolderAdmin } from './folders.js';
import { GroupAdmin } from './groups.js';
import { JobAdmin } from './jobs.js';
import { ClientKeyAdmin, HostKeyAdmin, PgpKeyAdmin } from './keys.js';
import { PartnerAdmin } from './partners.js';
import { AdminRecorder } from './recorder.js';
import { RuleAdmin } from './rules.js';
import { SessionAdmin } from './sessions.js';
import { HostCertificateAdmin, UserCaAdmin } from './ssh-certificates.js';
import { UserTransfer } from './user-transfer.js';
import { UserAdmin } from './users.js';

export type { Actor } from './actor.js';
export { actorSchema, cliActor, systemActor } from './actor.js';
export {
  API_KEY_PREFIX,
  adminAddSchema,
  adminView,
  apiKeyAddSchema,
  apiKeyView,
  hashApiKey,
} from './api-access.js';
export { auditQuerySchema, auditRangeSchema, verifyAuditExport } from './audit.js';
export { certificateGenerateSchema, certificateImportSchema } from './certificates.js';
export type { DefenderListView } from './defender.js';
export { cidrSchema, defenderListEntrySchema, ipAddressSchema } from './defender.js';
export type { AdminDeps } from './deps.js';
export {
  type FolderView,
  folderAddSchema,
  folderMountSchema,
  folderSetSchema,
  folderUnmountSchema,
  folderView,
  parseMountSpec,
} from './folders.js';
export { type GroupView, groupAddSchema, groupSetSchema, groupView } from './groups.js';
export { jobAddSchema, jobSetSchema, jobView } from './jobs.js';
export {
  clientKeyExportSchema,
  hostKeyExportSchema,
  keyImportSchema,
  pgpKeyExportSchema,
  pgpKeyGenerateSchema,
  pgpKeyImportSchema,
  publicKeyLine,
  sshKeyGenerateSchema,
} from './keys.js';
export { partnerAddSchema, partnerSetSchema, partnerTrustSchema } from './partners.js';
export { parseInput, redactChanges, STORE_CHANGE_CHANNEL } from './recorder.js';
export type { DeliveryHistory, ImportReport, RulePatch, RuleView } from './rules.js';
export { deliveryQuerySchema, RULE_SECRET_LABEL, ruleView } from './rules.js';
export { rulesFileFormat } from './rules-file.js';
export type { KilledSession, SessionTerminator } from './sessions.js';
export { isWebSessionId } from './sessions.js';
export { userAddSchema, userKeyGenerateSchema, userSetSchema } from './user-inputs.js';

export interface AdminServices {
  readonly users: UserAdmin;
  readonly userTransfer: UserTransfer;
  /** Groups: the defaults their members inherit. */
  readonly groups: GroupAdmin;
  /** Virtual folders and their mounts for users and groups. */
  readonly folders: FolderAdmin;
  readonly keys: {
    readonly host: HostKeyAdmin;
    readonly client: ClientKeyAdmin;
    readonly pgp: PgpKeyAdmin;
    /** X.509 certificates (the HTTP API's TLS). */
    readonly x509: CertificateAdmin;
    /** Trusted OpenSSH user CAs and revoked certificates. */
    readonly ca: UserCaAdmin;
    /** OpenSSH host certificates of the host keys. */
    readonly hostCertificates: HostCertificateAdmin;
  };
  readonly partners: PartnerAdmin;
  readonly jobs: JobAdmin;
  readonly rules: RuleAdmin;
  readonly defender: DefenderAdmin;
  /** Open SSH connections (ending one; listing them is the serving processes' own). */
  readonly sessions: SessionAdmin;
  readonly audit: AuditAdmin;
  readonly data: DataAdmin;
  /** REST API administrator accounts and API keys. */
  readonly apiAccess: ApiAccessAdmin;
}

/** Builds the services over the composition root's parts; changes are emitted on `deps.events`. */
export function createAdminServices(deps: AdminDeps): AdminServices {
  // The audit writer tells each change whether its record committed: the bus only logs listener failures.
  const recorder = new AdminRecorder(deps.events, deps.audit, undefined, deps.store.notifications);
  return {
    users: new UserAdmin(deps, recorder),
    userTransfer: new UserTransfer(deps, recorder),
    groups: new GroupAdmin(deps, recorder),
    folders: new FolderAdmin(deps, recorder),
    keys: {
      host: new HostKeyAdmin(deps, recorder),
      client: new ClientKeyAdmin(deps, recorder),
      pgp: new PgpKeyAdmin(deps, recorder),
      x509: new CertificateAdmin(deps, recorder),
      ca: new UserCaAdmin(deps, recorder),
      hostCertificates: new HostCertificateAdmin(deps, recorder),
    },
    partners: new PartnerAdmin(deps, recorder),
    jobs: new JobAdmin(deps, recorder),
    rules: new RuleAdmin(deps, recorder),
    defender: new DefenderAdmin(deps, recorder),
    sessions: new SessionAdmin(recorder),
    audit: new AuditAdmin(deps, recorder),
    data: new DataAdmin(recorder),
    apiAccess: new ApiAccessAdmin(deps, recorder),
  };
}
