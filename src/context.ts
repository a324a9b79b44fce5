// Composition root: the one place that picks implementations from validated config; disposable.
import { existsSync } from 'node:fs';
import { type AdminServices, createAdminServices } from './admin/index.js';
import { type AuditSigner, hostKeyAuditSigner } from './audit/signer.js';
import { AuditWriter } from './audit/writer.js';
import { Defender } from './auth/defender.js';
import type { ExternalPasswordSource } from './auth/external-login.js';
import { createDirectoryLogin } from './auth/ldap/index.js';
import { TotpService } from './auth/totp.js';
import type { FerryConfig } from './config/schema.js';
import { QuotaScans } from './context-quota.js';
import {
  homeFsFactory,
  loadS3Backend,
  openStore,
  type S3Backend,
  s3Backend,
  withFolders,
  withQuota,
} from './context-storage.js';
import { ActiveTransfers } from './core/active-transfers.js';
import { ResourceLedger } from './core/budgets.js';
import { createFileSessionFactory } from './core/file-session.js';
import type { PreOperationGate } from './core/pre-operation.js';
import type { DiskUsage } from './core/quota-scan.js';
import { processTokenSource } from './core/rate-relay.js';
import { RequestTimings } from './core/request-timings.js';
import { sessionThrottles } from './core/shared-rates.js';
import { storeTransferLedger, TransferAllowance } from './core/transfer-allowance.js';
import type { FileSessionFactory, SessionIdentity } from './core/types.js';
import { AuditGatedFs, UploadAdmission } from './core/upload-admission.js';
import type { ClusterUploadClaims } from './core/upload-lock.js';
import { type DataDirAccess, type DataPaths, dataPaths } from './data-dir.js';
import { EventBus } from './events/bus.js';
import { type HealthState, health } from './health.js';
import { CertificateManager } from './key-manager/certificates.js';
import { ClientKeyManager } from './key-manager/client-keys.js';
import { HostKeyManager } from './key-manager/host-keys.js';
import { pgpKeyMaterial, userPgpKeys } from './key-manager/pgp-key-source.js';
import { PgpKeyManager } from './key-manager/pgp-keys.js';
import { MasterKey } from './keys/sealing.js';
import { loggers } from './logger.js';
import { effectiveUserLookup } from './store/effective-user.js';
import type { Store, UserLookup, UserRecord, UserRepository } from './store/types.js';
import { TransferService } from './transfers/service.js';
import { type CipherChoice, chooseCipher } from './vfs/encrypted/cipher-choice.js';
import { StorageKeyRing, storageKekOf } from './vfs/encrypted/storage-keys.js';
import { LocalFs } from './vfs/local/local-fs.js';
import { PgpPolicyFs } from './vfs/pgp/pgp-fs.js';
import type { Fs } from './vfs/types.js';

export class AppContext {
  readonly config: FerryConfig;
  readonly paths: DataPaths;
  readonly store: Store;
  /** Users as sessions see them: their groups' defaults filled in (store/effective-user.ts), read at each login. */
  readonly sessionUsers: UserLookup & { readonly update: UserRepository['update'] };
  readonly events: EventBus;
  /** The tamper-evident audit trail, subscribed to `events` (admin changes reach it as admin events too). */
  readonly audit: AuditWriter;
  /** The process's health (the audit store reports into it); what a readiness probe serves. */
  readonly health: HealthState = health;
  readonly fileSessions: FileSessionFactory;
  /** What each file session moves right now (the API's live session list). */
  readonly activeTransfers = new ActiveTransfers();
  /**
   * Asked by every file session before an upload, download or delete (the pre-operation hooks of rules,
   * automation/hooks.ts). Set once the rules are loaded; unset, nothing is asked.
   */
  preOperationGate: PreOperationGate | undefined;
  /** Cluster mode: partials claimed across nodes through the store; set by `serve` once its node is registered. */
  clusterUploadClaims: ClusterUploadClaims | undefined;
  /** Open handles and buffered reply bytes per connection and per user, shared by every connection of this process. */
  readonly budgets: ResourceLedger;
  /** SFTP requests' handler times, from the SSH server (started first) to the metrics of the HTTP API. */
  readonly sftpRequests = new RequestTimings();
  readonly #quotas: QuotaScans;
  readonly #sweepAbandoned: ReturnType<typeof homeFsFactory>['sweepAbandoned'];
  #masterKey: MasterKey | undefined;
  #storageKeys: StorageKeyRing | undefined;
  #storageCipher: CipherChoice | undefined;
  readonly #access: DataDirAccess;
  /** What the store holds sealed, counted at open when the key file was missing ('' when nothing). */
  readonly #sealedWithMissingKey: string;
  /** The S3 backend, loaded by `create` when the storage is S3. */
  readonly #s3: S3Backend | undefined;
  #defender: Defender | undefined;
  #directory: { readonly source: ExternalPasswordSource | undefined } | undefined;
  #transfers: TransferService | undefined;
  #admin: AdminServices | undefined;

  private constructor(
    config: FerryConfig,
    store: Store,
    access: DataDirAccess,
    sealedWithMissingKey: string,
    s3: S3Backend | undefined,
  ) {
    this.config = config;
    this.#access = access;
    this.#sealedWithMissingKey = sealedWithMissingKey;
    this.#s3 = s3;
    this.paths = dataPaths(config.dataDir, config.store.driver === 'sqlite' ? config.store.path : undefined);
    this.store = store;
    this.sessionUsers = effectiveUserLookup(store, { inactivityDisableDays: config.inactivityDisableDays });
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
    const { home: homeFs, sweepAbandoned } = homeFsFactory(
      config,
      () => this.storageKeys,
      () => this.storageCipher.cipher,
      s3,
      store,
    );
    this.#quotas = new QuotaScans({
      store,
      sessionUsers: this.sessionUsers,
      homeFs,
      homes: this.paths.homes,
    });
    this.#sweepAbandoned = sweepAbandoned;
    // A user's rates and the server's caps hold across sessions, and across the workers of `serve --workers N`.
    const tokens = processTokenSource();
    this.fileSessions = createFileSessionFactory({
      events: this.events,
      logger: loggers.core,
      fs: (identity) => {
        const home = withQuota(homeFs(identity), identity, store.users);
        const fs = this.#withPgpPolicies(withFolders(home, identity, config, store.folders), identity);
        return config.auditOnFailure === 'refuse-uploads' ? new AuditGatedFs(fs, uploadAdmission) : fs;
      },
      limits: {
        maxOpenHandles: config.maxOpenHandles,
        maxPathLength: config.maxPathLength,
        maxFileSize: config.maxFileSize,
        maxHashBytes: config.maxHashBytes,
      },
      uploadMode: config.uploadMode,
      preOperation: () => this.preOperationGate,
      clusterClaims: () => this.clusterUploadClaims,
      transfers: this.activeTransfers,
      // What clients move counts against transfer quotas; a rule's server-side file work does not.
      transferAllowance: (identity) =>
        identity.transferQuotas && identity.protocol !== 'rule'
          ? new TransferAllowance(
              storeTransferLedger(this.store.transferUsage, identity.username, identity.transferQuotas),
              identity.transferQuotas,
            )
          : undefined,
      throttles: (identity) =>
        sessionThrottles(tokens, identity.username, identity.rates, {
          upload: config.serverUploadRate,
          download: config.serverDownloadRate,
        }),
    });
    this.budgets = new ResourceLedger({
      handles: { perConnection: config.maxOpenHandlesPerConnection, perUser: config.maxOpenHandlesPerUser },
      replyBytes: {
        perConnection: config.maxBufferedBytesPerConnection,
        perUser: config.maxBufferedBytesPerUser,
      },
    });
  }

  /** Counts a virtual folder's files as its quota does and stores that as its usage. */
  scanFolderUsage(name: string): Promise<DiskUsage> {
    return this.#quotas.folder(name);
  }

  /** Every user as sessions see them (homes from group templates, groups' quotas): for whole-store walks. */
  effectiveUsers(): Promise<UserRecord[]> {
    return this.#quotas.effectiveUsers();
  }

  /** Counts the user's home as the quota does and stores it as their usage (`ferry quota scan`). */
  scanQuotaUsage(name: string): Promise<DiskUsage> {
    return this.#quotas.user(name);
  }

  /** Rescans every user and folder with a quota (server start, before any session; see QuotaScans.rescan). */
  rescanQuotas(): Promise<number> {
    return this.#quotas.rescan();
  }

  /** The user's OpenPGP folder policies over their storage (a pass-through for users without any). */
  #withPgpPolicies(fs: Fs, identity: SessionIdentity): Fs {
    return new PgpPolicyFs(fs, {
      // Policies the front end already has cost no second read of the user (five statements per session).
      keys: userPgpKeys(identity.username, this.sessionUsers, () => this.pgpKeys, identity.pgpPolicies),
      log: loggers.core,
      report: (outcome) =>
        this.events.emit({
          type: 'pgp',
          at: new Date(),
          sessionId: identity.sessionId,
          username: identity.username,
          remoteAddress: identity.remoteAddress,
          protocol: identity.protocol,
          ...outcome,
        }),
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

  /**
   * Loaded on first use, so commands that touch no secret never create a key file. A key is generated only
   * when nothing in the store is sealed yet and the command may write.
   */
  get masterKey(): MasterKey {
    this.#masterKey ??= MasterKey.load(this.config.masterKey, this.paths.masterKey, {
      generate: this.#access !== 'read' && this.#sealedWithMissingKey === '',
      sealedData: this.#sealedWithMissingKey,
    });
    return this.#masterKey;
  }

  /** What encrypted storage seals new files with (`storage.encryption.cipher`, 'auto' resolved once). */
  get storageCipher(): CipherChoice {
    this.#storageCipher ??= chooseCipher(this.config.storage.encryption.cipher);
    return this.#storageCipher;
  }

  /** The keys wrapping stored files' data keys (encrypted storage): derived from the master key. */
  get storageKeys(): StorageKeyRing {
    this.#storageKeys ??= new StorageKeyRing(storageKekOf(this.masterKey));
    return this.#storageKeys;
  }

  /**
   * A directory of homes as stored, without encryption (for maintenance such as `ferry storage rekey`): the
   * backend `storage.backend` names, rooted at `root` (the homes directory, or a user's own home).
   */
  storedTree(root: string): Fs {
    const storage = this.config.storage;
    switch (storage.backend) {
      case 'local':
        return new LocalFs({ root, metadataCalls: storage.metadataCalls });
      case 's3':
        return s3Backend(this.#s3).s3HomeFs(storage, this.paths.homes).home({ homeDir: root });
    }
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
      this.store.defenderLists,
    );
    return this.#defender;
  }

  /**
   * The LDAP/AD password source (`ldap.url`), one per process so its short cache is shared by every listener;
   * undefined when no directory is configured.
   */
  get directory(): ExternalPasswordSource | undefined {
    this.#directory ??= { source: createDirectoryLogin(this.config.ldap, this.store.users, loggers.ldap) };
    return this.#directory.source;
  }

  get totp(): TotpService {
    return new TotpService(this.store.accounts, this.masterKey);
  }

  /** The same one-time codes for REST API administrator accounts (their own table: names may match a user's). */
  get adminTotp(): TotpService {
    return new TotpService(this.store.apiAdminTotp, this.masterKey, 'Ferry API');
  }

  get clientKeys(): ClientKeyManager {
    return new ClientKeyManager(this.store.clientKeys, this.masterKey);
  }

  get pgpKeys(): PgpKeyManager {
    return new PgpKeyManager(this.store.pgpKeys, this.masterKey);
  }

  get certificates(): CertificateManager {
    return new CertificateManager(this.store.certificates, this.masterKey);
  }

  /** Partners and transfer jobs; job runs write their audit records through `audit`. */
  get transfers(): TransferService {
    this.#transfers ??= new TransferService({
      store: this.store,
      masterKey: () => this.masterKey,
      clientKeyPair: (name) => this.clientKeys.keyPair(name),
      audit: (entry) => this.audit.append(entry),
      events: this.events,
      pgpKeys: pgpKeyMaterial(() => this.pgpKeys),
    });
    return this.#transfers;
  }

  /** Every administrative operation, for the CLI and later the API and console; each change an admin event. */
  get admin(): AdminServices {
    this.#admin ??= createAdminServices(this);
    return this.#admin;
  }

  static async create(config: FerryConfig, access: DataDirAccess = 'write'): Promise<AppContext> {
    const paths = dataPaths(config.dataDir);
    const s3 = await loadS3Backend(config);
    const store = await openStore(config, access);
    let sealed = '';
    if (config.masterKey === undefined && !existsSync(paths.masterKey)) {
      try {
        sealed = Object.entries(await store.countSealedSecrets())
          .filter(([, n]) => n > 0)
          .map(([kind, n]) => `${n} ${kind}`)
          .join(', ');
      } catch (err) {
        await store.close();
        throw err;
      }
    }
    return new AppContext(config, store, access, sealed, s3);
  }

  /**
   * Aborts, now and then every hour or so, S3 multipart uploads nobody continued for storage.abandonedUploadHours
   * (their node died and no client came back); undefined when the storage keeps none. Returns the stop.
   */
  startAbandonedUploadSweeper(): (() => void) | undefined {
    const sweep = this.#sweepAbandoned;
    const storage = this.config.storage;
    if (!sweep || storage.backend !== 's3') return undefined;
    const ageMs = storage.abandonedUploadHours * 3_600_000;
    const log = loggers.core;
    const run = () => {
      sweep(new Date(Date.now() - ageMs)).then(
        ({ aborted, failed }) => {
          if (aborted > 0) log.info({ aborted }, 'abandoned S3 uploads aborted');
          for (const f of failed)
            log.warn({ key: f.key, reason: f.reason }, 'abandoned S3 upload not aborted');
        },
        (err: unknown) => log.error({ err }, 'abandoned S3 upload sweep failed'),
      );
    };
    run();
    const timer = setInterval(run, Math.min(ageMs / 2, 3_600_000));
    timer.unref();
    return () => clearInterval(timer);
  }

  async dispose(): Promise<void> {
    try {
      await this.audit.close();
    } finally {
      await this.store.close();
    }
  }
}
