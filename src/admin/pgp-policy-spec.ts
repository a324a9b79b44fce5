// Parsing `--pgp '/in=encrypt:KEY;sign:KEY'` specs into per-folder OpenPGP policies (the spelling is in util/pgp-policy.ts).
import posix from 'node:path/posix';
import { InvalidArgumentError } from '../errors.js';
import {
  DEFAULT_QUARANTINE,
  type PgpDecryptPolicy,
  type PgpEncryptPolicy,
  type PgpFolderPolicy,
  type PgpPolicies,
} from '../util/pgp-policy.js';

function keyList(value: string, what: string): string[] {
  const keys = value
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  if (keys.length === 0) throw new InvalidArgumentError(`--pgp: ${what} needs at least one key`);
  return keys;
}

function folderOf(raw: string): string {
  if (!raw.startsWith('/'))
    throw new InvalidArgumentError(`--pgp: the folder must start with '/', not '${raw.slice(0, 80)}'`);
  const folder = posix.normalize(raw).replace(/(.)\/+$/, '$1');
  if (folder.split('/').includes('..'))
    throw new InvalidArgumentError('--pgp: the folder may not contain ..');
  return folder;
}

/**
 * Parses one `--pgp` spec: `/FOLDER=encrypt:KEY[,KEY…][;sign:KEY][;armor][;suffix:.gpg|none]`,
 * `/FOLDER=decrypt[:KEY,…][;verify:KEY[,KEY…]][;quarantine:/DIR]`, or `/FOLDER=none` (returns null: remove).
 */
export function parsePgpSpec(spec: string): { folder: string; policy: PgpFolderPolicy | null } {
  const eq = spec.indexOf('=');
  if (eq < 0)
    throw new InvalidArgumentError(
      `--pgp: expected /FOLDER=encrypt:KEY or /FOLDER=decrypt, not '${spec.slice(0, 80)}'`,
    );
  const folder = folderOf(spec.slice(0, eq).trim());
  const parts = spec
    .slice(eq + 1)
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const [head, ...options] = parts;
  if (head === 'none' && options.length === 0) return { folder, policy: null };
  const [mode, headKeys] = splitOption(head ?? '');
  const seen = new Set<string>();
  const option = (part: string): [string, string | undefined] => {
    const [name, value] = splitOption(part);
    if (seen.has(name)) throw new InvalidArgumentError(`--pgp: '${name}' given twice`);
    seen.add(name);
    return [name, value];
  };
  const needValue = (name: string, value: string | undefined): string => {
    if (value === undefined || value === '')
      throw new InvalidArgumentError(`--pgp: '${name}' needs a value (${name}:...)`);
    return value;
  };
  if (mode === 'encrypt') {
    const policy: { -readonly [K in keyof PgpEncryptPolicy]: PgpEncryptPolicy[K] } = {
      mode,
      recipients: keyList(headKeys ?? '', 'encrypt'),
    };
    for (const part of options) {
      const [name, value] = option(part);
      if (name === 'sign') policy.signWith = keyList(needValue(name, value), 'sign')[0];
      else if (name === 'armor' && value === undefined) policy.armor = true;
      else if (name === 'suffix') policy.suffix = suffixOf(needValue(name, value));
      else if (name === 'decrypt-on-download' && value === undefined) policy.decryptOnDownload = true;
      else
        throw new InvalidArgumentError(
          `--pgp: unknown encrypt option '${part.slice(0, 40)}' (sign:KEY, armor, suffix:.EXT|none, decrypt-on-download)`,
        );
    }
    return { folder, policy };
  }
  if (mode === 'decrypt') {
    const policy: { -readonly [K in keyof PgpDecryptPolicy]: PgpDecryptPolicy[K] } = { mode };
    if (headKeys !== undefined) policy.decryptWith = keyList(headKeys, 'decrypt');
    for (const part of options) {
      const [name, value] = option(part);
      if (name === 'verify') policy.verifyWith = keyList(needValue(name, value), 'verify');
      else if (name === 'quarantine') policy.quarantine = folderOf(needValue(name, value));
      else
        throw new InvalidArgumentError(
          `--pgp: unknown decrypt option '${part.slice(0, 40)}' (verify:KEY, quarantine:/DIR)`,
        );
    }
    if ((policy.quarantine ?? DEFAULT_QUARANTINE) === folder)
      throw new InvalidArgumentError('--pgp: the quarantine folder must differ from the decrypt folder');
    return { folder, policy };
  }
  throw new InvalidArgumentError(
    `--pgp: expected encrypt:KEY, decrypt or none after '=', not '${(head ?? '').slice(0, 40)}'`,
  );
}

function splitOption(part: string): [string, string | undefined] {
  const colon = part.indexOf(':');
  return colon < 0 ? [part, undefined] : [part.slice(0, colon).trim(), part.slice(colon + 1).trim()];
}

function suffixOf(value: string): string {
  if (value === 'none') return '';
  if (!/^\.[A-Za-z0-9._-]{1,16}$/.test(value))
    throw new InvalidArgumentError(
      `--pgp: suffix must look like .pgp (or none), not '${value.slice(0, 40)}'`,
    );
  return value;
}

/** What resolving key references needs: the key manager's `resolve` (name, fingerprint or key id → key). */
export interface PgpKeyResolver {
  resolve(ref: string): Promise<{ name: string; fingerprint: string; privateSealed: string | null }>;
  list(): Promise<readonly { privateSealed: string | null }[]>;
}

/**
 * Checks every key a policy names exists (and has its private half where Ferry signs or decrypts with it) and
 * stores it by fingerprint, so a key renamed or re-imported under another name still matches.
 */
export async function resolvePgpPolicy(
  keys: PgpKeyResolver,
  folder: string,
  policy: PgpFolderPolicy,
): Promise<PgpFolderPolicy> {
  const fingerprints = async (refs: readonly string[] | undefined, needPrivate: string | undefined) =>
    refs === undefined
      ? undefined
      : Promise.all(
          refs.map(async (ref) => {
            const key = await keys.resolve(ref);
            if (needPrivate && !key.privateSealed)
              throw new InvalidArgumentError(
                `--pgp ${folder}: key ${key.name} has no private half, so Ferry cannot ${needPrivate} with it`,
              );
            return key.fingerprint;
          }),
        );
  if (policy.mode === 'encrypt') {
    const recipients = (await fingerprints(policy.recipients, undefined)) ?? [];
    if (policy.decryptOnDownload) {
      const held = await Promise.all(
        policy.recipients.map(async (ref) => (await keys.resolve(ref)).privateSealed !== null),
      );
      if (!held.includes(true))
        throw new InvalidArgumentError(
          `--pgp ${folder}: decrypt-on-download needs Ferry to hold the private half of one of the recipients`,
        );
    }
    const signWith = (await fingerprints(policy.signWith ? [policy.signWith] : undefined, 'sign'))?.[0];
    return { ...policy, recipients: [...new Set(recipients)], ...(signWith ? { signWith } : {}) };
  }
  const decryptWith = await fingerprints(policy.decryptWith, 'decrypt');
  if (!decryptWith && !(await keys.list()).some((k) => k.privateSealed !== null))
    throw new InvalidArgumentError(
      `--pgp ${folder}: decrypting needs an OpenPGP key with a private half (ferry keys pgp generate or import one)`,
    );
  const verifyWith = await fingerprints(policy.verifyWith, undefined);
  return { ...policy, ...(decryptWith ? { decryptWith } : {}), ...(verifyWith ? { verifyWith } : {}) };
}

/** The policies after applying `specs` in order (each replaces or, with `none`, removes its folder's policy). */
export async function applyPgpSpecs(
  keys: PgpKeyResolver,
  current: PgpPolicies,
  specs: readonly string[],
): Promise<PgpPolicies> {
  const next: Record<string, PgpFolderPolicy> = { ...current };
  for (const spec of specs) {
    const { folder, policy } = parsePgpSpec(spec);
    if (policy === null) delete next[folder];
    else next[folder] = await resolvePgpPolicy(keys, folder, policy);
  }
  return next;
}
