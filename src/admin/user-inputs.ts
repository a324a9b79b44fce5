// The inputs of the user admin service (admin/users.ts), checked the same way whichever surface calls it: CLI,
// REST API or web console.
import { posix } from 'node:path';
import { z } from 'zod';
import { AUTH_METHODS, PROTOCOLS } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { transferQuotaChangesSchema } from './transfer-quota-spec.js';

export const secretSchema = z.instanceof(Secret<string>);
const absoluteHome = z.string().refine((h) => posix.isAbsolute(h), { message: 'must be an absolute path' });
/** `/in=list,upload`: a directory (relative to the home) and its permissions. */
const permissionSpec = z.string().min(1);
const methods = z.array(z.enum(AUTH_METHODS));
export const SSH_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;

export const userAddSchema = z.object({
  name: z.string().min(1),
  password: secretSchema.optional(),
  /** authorized_keys or .pub texts, each holding one key or more. */
  publicKeys: z.array(z.string()).default([]),
  requiredMethods: methods.default([]),
  home: absoluteHome.optional(),
  /** Permission specs; '/' gets '*' unless one sets it. */
  permissions: z.array(permissionSpec).default([]),
  allowedSources: z.array(z.string()).default([]),
  /** The protocols the user may use; [] for all. */
  protocols: z.array(z.enum(PROTOCOLS)).default([]),
  /** The primary group and secondary groups (in precedence order): their defaults apply where the user sets none. */
  group: z.string().min(1).optional(),
  groups: z.array(z.string().min(1)).default([]),
});
export type UserAddInput = z.input<typeof userAddSchema>;

export const userSetSchema = z.object({
  name: z.string().min(1),
  /** Permission specs merged over the current ones (or over `{'/': ['*']}` with resetPermissions). */
  permissions: z.array(permissionSpec).default([]),
  resetPermissions: z.boolean().default(false),
  /** Methods that must all succeed; [] for any one method. */
  requiredMethods: methods.optional(),
  home: absoluteHome.optional(),
  /** Networks the user may log in from; [] for anywhere. */
  allowedSources: z.array(z.string()).optional(),
  /** The protocols the user may use; [] for all. */
  protocols: z.array(z.enum(PROTOCOLS)).optional(),
  /** OpenPGP folder policies (`/in=encrypt:KEY;sign:KEY`, `/drop=decrypt;verify:KEY`, `/in=none`), merged by folder. */
  pgp: z.array(z.string()).default([]),
  /** Disk quota in bytes and in files; 0 removes the limit. */
  quotaBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  quotaFiles: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Bytes per second each session may upload / download; 0 removes the limit. */
  uploadRate: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  downloadRate: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Upload / download / total bytes per UTC day or month; null removes the user's own limit of that kind. */
  transferQuotas: transferQuotaChangesSchema.optional(),
  /** true: the next password login must change the password (SSH asks for a new one); false: clears it. */
  mustChangePassword: z.boolean().optional(),
  /** Encrypted storage of the user's new files: on, off, or null for the server's setting (storage.encryption). */
  storageEncryption: z.boolean().nullable().optional(),
  /** The last day (UTC) the user may log in; null: never expires. */
  expires: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date YYYY-MM-DD' })
    .refine(
      (d) =>
        !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
      {
        message: 'must be a real calendar date',
      },
    )
    .nullable()
    .optional(),
  /** The primary group; null: none. */
  group: z.string().min(1).nullable().optional(),
  /** Secondary groups joined (after the others) and left. */
  addGroups: z.array(z.string().min(1)).default([]),
  removeGroups: z.array(z.string().min(1)).default([]),
  /** Folders whose own permission entry the user drops, so their groups' entry (or the default) applies. */
  inheritPermissions: z.array(z.string().min(1)).default([]),
});
export type UserSetInput = z.input<typeof userSetSchema>;

export const userKeyGenerateSchema = z.object({
  name: z.string().min(1),
  type: z.enum(SSH_KEY_TYPES).default('ed25519'),
  /** Where the private half goes (a file name, 'stdout', 'download'): recorded, the key never is. */
  destination: z.string().default('stdout'),
});
export type UserKeyGenerateInput = z.input<typeof userKeyGenerateSchema>;
