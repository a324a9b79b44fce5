// Partners: remote SFTP and FTPS servers with sealed credentials and an identity (SSH host key, TLS certificate)
// pinned only after a person confirmed it.
import { FerryError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { exportPrivateKey, type SshKeyPair } from '../keys/private-keys.js';
import type { MasterKey } from '../keys/sealing.js';
import { type AlgorithmProfile, clientAcceptsHostKeyType } from '../ssh-algorithms.js';
import type { PartnerProtocol, PartnerRecord, PartnerRepository } from '../store/types.js';
import { Secret } from '../util/secret.js';
import {
  connectSftp,
  HostKeyRejectedError,
  type PresentedHostKey,
  type SftpConnection,
} from './connection.js';
import { connectFtpsPartner, fetchCertificate, isFtps, readCaFile, testFtps } from './ftps-partner.js';
import { ftpsLink, type PartnerLink, sftpLink } from './partner-link.js';

const SEAL_LABEL = 'partner-password';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PROTOCOLS: readonly PartnerProtocol[] = ['sftp', 'ftps', 'ftps-implicit'];
const DEFAULT_PORT: Readonly<Record<PartnerProtocol, number>> = { sftp: 22, ftps: 21, 'ftps-implicit': 990 };

function checkProtocol(protocol: string): PartnerProtocol {
  if (!(PROTOCOLS as readonly string[]).includes(protocol))
    throw new InvalidArgumentError(
      `--protocol must be sftp, ftps or ftps-implicit, not '${protocol.slice(0, 40)}'`,
    );
  return protocol as PartnerProtocol;
}

/** FTPS logs in with a password only, and a CA file only makes sense there. */
function checkLogin(
  protocol: PartnerProtocol,
  login: { hasPassword: boolean; hasKey: boolean; hasCaFile: boolean },
): void {
  if (protocol === 'sftp') {
    if (login.hasCaFile) throw new InvalidArgumentError('--ca-file is for FTPS partners');
    if (!login.hasPassword && !login.hasKey)
      throw new InvalidArgumentError('give a password (--password-stdin) or a client key (--client-key)');
    return;
  }
  if (login.hasKey) throw new InvalidArgumentError('FTPS partners log in with a password, not a client key');
  if (!login.hasPassword)
    throw new InvalidArgumentError('an FTPS partner needs a password (--password-stdin)');
}

export function validateName(kind: string, name: string): string {
  if (!NAME.test(name))
    throw new InvalidArgumentError(
      `invalid ${kind} name '${name.slice(0, 40)}': 1-64 letters, digits, '_', '.', '-'`,
    );
  return name;
}

export class HostKeyNotTrustedError extends FerryError {
  constructor(partner: string, ftps = false) {
    super(
      'ERR_PERMISSION_DENIED',
      ftps
        ? `partner ${partner} has no trusted TLS certificate; run: ferry partners trust ${partner} (or give it --ca-file)`
        : `partner ${partner} has no trusted host key; run: ferry partners trust ${partner}`,
    );
  }
}

/** The server presented another key than the pinned one: maybe a re-keyed server, maybe an attacker. */
export class HostKeyChangedError extends FerryError {
  readonly expected: string;
  readonly presented: string;
  constructor(partner: string, host: string, expected: string, presented: PresentedHostKey) {
    super(
      'ERR_PERMISSION_DENIED',
      [
        '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
        '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
        '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
        `The host key of partner ${partner} (${host}) is not the one trusted; nothing was transferred.`,
        `  trusted:   ${expected}`,
        `  presented: ${presented.sha256} (${presented.algorithm})`,
        'Someone could be intercepting the connection, or the server was re-keyed. Check with the partner,',
        `then re-trust: ferry partners trust ${partner} --fingerprint <verified SHA256>`,
      ].join('\n'),
    );
    this.expected = expected;
    this.presented = presented.sha256;
  }
}

/** The trusted key's type is one the partner's algorithm profile does not accept (an ECDSA key under 'modern'). */
export class PinnedKeyTypeRefusedError extends FerryError {
  constructor(partner: string, keyType: string, profile: AlgorithmProfile) {
    super(
      'ERR_INVALID_ARGUMENT',
      `partner ${partner}: its trusted host key is ${keyType}, which the '${profile}' algorithms do not accept; ${compatHint(partner)}, or trust another of its keys (ferry partners trust ${partner})`,
    );
  }
}

export interface NewPartnerInput {
  readonly name: string;
  /** Default 'sftp'. */
  readonly protocol?: string;
  /** FTPS: verify the certificate and host name against these CAs instead of pinning a fingerprint. */
  readonly tlsCaFile?: string;
  readonly host: string;
  readonly port?: number;
  readonly username: string;
  readonly password?: Secret<string>;
  readonly clientKey?: string;
  readonly renameUploads?: boolean;
  readonly readBack?: boolean;
  /** SSH algorithm profile (default 'modern'); 'compat' for servers with only NIST ECDH or an ECDSA host key. */
  readonly algorithms?: AlgorithmProfile;
}

/** Named in a failed negotiation that 'compat' would pass, and when a trusted key needs it. */
const compatHint = (partner: string) => `ferry partners set ${partner} --algorithms compat`;

export interface PartnerTestReport {
  /** The SSH host key, or the TLS certificate (algorithm 'x509'). */
  readonly hostKey: PresentedHostKey;
  /** The key exchange, or the TLS version. */
  readonly kex: string;
  readonly cipher: string;
  readonly mac: string;
  readonly serverBanner: string;
  readonly connectMs: number;
  readonly loginMs: number;
  /** Round trip of one SFTP request (realpath). */
  readonly requestMs: number;
  readonly home: string;
  readonly entries: number;
  /** SFTP extensions, or FTP FEAT keywords. */
  readonly extensions: readonly string[];
  /** Bytes per SFTP request (0 over FTPS: a stream). */
  readonly chunk: number;
  readonly protocol: 'sftp' | 'ftps';
  /** The server computes SHA-256 for verification (check-file, or FTP HASH). */
  readonly serverHash: boolean;
}

export interface PartnerManagerDeps {
  readonly repo: PartnerRepository;
  readonly masterKey: () => MasterKey;
  /** The decrypted client key pair from the Key Manager (ERR_NOT_FOUND when there is none). */
  readonly clientKeyPair: (name: string) => Promise<SshKeyPair>;
  readonly timeoutMs?: number;
}

export class PartnerManager {
  constructor(private readonly deps: PartnerManagerDeps) {}

  list(): Promise<PartnerRecord[]> {
    return this.deps.repo.list();
  }

  async get(name: string): Promise<PartnerRecord> {
    const partner = await this.deps.repo.get(name);
    if (!partner) throw new NotFoundError(`no partner named ${name}`);
    return partner;
  }

  async add(input: NewPartnerInput): Promise<PartnerRecord> {
    validateName('partner', input.name);
    const protocol = checkProtocol(input.protocol ?? 'sftp');
    const port = input.port ?? DEFAULT_PORT[protocol];
    if (!Number.isInteger(port) || port < 1 || port > 65_535)
      throw new InvalidArgumentError(`port must be 1-65535, got ${port}`);
    if (!input.host || /\s/.test(input.host)) throw new InvalidArgumentError('a host name is required');
    if (!input.username) throw new InvalidArgumentError('a user name is required');
    checkLogin(protocol, {
      hasPassword: input.password !== undefined,
      hasKey: input.clientKey !== undefined,
      hasCaFile: input.tlsCaFile !== undefined,
    });
    if (input.tlsCaFile !== undefined) await readCaFile(input.tlsCaFile);
    // Fails now, not at 3 a.m., when the key does not exist.
    if (input.clientKey) await this.deps.clientKeyPair(input.clientKey);
    return this.deps.repo.create({
      name: input.name,
      protocol,
      tlsCaFile: input.tlsCaFile ?? null,
      host: input.host,
      port,
      username: input.username,
      passwordSealed: input.password
        ? this.deps.masterKey().seal(Buffer.from(input.password.reveal(), 'utf8'), SEAL_LABEL)
        : null,
      clientKey: input.clientKey ?? null,
      hostKeyAlgorithm: null,
      hostKeySha256: null,
      renameUploads: input.renameUploads ?? true,
      readBack: input.readBack ?? false,
      algorithms: input.algorithms ?? 'modern',
    });
  }

  /**
   * Changes a partner's address, login or options. A new host, port or protocol forgets the pinned host key or
   * certificate (another server answers there): trust it again before the next run. A password of null removes
   * the stored one; a CA file of null goes back to a pinned certificate.
   */
  async update(
    name: string,
    patch: {
      readonly host?: string;
      readonly port?: number;
      readonly username?: string;
      readonly password?: Secret<string> | null;
      readonly clientKey?: string | null;
      readonly renameUploads?: boolean;
      readonly readBack?: boolean;
      readonly algorithms?: AlgorithmProfile;
      readonly protocol?: string;
      readonly tlsCaFile?: string | null;
    },
  ): Promise<PartnerRecord> {
    const partner = await this.get(name);
    const protocol = patch.protocol !== undefined ? checkProtocol(patch.protocol) : partner.protocol;
    if (patch.port !== undefined && (!Number.isInteger(patch.port) || patch.port < 1 || patch.port > 65_535))
      throw new InvalidArgumentError(`port must be 1-65535, got ${patch.port}`);
    if (patch.host !== undefined && (!patch.host || /\s/.test(patch.host)))
      throw new InvalidArgumentError('a host name is required');
    if (patch.username !== undefined && !patch.username)
      throw new InvalidArgumentError('a user name is required');
    if (patch.clientKey) await this.deps.clientKeyPair(patch.clientKey);
    const hasPassword =
      patch.password === undefined ? partner.passwordSealed !== null : patch.password !== null;
    const hasKey = patch.clientKey === undefined ? partner.clientKey !== null : patch.clientKey !== null;
    const tlsCaFile = patch.tlsCaFile === undefined ? partner.tlsCaFile : patch.tlsCaFile;
    checkLogin(protocol, { hasPassword, hasKey, hasCaFile: tlsCaFile !== null });
    if (patch.tlsCaFile) await readCaFile(patch.tlsCaFile);
    const moved =
      (patch.host !== undefined && patch.host !== partner.host) ||
      (patch.port !== undefined && patch.port !== partner.port) ||
      protocol !== partner.protocol;
    const updated = await this.deps.repo.update(name, {
      ...(patch.host !== undefined ? { host: patch.host } : {}),
      ...(patch.port !== undefined ? { port: patch.port } : {}),
      ...(patch.username !== undefined ? { username: patch.username } : {}),
      ...(patch.password !== undefined
        ? {
            passwordSealed: patch.password
              ? this.deps.masterKey().seal(Buffer.from(patch.password.reveal(), 'utf8'), SEAL_LABEL)
              : null,
          }
        : {}),
      ...(patch.clientKey !== undefined ? { clientKey: patch.clientKey } : {}),
      ...(patch.renameUploads !== undefined ? { renameUploads: patch.renameUploads } : {}),
      ...(patch.readBack !== undefined ? { readBack: patch.readBack } : {}),
      ...(patch.algorithms !== undefined ? { algorithms: patch.algorithms } : {}),
      ...(protocol !== partner.protocol ? { protocol } : {}),
      ...(patch.tlsCaFile !== undefined ? { tlsCaFile: patch.tlsCaFile } : {}),
      ...(moved ? { hostKeyAlgorithm: null, hostKeySha256: null } : {}),
    });
    if (!updated) throw new NotFoundError(`no partner named ${name}`);
    return updated;
  }

  async remove(name: string): Promise<void> {
    if (!(await this.deps.repo.remove(name))) throw new NotFoundError(`no partner named ${name}`);
  }

  /**
   * Connects only as far as the key exchange (the TLS handshake for FTPS) and returns the host key (the
   * certificate, algorithm 'x509') the server presents, without logging in.
   */
  async fetchHostKey(name: string): Promise<PresentedHostKey> {
    const partner = await this.get(name);
    if (isFtps(partner)) return fetchCertificate(partner, this.deps.timeoutMs);
    try {
      const conn = await connectSftp({
        host: partner.host,
        port: partner.port,
        username: partner.username,
        hostKey: () => false,
        timeoutMs: this.deps.timeoutMs,
        algorithms: partner.algorithms,
        compatHint: compatHint(partner.name),
        label: `partner ${partner.name}`,
      });
      await conn.close();
    } catch (err) {
      if (err instanceof HostKeyRejectedError) return err.presented;
      throw err;
    }
    throw new FerryError('ERR_PROTOCOL', 'the connection went on without a host key check');
  }

  /** Pins a host key; callers show it to a person (or compare it with a given fingerprint) first. */
  async pin(name: string, key: Pick<PresentedHostKey, 'algorithm' | 'sha256'>): Promise<PartnerRecord> {
    const updated = await this.deps.repo.update(name, {
      hostKeyAlgorithm: key.algorithm,
      hostKeySha256: key.sha256,
    });
    if (!updated) throw new NotFoundError(`no partner named ${name}`);
    return updated;
  }

  #password(partner: PartnerRecord): Secret<string> | undefined {
    return partner.passwordSealed
      ? new Secret(this.deps.masterKey().open(partner.passwordSealed, SEAL_LABEL).reveal().toString('utf8'))
      : undefined;
  }

  /** Logs in over the partner's protocol, for a job: refuses an unpinned partner and a changed identity. */
  async open(partnerOrName: PartnerRecord | string): Promise<PartnerLink> {
    const partner = typeof partnerOrName === 'string' ? await this.get(partnerOrName) : partnerOrName;
    if (!isFtps(partner)) return sftpLink(await this.connect(partner));
    return ftpsLink(await this.#connectFtps(partner));
  }

  #connectFtps(partner: PartnerRecord) {
    return connectFtpsPartner(
      partner,
      this.#password(partner),
      this.deps.timeoutMs,
      () => new HostKeyNotTrustedError(partner.name, true),
    );
  }

  /** Logs in over SFTP with the partner's credentials; refuses an unpinned partner and a changed host key. */
  async connect(partnerOrName: PartnerRecord | string): Promise<SftpConnection> {
    const partner = typeof partnerOrName === 'string' ? await this.get(partnerOrName) : partnerOrName;
    if (isFtps(partner))
      throw new InvalidArgumentError(`partner ${partner.name} is an FTPS partner, not an SFTP one`);
    const pinned = partner.hostKeySha256;
    if (!pinned) throw new HostKeyNotTrustedError(partner.name);
    // Asking for other key types would only get a key that is not the pinned one: a false "host key changed".
    if (partner.hostKeyAlgorithm && !clientAcceptsHostKeyType(partner.algorithms, partner.hostKeyAlgorithm))
      throw new PinnedKeyTypeRefusedError(partner.name, partner.hostKeyAlgorithm, partner.algorithms);
    let changed: HostKeyChangedError | undefined;
    const password = this.#password(partner);
    const privateKey = partner.clientKey
      ? new Secret(exportPrivateKey(await this.deps.clientKeyPair(partner.clientKey), 'openssh'))
      : undefined;
    try {
      return await connectSftp({
        host: partner.host,
        port: partner.port,
        username: partner.username,
        password,
        privateKey,
        preferHostKeyType: partner.hostKeyAlgorithm,
        algorithms: partner.algorithms,
        compatHint: compatHint(partner.name),
        label: `partner ${partner.name}`,
        timeoutMs: this.deps.timeoutMs,
        hostKey: (key) => {
          if (key.sha256 === pinned) return true;
          changed = new HostKeyChangedError(partner.name, `${partner.host}:${partner.port}`, pinned, key);
          return false;
        },
      });
    } catch (err) {
      throw changed ?? err;
    }
  }

  /** Connects, lists the home directory and reports algorithms and latency. */
  async test(name: string): Promise<PartnerTestReport> {
    const partner = await this.get(name);
    if (isFtps(partner)) return testFtps(await this.#connectFtps(partner));
    const conn = await this.connect(partner);
    try {
      const t = performance.now();
      const home = await conn.sftp.realpath('.');
      const requestMs = performance.now() - t;
      const entries = await conn.sftp.list(home);
      return {
        hostKey: conn.hostKey,
        kex: conn.algorithms.kex,
        cipher: conn.algorithms.cs.cipher,
        mac: conn.algorithms.cs.mac,
        serverBanner: conn.serverBanner.trim(),
        connectMs: conn.timings.connectMs,
        loginMs: conn.timings.loginMs,
        requestMs,
        home,
        entries: entries.length,
        extensions: [...conn.sftp.extensions.keys()],
        chunk: conn.sftp.readChunk,
        protocol: 'sftp',
        serverHash: conn.sftp.canCheckFile,
      };
    } finally {
      await conn.close();
    }
  }
}
