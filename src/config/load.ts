// Merges defaults < config file < FERRY_* environment < command-line flags, validates with zod, freezes.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import {
  CONFIG_KEYS,
  configSchema,
  ENV_ONLY_SETTINGS,
  envNameOf,
  type FerryConfig,
  NESTED_CONFIG_FIELDS,
  resolveStore,
} from './schema.js';

export interface ConfigSources {
  /** Path of a JSON config file (also FERRY_CONFIG). */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; undefined entries are ignored. */
  flags?: Readonly<Record<string, unknown>>;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Zod's wording where it does not tell an operator what to type ('received NaN', a bare 'Invalid input'). */
function describeIssue(issue: z.core.$ZodIssue, given: unknown): string {
  const shown = typeof given === 'string' ? `'${given}'` : JSON.stringify(given);
  if (issue.code === 'invalid_type' && (issue.expected === 'number' || issue.expected === 'int'))
    return `must be a whole number, got ${shown}`;
  // Only the on/off settings are unions a scalar can fail (the CIDR lists take any string, then check it).
  if (issue.code === 'invalid_union' && (typeof given === 'string' || typeof given === 'number'))
    return `must be true or false (also 1/0, yes/no, on/off), got ${shown}`;
  return issue.message;
}

export function loadConfig(sources: ConfigSources = {}): FerryConfig {
  const env = sources.env ?? process.env;
  const file = sources.file ?? env.FERRY_CONFIG;
  const merged: Record<string, unknown> = file ? { ...readConfigFile(file) } : {};
  for (const setting of ENV_ONLY_SETTINGS) {
    const [key = '', field = ''] = setting.split('.');
    if (asObject(merged[key])[field] !== undefined)
      throw new ConfigError(
        `invalid configuration: ${setting}: give it as ${envNameOf(setting)}, never in the config file ${file}`,
      );
  }
  const origin: Record<string, string> = Object.fromEntries(
    Object.keys(merged).map((k) => [k, `config file ${file}`]),
  );
  for (const key of CONFIG_KEYS) {
    const fields = NESTED_CONFIG_FIELDS[key];
    if (fields) {
      // An object key is set field by field from flat variables (FERRY_STORE_URL sets store.url).
      for (const field of fields) {
        const name = envNameOf(`${key}.${field}`);
        const value = env[name];
        if (value === undefined || value === '') continue;
        merged[key] = withField(key, merged[key], field, value);
        origin[key] = `environment ${name}`;
        origin[`${key}.${field}`] = `environment ${name}`;
      }
      continue;
    }
    const value = env[envNameOf(key)];
    if (value !== undefined && value !== '') {
      merged[key] = value;
      origin[key] = `environment ${envNameOf(key)}`;
    }
  }
  for (const [key, value] of Object.entries(sources.flags ?? {})) {
    if (value === undefined) continue;
    const nested = NESTED_CONFIG_FIELDS[key as keyof typeof NESTED_CONFIG_FIELDS] !== undefined;
    merged[key] = nested
      ? Object.entries(asObject(value)).reduce(
          (into, [field, v]) => withField(key, into, field, v),
          merged[key],
        )
      : value;
    origin[key] = 'command line';
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const key =
        issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(root)');
      const from =
        origin[issue.path.slice(0, 2).join('.')] ??
        origin[String(issue.path[0])] ??
        (issue.code === 'unrecognized_keys' ? `config file ${file}` : '');
      return `${key}: ${describeIssue(issue, valueAt(merged, issue.path))}${from ? ` (from ${from})` : ''}`;
    });
    throw new ConfigError(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n  ${problems.join('\n  ')}`,
    );
  }
  const dataDir = resolve(result.data.dataDir);
  return Object.freeze({ ...result.data, dataDir, store: resolveStore(result.data.store.url, dataDir) });
}

/**
 * Settings that are an on/off value or, in a file, an object with `enabled` and more fields: a flag or variable
 * turning one on sets `enabled` and keeps the file's other fields (`--storage-encryption` with the file's cipher).
 */
const ON_OFF_OBJECTS: ReadonlySet<string> = new Set(['storage.encryption']);

/** `into` (nested key `key`'s value so far) with `field` set to `value`. */
function withField(key: string, into: unknown, field: string, value: unknown): Record<string, unknown> {
  const object = asObject(into);
  const current = object[field];
  const keep =
    ON_OFF_OBJECTS.has(`${key}.${field}`) &&
    typeof current === 'object' &&
    current !== null &&
    !Array.isArray(current) &&
    (typeof value !== 'object' || value === null);
  return { ...object, [field]: keep ? { ...current, enabled: value } : value };
}

/** The value an issue is about: `merged.smtp.port` for the path ['smtp', 'port']. */
function valueAt(merged: Record<string, unknown>, path: readonly PropertyKey[]): unknown {
  let value: unknown = merged;
  for (const step of path) value = asObject(value)[String(step)];
  return value;
}

/** A nested key's value so far (a file could hold anything there; the schema reports what is wrong). */
function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * Validates the FERRY_* variables alone, the way the config file's values are, for every command (also those
 * that read no config): a bad value is one line naming the variable, never a stack trace later.
 */
export function checkEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  loadConfig({ env: { ...env, FERRY_CONFIG: undefined }, file: undefined });
}
