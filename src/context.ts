// Composition root: the one place that picks implementations from validated config; disposable.
import { join } from 'node:path';
import { ANCHOR_LOG_NAME } from './audit/anchors.js';
import { type AuditSigner, hostKeyAuditSigner } from './audit/signer.js';
import { AuditWriter } from './audit/writer.js';
import { Defender } from './auth/defender.js';
import { TotpService } from './auth/totp.js';
import type { FerryConfig } from './config/schema.js';
import { ResourceLedger } from './core/budgets.js';
import { createFileSessionFactory } from './core/file-session.js';
import type { FileSessionFactory } from './core/types.js';
import { AuditGatedFs, UploadAdmission } from './core/upload-admission.js';
import { EventBus } from './events/bus.js';
import { type HealthState, health } from './health.js';
import { ClientKeyManager } from './key-manager/client-keys.js';
import { HostKeyManager } from './key-manager/host-keys.js';
import { PgpKeyManager } from './key-manager/pgp-keys.js';
import { MasterKey } from './keys/sealing.js';
import { loggers } from './logger.js';
import { openSqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/types.js';
import { TransferService } from './transfers/service.js';
import { localHomeFs } from './vfs/local/local-fs.js';

export interface DataPaths {
  readonly database: string;
  readonly masterKey: string;
  readonly homes: string;
  /** Every signed audit checkpoint, one JSON line each (append-only; copy or forward it elsewhere). */
  readonly auditAnchors: string;
}

export function dataPaths(dataDir: string): DataPaths {
  return {
    database: join(dataDir, 'ferry.db'),
    masterKey: join(dataDir, 'master.key'),
    homes: join(dataDir, 'homes'),
    auditAnchors: join(dataDir, ANCHOR_LOG_NAME),
  };
}

export class AppContext {
  readonly config: FerryConfig;
  readonly paths: DataPaths;
  readonly store: Store;
  readonly events: EventBus;
  /** The tamper-evident audit trail; subscribed to `events`, and used directly for admin changes. */
  readonly audit: AuditWriter;
  /** The process's health (the audit store reports into it); what a readiness probe serves. */
  readonly health: HealthState = health;
  readonly fileSessions: FileSessionFactory;
  /** Open handles and buffered reply bytes per connection and per user, shared by every connection of this process. */
  readonly budgets: ResourceLedger;
  #masterKey: MasterKey | undefined;
  #defender: Defender | undefined;
  #transfers: TransferService | undefined;

  private constructor(config: FerryConfig, store: Store) {
    this.config = config;
    this.paths = dataPaths(config.dataDir);
    this.store = store;
    this.events = new EventBus(loggers.events);
    this.audit = new AuditWriter({
      repository: store.audit,
      log: loggers.audit,
      health: this.health,
      checkpointEveryRecords: config.auditCheckpointInterval,
      anchorLog: this.paths.auditAnchors,
      // CLI processes sign only when a checkpoint falls due or they prune; `serve` sets its signer at start.
      loadSigner: () => this.#auditSigner(),
    });
    this.events.subscribe(this.audit.listener);
    const uploadAdmission = new UploadAdmission(this.health);
    this.fileSessions = createFileSessionFactory({
      events: this.events,
      logger: loggers.core,
      fs: (identity) => {
        const fs = localHomeFs(identity);
        return config.auditOnFailure === 'refuse-uploads' ? new AuditGatedFs(fs, uploadAdmission) : fs;
      },
      limits: {
        maxOpenHandles: config.maxOpenHandles,
        maxPathLength: config.maxPathLength,
        maxFileSize: config.maxFileSize,
        maxHashBytes: config.maxHashBytes,
      },
      uploadMode: config.uploadMode,
    });
    this.budgets = new ResourceLedger({
      handles: { perConnection: config.maxOpenHandlesPerConnection, perUser: config.maxOpenHandlesPerUser },
      replyBytes: {
        perConnection: config.maxBufferedBytesPerConnection,
        perUser: config.maxBufferedBytesPerUser,
      },
    });
  }

  /** The oldest active Ed25519 host key (as `serve` signs with), or undefined when there is none. */
  async #auditSigner(): Promise<AuditSigner | undefined> {
    const stored = await this.store.hostKeys.list();
    // Checked before opening anything sealed, so a store without host keys never creates a master key.
    if (!stored.some((k) => k.active && k.algorithm === 'ssh-ed25519')) return undefined;
    const material = (await this.hostKeys.activeMaterial()).find((k) => k.algorithm === 'ssh-ed25519');
    return material ? hostKeyAuditSigner(material) : undefined;
  }

  /** Loaded on first use, so commands that touch no secret never create a key file. */
  get masterKey(): MasterKey {
    this.#masterKey ??= MasterKey.load(this.config.masterKey, this.paths.masterKey);
    return this.#masterKey;
  }

  get hostKeys(): HostKeyManager {
    return new HostKeyManager(this.store.hostKeys, this.masterKey);
  }

  /** One per process: bans are shared through the store. */
  get defender(): Defender {
    this.#defender ??= new Defender(
      this.store.defender,
      {
        enabled: this.config.defenderEnabled,
        threshold: this.config.defenderThreshold,
        windowSeconds: this.config.defenderWindow,
        banSeconds: this.config.defenderBanTime,
        maxBanSeconds: this.config.defenderMaxBanTime,
        allowList: this.config.allowList,
        denyList: this.config.denyList,
      },
      loggers.auth,
      (host, reason) =>
        void this.events.emit({
          type: 'security',
          action: 'ban',
          at: new Date(),
          sessionId: '',
          remoteAddress: host.address,
          detail: { until: host.bannedUntil?.toISOString(), banCount: host.banCount, reason },
        }),
    );
    return this.#defender;
  }

  get totp(): TotpService {
    return new TotpService(this.store.accounts, this.masterKey);
  }

  get clientKeys(): ClientKeyManager {
    return new ClientKeyManager(this.store.clientKeys, this.masterKey);
  }

  get pgpKeys(): PgpKeyManager {
    return new PgpKeyManager(this.store.pgpKeys, this.masterKey);
  }

  /** Partners and transfer jobs; job runs write their audit records through `audit`. */
  get transfers(): TransferService {
    this.#transfers ??= new TransferService({
      store: this.store,
      masterKey: () => this.masterKey,
      clientKeyPair: (name) => this.clientKeys.keyPair(name),
      audit: (entry) => this.audit.append(entry),
    });
    return this.#transfers;
  }

  static async create(config: FerryConfig): Promise<AppContext> {
    const store = await openSqliteStore(dataPaths(config.dataDir).database);
    return new AppContext(config, store);
  }

  async dispose(): Promise<void> {
    try {
      await this.audit.close();
    } finally {
      await this.store.close();
    }
  }
}
