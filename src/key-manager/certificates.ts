// X.509 certificates Ferry serves TLS with: generated self-signed for the host or imported as a PEM chain; the
// chain is stored as is, the private key sealed with the master key like every other private half.
import { hostname } from 'node:os';
import { FerryError, InvalidArgumentError } from '../errors.js';
import type { MasterKey } from '../keys/sealing.js';
import {
  type CertificateKeyType,
  generateCertificate,
  ipAddressBytes,
  type SubjectAltName,
} from '../keys/x509.js';
import { verifyChainAndKey } from '../keys/x509-chain.js';
import type { CertificateRecord, CertificateRepository } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { validateKeyName } from './client-keys.js';

const SEAL_LABEL = 'x509-key';
const MAX_DAYS = 36_500;
const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface CertificateGenerateOptions {
  /** Subject common name; default the host's name. */
  readonly cn?: string;
  /** `DNS:name` or `IP:address` entries; default the common name (as DNS, or IP when it is an address). */
  readonly san?: readonly string[];
  /** Validity in days (default 365). */
  readonly days?: number;
  readonly type?: CertificateKeyType;
  /** RSA modulus (2048-8192, default 3072). */
  readonly bits?: number;
}

/** `DNS:host` or `IP:127.0.0.1` (case-insensitive prefix) → a subjectAltName; one-line error otherwise. */
export function parseAltName(text: string): SubjectAltName {
  const m = /^(DNS|IP):(.+)$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`san '${text.slice(0, 80)}': write DNS:name or IP:address`);
  const value = m[2]!;
  if (m[1]!.toUpperCase() === 'IP') {
    if (!ipAddressBytes(value))
      throw new InvalidArgumentError(`san '${text.slice(0, 80)}': not an IP address`);
    return { type: 'ip', value };
  }
  if (value.length > 253 || !DNS_NAME.test(value))
    throw new InvalidArgumentError(`san '${text.slice(0, 80)}': not a DNS name`);
  return { type: 'dns', value };
}

function defaultAltName(cn: string): SubjectAltName {
  if (ipAddressBytes(cn)) return { type: 'ip', value: cn };
  if (DNS_NAME.test(cn)) return { type: 'dns', value: cn };
  throw new InvalidArgumentError(`cn '${cn.slice(0, 80)}' is not a host name: give --san DNS:…/IP:… as well`);
}

export class CertificateManager {
  constructor(
    private readonly repo: CertificateRepository,
    private readonly master: MasterKey,
  ) {}

  list(): Promise<CertificateRecord[]> {
    return this.repo.list();
  }

  async get(name: string): Promise<CertificateRecord> {
    const record = await this.repo.get(name);
    if (!record) throw new FerryError('ERR_NOT_FOUND', `no certificate named ${name}`);
    return record;
  }

  async #refuseDuplicate(name: string): Promise<void> {
    validateKeyName(name);
    if (await this.repo.get(name))
      throw new FerryError('ERR_ALREADY_EXISTS', `certificate ${name} already exists`);
  }

  async #store(name: string, chainText: string, keyText: string): Promise<CertificateRecord> {
    const verified = verifyChainAndKey(chainText, keyText);
    return this.repo.add({
      name,
      algorithm: verified.algorithm,
      subject: verified.subject,
      issuer: verified.issuer,
      altNames: verified.altNames,
      fingerprint: verified.fingerprint,
      notBefore: verified.notBefore,
      notAfter: verified.notAfter,
      chainPem: verified.chainPem,
      privateSealed: this.master.seal(Buffer.from(verified.keyPem), SEAL_LABEL),
    });
  }

  /** A self-signed server certificate for this host (ECDSA P-256 unless `type` is rsa). */
  async generate(name: string, o: CertificateGenerateOptions = {}): Promise<CertificateRecord> {
    await this.#refuseDuplicate(name);
    const cn = o.cn ?? hostname();
    if (cn.length === 0 || cn.length > 64 || /[\p{Cc}]/u.test(cn))
      throw new InvalidArgumentError('cn: 1-64 characters, no control characters');
    const days = o.days ?? 365;
    if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS)
      throw new InvalidArgumentError(`days: a whole number from 1 to ${MAX_DAYS}`);
    if (
      o.bits !== undefined &&
      (o.type !== 'rsa' || !Number.isInteger(o.bits) || o.bits < 2048 || o.bits > 8192)
    )
      throw new InvalidArgumentError('bits: only for rsa, 2048-8192');
    if ((o.san?.length ?? 0) > 100) throw new InvalidArgumentError('san: at most 100 names');
    const altNames = o.san && o.san.length > 0 ? o.san.map(parseAltName) : [defaultAltName(cn)];
    const made = generateCertificate({ cn, altNames, days, type: o.type ?? 'ecdsa', bits: o.bits });
    return this.#store(name, made.cert, made.key);
  }

  /** A PEM chain (leaf first) and the leaf's unencrypted private key; refused unless they make a valid pair. */
  async import(name: string, chainPem: string, keyPem: Secret<string>): Promise<CertificateRecord> {
    await this.#refuseDuplicate(name);
    return this.#store(name, chainPem, keyPem.reveal());
  }

  /** The chain and the unsealed key, for a TLS listener. */
  async tlsMaterial(name: string): Promise<{ cert: string; key: Secret<string>; fingerprint: string }> {
    const record = await this.get(name);
    return {
      cert: record.chainPem,
      key: new Secret(this.master.open(record.privateSealed, SEAL_LABEL).reveal().toString('utf8')),
      fingerprint: record.fingerprint,
    };
  }

  async remove(name: string): Promise<void> {
    if (!(await this.repo.remove(name)))
      throw new FerryError('ERR_NOT_FOUND', `no certificate named ${name}`);
  }
}
