// What the admin services need from the composition root (AppContext satisfies it; read lazily, per call).
import type { AuditWriter } from '../audit/writer.js';
import type { TotpService } from '../auth/totp.js';
import type { ActionRunnerDeps } from '../automation/actions/index.js';
import type { FerryConfig } from '../config/schema.js';
import type { EventBus } from '../events/bus.js';
import type { CertificateManager } from '../key-manager/certificates.js';
import type { ClientKeyManager } from '../key-manager/client-keys.js';
import type { HostKeyManager } from '../key-manager/host-keys.js';
import type { PgpKeyManager } from '../key-manager/pgp-keys.js';
import type { MasterKey } from '../keys/sealing.js';
import type { Store } from '../store/types.js';
import type { TransferService } from '../transfers/service.js';

/** The core's file sessions, as the action runners take them (typed through automation/, which may import core/). */
export type RunnerFileSessions = NonNullable<ActionRunnerDeps['server']>['fileSessions'];

export interface AdminDeps {
  readonly config: FerryConfig;
  readonly paths: { readonly homes: string; readonly auditAnchors: string };
  readonly store: Store;
  readonly events: EventBus;
  readonly audit: AuditWriter;
  /** Getters: the master key is opened only by operations that need it. */
  readonly hostKeys: HostKeyManager;
  readonly clientKeys: ClientKeyManager;
  readonly pgpKeys: PgpKeyManager;
  readonly certificates: CertificateManager;
  readonly totp: TotpService;
  /** One-time codes of REST API administrator accounts. */
  readonly adminTotp: TotpService;
  /** Seals webhook secrets of rules (opened on first use). */
  readonly masterKey: MasterKey;
  readonly transfers: TransferService;
  /** The core's file sessions, for file actions of a rule's test run. */
  readonly fileSessions: RunnerFileSessions;
}
