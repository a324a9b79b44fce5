// Ferry's configuration: read from defaults, a JSON file, FERRY_* variables and CLI flags, then validated and frozen.
import { z } from 'zod';

export const ALGORITHM_PROFILES = ['modern', 'compat'] as const;

const port = z.coerce.number().int().min(0).max(65535);
const positiveSeconds = z.coerce.number().int().min(1).max(86_400);

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    listen: z.string().min(1).default('0.0.0.0'),
    sftpPort: port.default(2222),
    algorithms: z.enum(ALGORITHM_PROFILES).default('modern'),
    loginGraceTime: positiveSeconds.default(60),
    maxAuthTries: z.coerce.number().int().min(1).max(100).default(6),
    uploadMode: z.enum(['atomic', 'direct']).default('atomic'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type FerryConfig = Readonly<z.infer<typeof configSchema>>;
export type ConfigKey = keyof FerryConfig;

/** Each key's FERRY_* environment variable, e.g. sftpPort → FERRY_SFTP_PORT. */
export function envNameOf(key: string): string {
  return `FERRY_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export const CONFIG_KEYS = Object.keys(configSchema.shape) as ConfigKey[];

/** One line per key for --help texts and the README's reference. */
export const CONFIG_DESCRIPTIONS: Readonly<Record<ConfigKey, string>> = {
  dataDir: 'data directory: ferry.db, host-keys/, homes/<user>/',
  listen: 'address the SSH/SFTP server listens on',
  sftpPort: 'SSH/SFTP port (0 picks a free port)',
  algorithms: "SSH algorithm profile: 'modern' or 'compat' (adds ECDH and the ECDSA host key for old clients)",
  loginGraceTime: 'seconds a connection may take to authenticate',
  maxAuthTries: 'failed authentication attempts allowed per connection',
  uploadMode: "'atomic' (write to a hidden temp name, rename on close) or 'direct'",
  logLevel: 'log level of the JSON log on stderr',
};
