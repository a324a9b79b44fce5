// Ferry's configuration: read from defaults, a JSON file, FERRY_* variables and CLI flags, then validated and frozen.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { Secret } from '../util/secret.js';

export const ALGORITHM_PROFILES = ['modern', 'compat'] as const;

const port = z.coerce.number().int().min(0).max(65535);
const positiveSeconds = z.coerce.number().int().min(1).max(86_400);
const seconds = (max: number) => z.coerce.number().int().min(0).max(max);
const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const GIB = 1024 * 1024 * 1024;
const TIB = 1024 * GIB;

/** Booleans from JSON, or from the strings an environment variable holds. */
const flag = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes' || v === 'on');

/** A comma-separated string or an array of CIDRs (or single addresses), each checked. */
const cidrList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((c) => c.trim()).filter(Boolean))
  .refine((list) => list.every(isCidr), {
    message: 'must be CIDRs such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32',
  });

export function isCidr(text: string): boolean {
  const [address = '', prefix] = text.split('/');
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A store location: `sqlite:<path>` (relative to the working directory) or a PostgreSQL URL. */
const storeUrl = z
  .string()
  .min(1)
  .refine((url) => /^sqlite:./.test(url) || /^postgres(ql)?:\/\/./.test(url), {
    message: 'must be sqlite:<path> (e.g. sqlite:/var/lib/ferry/ferry.db) or postgres://user@host/db',
  });

/** A loopback host (name or address), the only kind plain SMTP may be sent to. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '::ffff:127.0.0.1';
}

/**
 * The SMTP server e-mail actions send through. TLS: `secure` is implicit TLS (port 465); otherwise STARTTLS,
 * `required` or `optional` (used when offered). Certificates are always verified. Mail leaves in plain text
 * only to a loopback host (a local MTA), so a password or a file name never crosses a network unencrypted.
 */
const smtpSchema = z
  .object({
    host: z.string().min(1).optional(),
    /** Default: 465 with `secure`, else 587. */
    port: port.optional(),
    from: z.string().min(3).optional(),
    secure: flag.default(false),
    starttls: z.enum(['required', 'optional']).default('optional'),
    user: z.string().min(1).optional(),
    // FERRY_SMTP_PASSWORD only (the loader refuses it from a file); wrapped at once, like masterKey.
    password: z
      .string()
      .min(1)
      .optional()
      .transform((v) => (v === undefined ? undefined : new Secret(v))),
  })
  .strict()
  .superRefine((smtp, ctx) => {
    if (smtp.host === undefined || smtp.secure || smtp.starttls === 'required') return;
    if (!isLoopbackHost(smtp.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `plain SMTP (no TLS) is allowed only to a loopback host (localhost, 127.0.0.1, ::1), not '${smtp.host}'; set smtp.secure (implicit TLS) or smtp.starttls 'required'`,
      });
    }
  });

/** Rules (automation): what the operator allows actions to do. */
const rulesSchema = z
  .object({
    /** Command actions run programs as the server's user: off unless the operator turns them on. */
    commands: flag.default(false),
  })
  .strict();

/**
 * Transparent encrypted storage of new files: on/off as a flag (FERRY_STORAGE_ENCRYPTION, --storage-encryption)
 * or, in a file, `{"enabled": true, "plaintextFiles": "read" | "refuse", "cipher": …}` (what to do with files
 * stored before; what new files' segments are sealed with: 'auto' picks by the CPU, vfs/encrypted/cipher-choice.ts).
 */
const storageEncryptionSchema = z
  .union([
    flag.transform((enabled) => ({ enabled, plaintextFiles: 'read' as const, cipher: 'auto' as const })),
    z
      .object({
        enabled: flag.default(false),
        plaintextFiles: z.enum(['read', 'refuse']).default('read'),
        cipher: z.enum(['auto', 'aes-256-gcm', 'chacha20-poly1305']).default('auto'),
      })
      .strict(),
  ])
  .prefault(false);

/**
 * Where users' homes live; one member per backend, chosen by `backend` (FERRY_STORAGE_BACKEND), 'local' when
 * only other fields are set (FERRY_STORAGE_ENCRYPTION alone).
 */
const storageSchema = z.preprocess(
  (v) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && !('backend' in v)
      ? { backend: 'local', ...v }
      : v,
  z.discriminatedUnion('backend', [
    z
      .object({
        backend: z.literal('local'),
        encryption: storageEncryptionSchema,
        /** Where stat, open, rename… of homes and folders run: see LocalFsOptions.metadataCalls. */
        metadataCalls: z.enum(['auto', 'inline', 'pool']).default('auto'),
      })
      .strict(),
    z
      .object({
        backend: z.literal('s3'),
        bucket: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 of a-z 0-9 . -)'),
        /** Key prefix of the homes; each home is `<prefix>/<user>`. */
        prefix: z
          .string()
          .default('')
          .refine((p) => !p.includes('\0') && !p.split('/').includes('..'), 'must not contain .. or NUL'),
        /** An S3-compatible endpoint URL (MinIO, Ceph…); AWS when unset. */
        endpoint: z
          .string()
          .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, 'must be an http(s) URL')
          .optional(),
        region: z.string().min(1).default('us-east-1'),
        forcePathStyle: flag.default(false),
        /** Multipart uploads nobody continued for this long (their node died) are aborted by the sweeper. */
        abandonedUploadHours: z.coerce.number().min(0.01).max(8760).default(24),
        encryption: storageEncryptionSchema,
      })
      .strict()
      .refine((s) => !s.encryption.enabled, {
        message:
          'encrypted storage needs random writes, which S3 has not: turn storage.encryption off with backend s3',
        path: ['encryption'],
      }),
  ]),
);
/** `host:port` (IPv6 as `[::1]:8080`); port 0 picks a free one. */
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, { message: 'port must be 0-65535' });

/**
 * The HTTP API (REST, OpenAPI, /metrics, health probes). Plain HTTP only on a loopback address: anywhere else
 * API keys would cross the network in clear, so TLS (a certificate and key file) or an explicit allowInsecure.
 */
const httpSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:8080'),
    allowInsecure: flag.default(false),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /** A certificate of the Key Manager (`ferry keys x509`) instead of the two files. */
    tlsKeyName: z.string().min(1).max(64).optional(),
  })
  .strict()
  .superRefine((http, ctx) => {
    if ((http.tlsCert === undefined) !== (http.tlsKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tlsKey'], message: 'http.tlsCert and http.tlsKey go together' });
    }
    if (http.tlsKeyName !== undefined && http.tlsCert !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tlsKeyName'],
        message: 'http.tlsKeyName or http.tlsCert/http.tlsKey, not both',
      });
    }
    const host = http.listen.slice(0, http.listen.lastIndexOf(':'));
    if (
      http.tlsCert === undefined &&
      http.tlsKeyName === undefined &&
      !http.allowInsecure &&
      !isLoopbackHost(host)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['listen'],
        message: `plain HTTP is allowed only on a loopback address, not '${host}'; set http.tlsCert and http.tlsKey (or http.tlsKeyName), or http.allowInsecure (behind a TLS proxy)`,
      });
    }
  });

/** FTPS (docs/FTPS.md): off unless a port is set; the certificate is generated in the data dir when none is given. */
const ftpsSchema = z
  .object({
    port: port.optional(),
    implicitPort: port.optional(),
    passivePorts: z
      .string()
      .regex(/^\d{1,5}-\d{1,5}$/, 'must be LOW-HIGH, e.g. 50000-50100')
      .refine((range) => {
        const [low, high] = range.split('-').map(Number) as [number, number];
        return low >= 1024 && low <= high && high <= 65535;
      }, 'must be LOW-HIGH with 1024 <= LOW <= HIGH <= 65535')
      .optional(),
    // The public IPv4 address a NAT forwards to this server: PASV replies announce it instead of the local one.
    passiveAddress: z
      .string()
      .refine((a) => isIP(a) === 4, 'must be an IPv4 address, e.g. 203.0.113.7')
      .optional(),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /** A certificate of the Key Manager (`ferry keys x509`), the same store the API's http.tlsKeyName uses. */
    tlsKeyName: z.string().min(1).max(64).optional(),
  })
  .strict()
  .superRefine((ftps, ctx) => {
    if ((ftps.tlsCert === undefined) !== (ftps.tlsKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tlsKey'], message: 'ftps.tlsCert and ftps.tlsKey go together' });
    }
    if (ftps.tlsKeyName !== undefined && ftps.tlsCert !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tlsKeyName'],
        message: 'ftps.tlsKeyName or ftps.tlsCert/ftps.tlsKey, not both',
      });
    }
  });

/** `ldapGroup=templateUser,...` from the environment, or an object in a file: directory group → Ferry template. */
const groupMap = z.union([z.string(), z.record(z.string(), z.string())]).transform((v, ctx) => {
  if (typeof v !== 'string') return v;
  const map: Record<string, string> = {};
  for (const pair of v
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) {
      ctx.addIssue({ code: 'custom', message: `'${pair}' must look like directoryGroup=templateUser` });
      return z.NEVER;
    }
    map[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return map;
});

/**
 * Rules for the passwords of SFTP/FTPS/web users that Ferry keeps (not the directory's): checked wherever one is
 * set (CLI, REST API, console, a change at login). Every rule is off at 0.
 */
const passwordPolicySchema = z
  .object({
    minLength: count(0, 1024).default(0),
    /** Character classes (lower case, upper case, digits, others) a password must mix. */
    minClasses: count(0, 4).default(0),
    /** Estimated bits of entropy a password must reach (auth/password-policy.ts: passwordEntropyBits). */
    minEntropyBits: count(0, 512).default(0),
    /** Earlier passwords (their argon2id hashes) a new one may not repeat. */
    history: count(0, 100).default(0),
    /** Days after which a password must be changed at the next login (0: never). */
    maxAgeDays: count(0, 36_500).default(0),
  })
  .strict();

/**
 * LDAP / Active Directory password logins (docs/LDAP.md): off unless `url` is set. The service account's
 * password comes from `bindPasswordFile` or FERRY_LDAP_BIND_PASSWORD, never from the config file itself.
 */
const ldapSchema = z
  .object({
    url: z
      .string()
      .regex(/^ldaps?:\/\/[^/\s?#]+\/?$/, 'must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]')
      .optional(),
    startTls: flag.default(false),
    caFile: z.string().min(1).optional(),
    bindDn: z.string().min(1).optional(),
    bindPasswordFile: z.string().min(1).optional(),
    bindPassword: z
      .string()
      .min(1)
      .optional()
      .transform((v) => (v === undefined ? undefined : new Secret(v))),
    userBase: z.string().min(1).optional(),
    userFilter: z
      .string()
      .refine((f) => f.includes('{username}'), 'must contain {username}, e.g. (uid={username})')
      .default('(uid={username})'),
    usernameAttribute: z
      .string()
      .regex(/^[A-Za-z][\w-]*$/, 'must be an attribute name')
      .default('uid'),
    groupBase: z.string().min(1).optional(),
    groupFilter: z.string().min(3).default('(|(member={dn})(uniqueMember={dn})(memberUid={username}))'),
    groupMap: groupMap.default({}),
    templateUser: z.string().min(1).optional(),
    homeTemplate: z
      .string()
      .refine(
        (h) => h.startsWith('/') && h.includes('%username%'),
        'must be an absolute path with %username%',
      )
      .optional(),
    requireGroup: flag.default(false),
    disabledAttribute: z
      .string()
      .regex(/^[A-Za-z][\w-]*$/, 'must be an attribute name')
      .optional(),
    cacheTtl: seconds(3600).default(60),
    timeout: z.coerce.number().min(0.1).max(120).default(5),
  })
  .strict()
  .superRefine((ldap, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (ldap.url === undefined) return;
    if (ldap.userBase === undefined)
      issue('userBase', 'is required with ldap.url (e.g. ou=people,dc=example,dc=com)');
    if (ldap.startTls && ldap.url.startsWith('ldaps:'))
      issue('startTls', 'is for ldap:// URLs (ldaps:// is TLS already)');
    if (ldap.bindPassword !== undefined && ldap.bindPasswordFile !== undefined)
      issue('bindPasswordFile', 'ldap.bindPasswordFile or FERRY_LDAP_BIND_PASSWORD, not both');
    const hasPassword = ldap.bindPassword !== undefined || ldap.bindPasswordFile !== undefined;
    if (ldap.bindDn !== undefined && !hasPassword)
      issue('bindDn', 'needs ldap.bindPasswordFile or FERRY_LDAP_BIND_PASSWORD');
    if (ldap.bindDn === undefined && hasPassword) issue('bindDn', 'is required with a bind password');
  });

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
  rules: ['commands'],
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

/** One line per key for --help texts and the README's reference. */
export const CONFIG_DESCRIPTIONS: Readonly<Record<ConfigKey, string>> = {
  dataDir:
    'data directory: ferry.db (users, sealed keys, audit), master.key, homes/<user>/ (serve creates it on first run, one level, mode 0700)',
  listen: 'address the SSH/SFTP server listens on',
  sftpPort: 'SSH/SFTP port (0 picks a free port)',
  algorithms:
    "SSH algorithm profile: 'modern' or 'compat' (adds ECDH and the ECDSA host key for old clients)",
  loginGraceTime: 'seconds a connection may take to authenticate',
  maxAuthTries: 'failed authentication attempts allowed per connection',
  workers: 'server processes sharing the port (0: one per CPU core; 1: a single process)',
  uploadMode: "'atomic' (write to a hidden temp name, rename on close) or 'direct'",
  logLevel: 'log level of the JSON log on stderr',
  logFile:
    'also append the JSON log to this file (its directory must be writable by the server; default: stderr only)',
  logFileMaxBytes: 'size at which logFile is rotated to logFile.1 … logFile.5 (0: never; default 10 MiB)',
  masterKey:
    'key sealing private keys at rest: 32 bytes as hex or base64 (default: <dataDir>/master.key, mode 0600, generated on first run, never over sealed data)',
  idleTimeout: 'seconds an authenticated connection may do nothing before it is closed (0: never)',
  rekeyLimit:
    'bytes in either direction after which the server starts a new key exchange (0: never; default 1 GiB)',
  rekeyInterval: 'seconds after which the server starts a new key exchange (0: never; default 3600)',
  moduliFile:
    'OpenSSH moduli file the diffie-hellman-group-exchange groups come from (RFC 3526 groups when it is unreadable)',
  maxGroupExchangeBits:
    'largest diffie-hellman-group-exchange group handed out, 2048-8192 bits (default 4096; a client whose minimum is larger fails key exchange; 8192 costs about a second of CPU per connection before login)',
  maxConnections: 'connections open at once, per server process',
  maxConnectionsPerAddress: 'connections open at once from one address, per server process',
  maxUnauthenticatedPerAddress: 'connections from one address still logging in (slow-loris guard)',
  maxSessionsPerUser:
    'logged-in SSH and FTPS connections of one user at once, counted on every process and node sharing the store',
  maxChannelsPerConnection:
    "session channels (SFTP, SCP) one connection may have open; more are refused (OpenSSH's MaxSessions)",
  maxOpenHandles: 'open files and directories per SFTP session',
  maxOpenHandlesPerConnection: 'open files and directories of all sessions of one connection',
  maxOpenHandlesPerUser: "open files and directories of all of one user's connections, per server process",
  maxBufferedBytesPerConnection: 'SFTP request and reply bytes held in memory for one connection',
  maxBufferedBytesPerUser:
    "SFTP request and reply bytes held in memory for all of one user's connections, per process",
  maxInFlight: 'SFTP requests one session may have in progress',
  maxPacketSize: 'largest SFTP packet accepted (bytes; limits@openssh.com advertises it)',
  maxPathLength: 'longest path accepted (bytes)',
  maxFileSize: 'largest file a user may write, resize or copy to, in bytes (default 1 TiB; 0: no limit)',
  maxHashBytes:
    'bytes one check-file request (or one file of an SSH hash command such as sha256sum) may hash; also the largest out-of-order upload hashed on close (default 64 GiB)',
  inactivityDisableDays:
    'days without a login after which an account is refused like a disabled one, until `ferry users enable` (0: never)',
  serverUploadRate:
    'bytes per second all uploads together may take, whatever their protocol, user or worker process (0: no limit)',
  serverDownloadRate:
    'bytes per second all downloads together may take, whatever their protocol, user or worker process (0: no limit)',
  defenderEnabled: 'ban addresses that keep failing (logins, protocol errors, limits)',
  defenderThreshold:
    'score within defenderWindow that gets an address banned (a failed login scores 1, a refused key query 0.25)',
  defenderWindow: 'seconds over which an address accumulates score',
  defenderBanTime: 'seconds of a first ban; each later ban of the address lasts twice as long',
  defenderMaxBanTime: 'longest ban, in seconds',
  allowList: 'CIDRs never banned or limited per address (comma-separated)',
  denyList: 'CIDRs always refused (comma-separated)',
  drainTimeout:
    'seconds open connections get to finish after SIGTERM (the listener closes, /readyz answers 503) before they are cut (0: stop at once)',
  proxyProtocolFrom:
    'CIDRs of load balancers whose SFTP connections must begin with a PROXY protocol v1/v2 header naming the client (comma-separated; others connect as plain SSH)',
  lockoutThreshold: 'failed logins within lockoutWindow that lock an account (0: off, the default)',
  lockoutWindow: 'seconds over which failed logins of an account are counted',
  lockoutDuration: 'seconds an account stays locked (ferry users unlock NAME ends it early)',
  auditRetentionDays: 'days audit records are kept (0: forever); pruned daily, the chain stays verifiable',
  hostKeyGracePeriod:
    'days a new host key is only announced before the server promotes it (0: promote by hand, ferry keys host promote ID)',
  confinement:
    "'kernel' (openat2 RESOLVE_IN_ROOT: every path and symlink stays in the home) or 'no-symlinks' (kernels before 5.6: every symlink refused)",
  landlock: 'restrict server processes to the data dir and the code with Landlock, where the kernel has it',
  user: 'system user to run as after binding the ports, when started as root (e.g. ferry)',
  auditOnFailure:
    "when the audit store cannot write: 'refuse-uploads' (default: no upload starts, is published or reports success without its record) or 'continue' (uploads go on; lost records are logged)",
  auditCheckpointInterval:
    'a signed audit checkpoint follows at most this many records; `ferry audit verify` requires it (0: not by count)',
  store:
    "the store as a URL: 'sqlite:<path>' (default sqlite:<dataDir>/ferry.db) or 'postgres://user@host:5432/db' (an existing database, over TCP)",
  node: "cluster mode: id (this node's name in the node registry, `ferry cluster status`; default the host name and SFTP port, e.g. 'web1:2222'; env FERRY_NODE_ID) and heartbeatSeconds (how often each serving process records it is alive, default 5; a node silent for 3 heartbeats is down)",
  storage:
    "where homes live: backend 'local' (the default; homes under <dataDir>/homes) or 's3' (bucket, prefix, endpoint, region, forcePathStyle, abandonedUploadHours; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS SDK's other sources; see docs/STORAGE.md)",
  diskSpaceLowPercent:
    'free space of the data dir, in percent, below which a disk-space-low event is emitted and logged (0: off)',
  diskSpaceCheckInterval: 'seconds between checks of the free space of the data dir',
  keyExpiryWarningDays:
    'days before an OpenPGP key in the Key Manager expires from which a daily key-expiring event is emitted (0: no check)',
  smtp: "SMTP server of e-mail actions: host, port (465 with secure, else 587), from, secure (implicit TLS), starttls 'required' or 'optional', user; the password only as FERRY_SMTP_PASSWORD; plain SMTP only to a loopback host",
  http: 'HTTP API (REST, OpenAPI, /metrics, /healthz, /readyz): listen HOST:PORT (default 127.0.0.1:8080, port 0 picks one), tlsCert and tlsKey (PEM files) or tlsKeyName (a certificate of `ferry keys x509`), allowInsecure (plain HTTP off loopback, behind a TLS proxy)',
  ftps: 'FTPS (FTP over TLS, docs/FTPS.md), off by default: port (explicit, AUTH TLS), implicitPort (TLS from the first byte), passivePorts LOW-HIGH, passiveAddress (the public IPv4 behind NAT), tlsCert and tlsKey (PEM files) or tlsKeyName (a certificate of `ferry keys x509`; default: a self-signed certificate generated in the data dir)',
  rules: 'rules: commands (true/false, default false) lets command actions run programs as the server user',
  passwordPolicy:
    "rules for users' passwords Ferry keeps (all off at 0): minLength, minClasses (of lower, upper, digit, other), minEntropyBits (estimated strength), history (earlier passwords not reused), maxAgeDays (a change is required at the next login)",
  ldap: 'LDAP / Active Directory password logins (docs/LDAP.md), off unless url is set: url, startTls, caFile, bindDn and bindPasswordFile (or FERRY_LDAP_BIND_PASSWORD), userBase, userFilter, groupBase, groupFilter, groupMap, templateUser, homeTemplate, requireGroup, disabledAttribute, cacheTtl, timeout',
};

/** Nested settings with a description of their own; the others are described by their key's line. */
export const NESTED_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'passwordPolicy.minLength': 'fewest characters a user password may have (0: no rule)',
  'passwordPolicy.minClasses':
    'character classes (lower case, upper case, digits, others) a user password must mix, 0-4 (0: no rule)',
  'passwordPolicy.minEntropyBits':
    'estimated bits of entropy a user password must reach: characters (a run of one repeated character counted once) × log2 of the classes used (26 lower, 26 upper, 10 digits, 33 others); 60 asks for e.g. 10 characters mixing all four classes or 13 lower-case letters (0: no rule)',
  'passwordPolicy.history':
    'earlier passwords of a user (their argon2id hashes) a new one may not repeat (0: no rule)',
  'passwordPolicy.maxAgeDays':
    'days after which a password must be changed at the next login: SSH asks for a new one (RFC 4252 password change), FTPS refuses (0: never)',
  'ftps.port': 'explicit FTPS port (AUTH TLS; 0 picks a free port; default: off)',
  'ftps.implicitPort': 'implicit FTPS port (TLS from the first byte, 990-style; default: off)',
  'ftps.passivePorts': 'passive data ports LOW-HIGH for FTPS (default: any free port)',
  'ftps.passiveAddress':
    'IPv4 address PASV replies announce, the public one behind NAT (default: the address the client connected to)',
  'ftps.tlsCert':
    'PEM certificate (chain) of the FTPS listeners (default: <dataDir>/ftps-cert.pem, self-signed, generated)',
  'ftps.tlsKey': 'PEM private key of ftps.tlsCert',
  'ftps.tlsKeyName':
    'name of an X.509 certificate in the Key Manager (`ferry keys x509 generate|import`) the FTPS listeners serve, instead of ftps.tlsCert/ftps.tlsKey (default: <dataDir>/ftps-cert.pem, self-signed, generated)',
  'http.tlsKeyName':
    'name of an X.509 certificate in the Key Manager (`ferry keys x509 generate|import`) the API is served with over HTTPS (TLS 1.2+), instead of http.tlsCert/http.tlsKey',
  'node.id':
    "this node's name in the node registry (`ferry cluster status`); two live nodes may not share one (default: the host name and SFTP port, e.g. 'web1:2222')",
  'node.heartbeatSeconds':
    'seconds between the heartbeats each serving process records (default 5); a node silent for 3 heartbeats is shown down',
  'storage.encryption':
    'store new files in the homes encrypted (AES-256-GCM containers, or ChaCha20-Poly1305 on CPUs without AES instructions; keys wrapped under the master key; see docs/ENCRYPTION.md; default: off)',
  'storage.metadataCalls':
    "backend 'local': where metadata calls (stat, open, rename, close) run: 'auto' (default: on the serving thread for local file systems such as ext4, XFS, Btrfs or tmpfs, on the thread pool for network and FUSE mounts), 'inline' or 'pool' (a slow local disk then cannot stall a process's other sessions)",
  'storage.bucket': "backend 's3': the bucket the homes live in",
  'storage.prefix':
    "backend 's3': key prefix of the homes (each home is <prefix>/<user>; default: the bucket's root)",
  'storage.endpoint': "backend 's3': an S3-compatible endpoint URL (default: AWS)",
  'storage.region': "backend 's3': the region (default us-east-1)",
  'storage.forcePathStyle':
    "backend 's3': path-style URLs (endpoint/bucket/key), which most S3-compatible servers need",
  'storage.abandonedUploadHours':
    "backend 's3': hours after which a multipart upload nobody continued (its node died, no client resumed it) is aborted and its parts freed (default 24)",
};
