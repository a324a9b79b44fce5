// Ferry's configuration: read from defaults, a JSON file, FERRY_* variables and CLI flags, then validated and frozen.
import { resolve } from 'node:path';
import { z } from 'zod';
import { Secret } from '../util/secret.js';
import {
  ALGORITHM_PROFILES,
  cidrList,
  count,
  flag,
  ftpsSchema,
  GIB,
  httpSchema,
  ldapSchema,
  passwordPolicySchema,
  port,
  positiveSeconds,
  rulesSchema,
  seconds,
  smtpSchema,
  storageSchema,
  storeUrl,
  TIB,
} from './sections.js';

export { ALGORITHM_PROFILES, isCidr, isLoopbackHost } from './sections.js';

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    listen: z.string().min(1).default('0.0.0.0'),
    sftpPort: port.default(2222),
    algorithms: z.enum(ALGORITHM_PROFILES).default('modern'),
    loginGraceTime: positiveSeconds.default(60),
    maxAuthTries: z.coerce.number().int().min(1).max(100).default(6),
    uploadMode: z.enum(['atomic', 'direct']).default('atomic'),
    /** 0 means one per CPU core. */
    workers: z.coerce.number().int().min(0).max(256).default(0),
    /** How `workers` ≥ 2 run: worker processes under a primary, or threads of one process (src/cli/serve-threads.ts). */
    workerMode: z.enum(['processes', 'threads']).default('processes'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    logFile: z.string().min(1).optional(),
    logFileMaxBytes: z.coerce
      .number()
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .default(10 * 1024 * 1024),
    idleTimeout: seconds(604_800).default(3600),
    // 0 turns a limit off; otherwise at least 1 MiB, so a setting cannot make the server rekey without pause.
    rekeyLimit: z.coerce
      .number()
      .int()
      .min(0)
      .max(TIB)
      .refine((n) => n === 0 || n >= 1024 * 1024, {
        message: 'must be 0 (never) or at least 1048576 (1 MiB)',
      })
      .default(GIB),
    rekeyInterval: seconds(604_800).default(3600),
    moduliFile: z.string().min(1).default('/etc/ssh/moduli'),
    maxGroupExchangeBits: count(2048, 8192).default(4096),
    maxConnections: count(1, 1_000_000).default(2000),
    maxConnectionsPerAddress: count(1, 100_000).default(64),
    maxUnauthenticatedPerAddress: count(1, 10_000).default(10),
    maxSessionsPerUser: count(1, 100_000).default(64),
    maxChannelsPerConnection: count(1, 1000).default(10),
    maxOpenHandles: count(1, 65_536).default(256),
    maxOpenHandlesPerConnection: count(1, 65_536).default(512),
    maxOpenHandlesPerUser: count(1, 1_000_000).default(1024),
    maxBufferedBytesPerConnection: count(1024 * 1024, 1024 * 1024 * 1024).default(16 * 1024 * 1024),
    maxBufferedBytesPerUser: count(1024 * 1024, 16 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    maxInFlight: count(1, 4096).default(64),
    maxPacketSize: count(34_000, 4 * 1024 * 1024).default(262_144),
    maxPathLength: count(64, 65_536).default(4096),
    // 1 TiB: larger than any MFT file we have seen, small enough that nothing sparse is unbounded (see maxHashBytes).
    maxFileSize: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(TIB),
    maxHashBytes: z.coerce
      .number()
      .int()
      .min(1024 * 1024)
      .max(Number.MAX_SAFE_INTEGER)
      .default(64 * GIB),
    // Days without a login after which an account is refused as disabled (0: never); `users enable` restarts it.
    inactivityDisableDays: count(0, 36_500).default(0),
    // Server-wide caps over every session of every user, in bytes per second (0: none).
    serverUploadRate: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    serverDownloadRate: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    defenderEnabled: flag.default(true),
    defenderThreshold: count(1, 100_000).default(15),
    defenderWindow: positiveSeconds.default(300),
    defenderBanTime: positiveSeconds.default(600),
    defenderMaxBanTime: seconds(31_536_000).default(86_400),
    allowList: cidrList.default([]),
    denyList: cidrList.default([]),
    proxyProtocolFrom: cidrList.default([]),
    drainTimeout: seconds(86_400).default(30),
    lockoutThreshold: count(0, 1000).default(0),
    lockoutWindow: positiveSeconds.default(900),
    lockoutDuration: positiveSeconds.default(900),
    auditRetentionDays: z.coerce.number().int().min(0).max(36_500).default(0),
    hostKeyGracePeriod: z.coerce.number().int().min(0).max(3650).default(0),
    confinement: z.enum(['kernel', 'no-symlinks']).default('kernel'),
    landlock: flag.default(true),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*\$?$/i, 'must be a system user name')
      .optional(),
    auditOnFailure: z.enum(['refuse-uploads', 'continue']).default('refuse-uploads'),
    auditCheckpointInterval: z.coerce.number().int().min(0).max(1_000_000).default(1000),
    /** The store as a URL; unset means `sqlite:<dataDir>/ferry.db` (see `resolveStore`). */
    store: z.object({ url: storeUrl.optional() }).strict().default({}),
    storage: storageSchema.prefault({}),
    /** Cluster mode: this node's id in the store's node registry, and how often it says it is alive. */
    node: z
      .object({
        id: z
          .string()
          .regex(
            /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/,
            'must be 1-63 letters, digits, dots, colons, dashes or underscores, starting with a letter or digit',
          )
          .optional(),
        heartbeatSeconds: z.coerce.number().min(0.1).max(3600).default(5),
      })
      .strict()
      .default({ heartbeatSeconds: 5 }),
    diskSpaceLowPercent: z.coerce.number().min(0).max(99).default(5),
    diskSpaceCheckInterval: positiveSeconds.default(60),
    keyExpiryWarningDays: z.coerce.number().int().min(0).max(3650).default(30),
    smtp: smtpSchema.prefault({}),
    rules: rulesSchema.prefault({}),
    http: httpSchema.prefault({}),
    ftps: ftpsSchema.prefault({}),
    ldap: ldapSchema.prefault({}),
    passwordPolicy: passwordPolicySchema.prefault({}),
    // Wrapped at once so the key never reaches a log or an error message.
    masterKey: z
      .string()
      .min(1)
      .optional()
      .transform((v) => (v === undefined ? undefined : new Secret(v))),
  })
  .strict();

/**
 * The store driver and its location, resolved from `store.url`. The composition root (context.ts) switches on
 * `driver`; a new driver is a new member here and a new case there.
 */
export type StoreConfig =
  | { readonly driver: 'sqlite'; readonly path: string }
  | { readonly driver: 'postgres'; readonly url: Secret<string> };

export type StorageConfig = z.infer<typeof storageSchema>;

type ParsedConfig = z.infer<typeof configSchema>;
export type FerryConfig = Readonly<Omit<ParsedConfig, 'store'> & { readonly store: StoreConfig }>;
export type ConfigKey = keyof ParsedConfig;

/** `store.url` as a driver and location; `sqlite:` paths resolve against `cwd`, no URL means the data dir's. */
export function resolveStore(url: string | undefined, dataDir: string, cwd = process.cwd()): StoreConfig {
  if (url === undefined) return { driver: 'sqlite', path: resolve(dataDir, 'ferry.db') };
  if (url.startsWith('sqlite:')) {
    // sqlite:/abs/path, sqlite:rel/path and sqlite:///abs/path all name a file.
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return { driver: 'sqlite', path: resolve(cwd, path) };
  }
  return { driver: 'postgres', url: new Secret(url) };
}

/** Each key's FERRY_* environment variable, e.g. sftpPort → FERRY_SFTP_PORT, store.url → FERRY_STORE_URL. */
export function envNameOf(key: string): string {
  return `FERRY_${key
    .replace(/\./g, '_')
    .replace(/[A-Z]/g, (c) => `_${c}`)
    .toUpperCase()}`;
}

export const CONFIG_KEYS = Object.keys(configSchema.shape) as ConfigKey[];

/**
 * Keys whose value is an object, set field by field: `store.url` from FERRY_STORE_URL (or the file's
 * `"store": {"url": …}`), `storage.backend` from FERRY_STORAGE_BACKEND, `storage.encryption` from FERRY_STORAGE_ENCRYPTION.
 */
export const NESTED_CONFIG_FIELDS: Readonly<Partial<Record<ConfigKey, readonly string[]>>> = {
  store: ['url'],
  storage: [
    'backend',
    'encryption',
    'bucket',
    'prefix',
    'endpoint',
    'region',
    'forcePathStyle',
    'abandonedUploadHours',
    'metadataCalls',
  ],
  node: ['id', 'heartbeatSeconds'],
  smtp: ['host', 'port', 'from', 'secure', 'starttls', 'user', 'password'],
  rules: ['commands', 'yieldToTransfersSeconds', 'deliveryRetentionDays'],
  http: ['listen', 'allowInsecure', 'tlsCert', 'tlsKey', 'tlsKeyName'],
  passwordPolicy: ['minLength', 'minClasses', 'minEntropyBits', 'history', 'maxAgeDays'],
  ftps: ['port', 'implicitPort', 'passivePorts', 'passiveAddress', 'tlsCert', 'tlsKey', 'tlsKeyName'],
  ldap: [
    'url',
    'startTls',
    'caFile',
    'bindDn',
    'bindPasswordFile',
    'bindPassword',
    'userBase',
    'userFilter',
    'usernameAttribute',
    'groupBase',
    'groupFilter',
    'groupMap',
    'templateUser',
    'homeTemplate',
    'requireGroup',
    'disabledAttribute',
    'cacheTtl',
    'timeout',
  ],
};

/** Secrets that are only read from the environment, never from a config file. */
export const ENV_ONLY_SETTINGS: readonly string[] = ['smtp.password', 'ldap.bindPassword'];

/** Every setting as an operator names it: plain keys, and `key.field` for the nested ones. */
export const CONFIG_SETTINGS: readonly string[] = CONFIG_KEYS.flatMap((key) =>
  (NESTED_CONFIG_FIELDS[key] ?? [undefined]).map((field) => (field ? `${key}.${field}` : key)),
);

/**
 * The settings worth a flag of `ferry serve`: the one table the command's options, its --help and the README's
 * reference are made from (a test checks the README against it).
 */
export const SERVE_FLAGS: readonly {
  readonly setting: string;
  readonly flag: string;
  /** The option's argument ('' for an on/off flag). */
  readonly arg: string;
}[] = [
  { setting: 'dataDir', flag: '--data-dir', arg: '<dir>' },
  { setting: 'listen', flag: '--listen', arg: '<addr>' },
  { setting: 'sftpPort', flag: '--sftp-port', arg: '<port>' },
  { setting: 'http.listen', flag: '--http-listen', arg: '<host:port>' },
  { setting: 'ftps.port', flag: '--ftps-port', arg: '<port>' },
  { setting: 'ftps.implicitPort', flag: '--ftps-implicit-port', arg: '<port>' },
  { setting: 'ftps.passivePorts', flag: '--ftps-passive-ports', arg: '<low-high>' },
  { setting: 'ftps.passiveAddress', flag: '--ftps-passive-address', arg: '<ipv4>' },
  { setting: 'ftps.tlsKeyName', flag: '--ftps-tls-key-name', arg: '<name>' },
  { setting: 'algorithms', flag: '--algorithms', arg: '<profile>' },
  { setting: 'workers', flag: '--workers', arg: '<n>' },
  { setting: 'workerMode', flag: '--worker-mode', arg: '<mode>' },
  { setting: 'node.id', flag: '--node-id', arg: '<name>' },
  { setting: 'user', flag: '--user', arg: '<name>' },
  { setting: 'store.url', flag: '--store', arg: '<url>' },
  { setting: 'storage.backend', flag: '--storage', arg: '<backend>' },
  { setting: 'storage.encryption', flag: '--storage-encryption', arg: '' },
  { setting: 'uploadMode', flag: '--upload-mode', arg: '<mode>' },
  { setting: 'logLevel', flag: '--log-level', arg: '<level>' },
  { setting: 'logFile', flag: '--log-file', arg: '<file>' },
  { setting: 'proxyProtocolFrom', flag: '--proxy-protocol-from', arg: '<cidrs>' },
  { setting: 'drainTimeout', flag: '--drain-timeout', arg: '<seconds>' },
  { setting: 'maxConnections', flag: '--max-connections', arg: '<n>' },
  { setting: 'maxChannelsPerConnection', flag: '--max-channels-per-connection', arg: '<n>' },
  { setting: 'maxFileSize', flag: '--max-file-size', arg: '<bytes>' },
  { setting: 'diskSpaceLowPercent', flag: '--disk-space-low-percent', arg: '<percent>' },
];

/** Turns `{ 'store.url': v, listen: w }` into the nested shape the loader merges (`{ store: { url: v }, listen: w }`). */
export function nestSettings(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [setting, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const [key = setting, field] = setting.split('.');
    if (field === undefined) out[key] = value;
    else out[key] = { ...(out[key] as Record<string, unknown> | undefined), [field]: value };
  }
  return out;
}
