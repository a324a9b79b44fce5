// The config's sections and value types (ports, durations, CIDR lists, storage, HTTP, FTPS, SMTP, LDAP...), which
// the whole config (schema.ts) is built from.
import { isIP } from 'node:net';
import { z } from 'zod';
import { Secret } from '../util/secret.js';

export const ALGORITHM_PROFILES = ['modern', 'compat'] as const;

export const port = z.coerce.number().int().min(0).max(65535);
export const positiveSeconds = z.coerce.number().int().min(1).max(86_400);
export const seconds = (max: number) => z.coerce.number().int().min(0).max(max);
export const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const GIB = 1024 * 1024 * 1024;
export const TIB = 1024 * GIB;

/** Booleans from JSON, or from the strings an environment variable holds. */
export const flag = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes' || v === 'on');

/** A comma-separated string or an array of CIDRs (or single addresses), each checked. */
export const cidrList = z
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
export const storeUrl = z
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
export const smtpSchema = z
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
export const rulesSchema = z
  .object({
    /** Command actions run programs as the server's user: off unless the operator turns them on. */
    commands: flag.default(false),
    /**
     * Longest a delivery waits for the uploads and downloads of its process to pause before its action runs
     * (automation/held-deliveries.ts); 0: actions run beside transfers at once.
     */
    yieldToTransfersSeconds: seconds(600).default(5),
    /**
     * Days a finished delivery (succeeded or dead) and its attempts are kept for `ferry rules deliveries` and
     * `redeliver`; swept hourly (automation/delivery-retention.ts). 0: kept for ever.
     */
    deliveryRetentionDays: z.coerce.number().int().min(0).max(36_500).default(30),
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
export const storageSchema = z.preprocess(
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
export const httpSchema = z
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
export const ftpsSchema = z
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
export const passwordPolicySchema = z
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
export const ldapSchema = z
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
