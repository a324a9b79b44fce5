// One directory login against LDAP/AD: service bind, search the one entry, read groups, bind as that entry.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { Client, Entry } from 'ldapts';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { Secret } from '../../util/secret.js';
import { fillFilter, firstRdnValue } from './filter.js';

type LdapModule = typeof import('ldapts');
let loading: Promise<LdapModule> | undefined;

/**
 * ldapts, loaded at a directory's first login: most installations configure none, and loading it (~35 ms in a
 * fresh process, ~8 ms of `ferry users list`) was part of every command that opens the store and every worker's
 * start. A failed load is kept, as the package missing stays missing: each login then reports it, unavailable.
 */
function loadLdapts(): Promise<LdapModule> {
  loading ??= import('ldapts');
  return loading;
}

export interface DirectorySettings {
  readonly url: string;
  readonly startTls: boolean;
  readonly caFile?: string | undefined;
  readonly bindDn?: string | undefined;
  readonly bindPassword?: Secret<string> | undefined;
  readonly userBase: string;
  readonly userFilter: string;
  readonly usernameAttribute: string;
  readonly groupBase?: string | undefined;
  readonly groupFilter: string;
  readonly disabledAttribute?: string | undefined;
  /** Seconds for the connection and for each operation; the whole login is bounded by three times this. */
  readonly timeout: number;
}

export type DirectoryVerdict =
  | { readonly ok: true; readonly dn: string; readonly groups: readonly string[] }
  /** `unavailable`: the directory could not judge (down, slow, TLS or service account trouble): fail closed. */
  | { readonly ok: false; readonly reason: string; readonly unavailable?: boolean };

/** AD's userAccountControl ACCOUNTDISABLE bit. */
const UAC_ACCOUNT_DISABLE = 0x2;

/** Reads the service account's password file once at start; a missing file is a configuration error. */
export function readBindPasswordFile(path: string): Secret<string> {
  try {
    return new Secret(readFileSync(path, 'utf8').replace(/\r?\n$/, ''));
  } catch (err) {
    throw new ConfigError(`cannot read ldap.bindPasswordFile ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

/** Why the directory says this entry may not log in (AD's disabled bit, or the configured attribute), if it does. */
export function entryDisabled(entry: Entry, disabledAttribute: string | undefined): string | undefined {
  for (const uac of values(entry, 'userAccountControl')) {
    if (/^\d+$/.test(uac) && (Number(uac) & UAC_ACCOUNT_DISABLE) !== 0) return 'disabled in the directory';
  }
  if (disabledAttribute) {
    const set = values(entry, disabledAttribute).filter((v) => !/^(false|0|)$/i.test(v.trim()));
    if (set.length > 0) return `disabled in the directory (${disabledAttribute})`;
  }
  return undefined;
}

class DirectoryUnavailableError extends Error {}

export class LdapDirectory {
  readonly #settings: DirectorySettings;
  readonly #log: Logger;
  readonly #tls: ConnectionOptions;

  constructor(settings: DirectorySettings, log: Logger) {
    this.#settings = settings;
    this.#log = log;
    let ca: Buffer | undefined;
    if (settings.caFile) {
      try {
        ca = readFileSync(settings.caFile);
      } catch (err) {
        throw new ConfigError(`cannot read ldap.caFile ${settings.caFile}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    // Certificates are always verified (against caFile, else the system's CAs): no setting turns that off.
    // `host` is what the certificate must name (StartTLS upgrades a socket that carries no host of its own); SNI
    // only for names (RFC 6066 forbids addresses).
    const host = new URL(settings.url).hostname.replace(/^\[(.*)\]$/, '$1');
    this.#tls = {
      ...(ca ? { ca } : {}),
      host,
      ...(isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    };
  }

  /** Judges a name and password; never throws (a directory problem is a logged, `unavailable` refusal). */
  async verify(username: string, password: Secret<string>): Promise<DirectoryVerdict> {
    // An empty password would be an anonymous ("unauthenticated") bind that many servers accept: never bind it.
    if (password.reveal() === '') return { ok: false, reason: 'empty password' };
    const s = this.#settings;
    let client: Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const ldap = await loadLdapts();
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new DirectoryUnavailableError(`no answer within ${s.timeout * 3} s`)),
          s.timeout * 3000,
        );
      });
      client = new ldap.Client({
        url: s.url,
        connectTimeout: s.timeout * 1000,
        timeout: s.timeout * 1000,
        // TLS options make ldapts speak TLS from the first byte: only for ldaps:// (StartTLS gets them on upgrade).
        ...(s.url.startsWith('ldaps:') ? { tlsOptions: this.#tls } : {}),
      });
      return await Promise.race([this.#login(ldap, client, username, password), deadline]);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#log.error(
        { url: s.url, error: message },
        `LDAP directory unavailable (${message}); directory logins are refused until it answers`,
      );
      return { ok: false, reason: 'directory unavailable', unavailable: true };
    } finally {
      clearTimeout(timer);
      client?.unbind().catch(() => {});
    }
  }

  async #login(
    ldap: LdapModule,
    client: Client,
    username: string,
    password: Secret<string>,
  ): Promise<DirectoryVerdict> {
    const s = this.#settings;
    if (s.startTls) await client.startTLS(this.#tls);
    if (s.bindDn) {
      try {
        await client.bind(s.bindDn, s.bindPassword?.reveal() ?? '');
      } catch (err) {
        if (err instanceof ldap.InvalidCredentialsError)
          throw new DirectoryUnavailableError(`the service account ${s.bindDn} cannot bind: wrong password`);
        throw err;
      }
    }
    const filter = fillFilter(s.userFilter, { username });
    const found = await client
      .search(s.userBase, {
        scope: 'sub',
        filter,
        // Two are enough to know the name is ambiguous.
        sizeLimit: 2,
        attributes: [
          s.usernameAttribute,
          'memberOf',
          'userAccountControl',
          ...(s.disabledAttribute ? [s.disabledAttribute] : []),
        ],
      })
      .catch((err: unknown) => {
        // More than one match hits the size limit: as ambiguous as two entries.
        if (err instanceof ldap.SizeLimitExceededError) return { searchEntries: [{}, {}] as Entry[] };
        throw err;
      });
    const entries = found.searchEntries;
    if (entries.length === 0) return { ok: false, reason: 'unknown user' };
    if (entries.length > 1) return { ok: false, reason: 'user name matches several directory entries' };
    const entry = entries[0]!;
    // The filter may match case-insensitively or on another attribute: the login name must be the entry's own.
    if (!values(entry, s.usernameAttribute).includes(username))
      return { ok: false, reason: `user name differs from the directory's ${s.usernameAttribute}` };
    const disabled = entryDisabled(entry, s.disabledAttribute);
    if (disabled) return { ok: false, reason: disabled };
    const groups = new Set(values(entry, 'memberOf').map(firstRdnValue));
    if (s.groupBase) {
      const result = await client.search(s.groupBase, {
        scope: 'sub',
        filter: fillFilter(s.groupFilter, { dn: entry.dn, username }),
        attributes: ['cn'],
      });
      for (const g of result.searchEntries) groups.add(values(g, 'cn')[0] ?? firstRdnValue(g.dn));
    }
    try {
      await client.bind(entry.dn, password.reveal());
    } catch (err) {
      if (err instanceof ldap.InvalidCredentialsError) return { ok: false, reason: 'wrong password' };
      throw err;
    }
    return { ok: true, dn: entry.dn, groups: [...groups].sort() };
  }
}
