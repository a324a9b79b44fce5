// X.509 certificates in the Key Manager (the HTTP API's TLS): generate, import, remove are admin events; the
// private key goes in (import) but never comes out, except to the listener that serves it.
import { z } from 'zod';
import { FerryError } from '../errors.js';
import type { CertificateRecord } from '../store/types.js';
import { Secret } from '../util/secret.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

const name = z.string().min(1).max(64);

export const certificateGenerateSchema = z.object({
  name,
  cn: z.string().min(1).max(64).optional(),
  san: z.array(z.string().min(1).max(300)).max(100).optional(),
  days: z.number().int().min(1).max(36_500).optional(),
  type: z.enum(['ecdsa', 'rsa']).default('ecdsa'),
  bits: z.number().int().min(2048).max(8192).optional(),
});
export type CertificateGenerateInput = z.input<typeof certificateGenerateSchema>;

export const certificateImportSchema = z.object({
  name,
  /** PEM chain, leaf first. */
  chain: z
    .string()
    .min(1)
    .max(256 * 1024),
  key: z.instanceof(Secret<string>),
});
export type CertificateImportInput = z.input<typeof certificateImportSchema>;

/** What the trail records of a certificate (never the key). */
const detail = (c: CertificateRecord) => ({
  fingerprint: c.fingerprint,
  subject: c.subject,
  notAfter: c.notAfter.toISOString(),
});

export class CertificateAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  list(): Promise<CertificateRecord[]> {
    return this.#deps.certificates.list();
  }

  get(certName: string): Promise<CertificateRecord> {
    return this.#deps.certificates.get(certName);
  }

  /** The public chain (PEM, leaf first): what a client trusts (`curl --cacert`). */
  async exportChain(certName: string): Promise<string> {
    return (await this.get(certName)).chainPem;
  }

  async generate(actor: Actor, input: CertificateGenerateInput): Promise<CertificateRecord> {
    checkActor(actor);
    const o = parseInput(certificateGenerateSchema, input);
    const cert = await this.#deps.certificates.generate(o.name, o);
    await this.#record.record(actor, 'keys.x509.generate', o.name, {
      ...detail(cert),
      algorithm: cert.algorithm,
    });
    return cert;
  }

  async import(actor: Actor, input: CertificateImportInput): Promise<CertificateRecord> {
    checkActor(actor);
    const o = parseInput(certificateImportSchema, input);
    const cert = await this.#deps.certificates.import(o.name, o.chain, o.key);
    await this.#record.record(actor, 'keys.x509.import', o.name, { ...detail(cert), chain: cert.issuer });
    return cert;
  }

  /** Refuses the certificate this configuration serves the API with: the next start would fail without it. */
  async remove(actor: Actor, certName: string): Promise<void> {
    checkActor(actor);
    if (this.#deps.config.http.tlsKeyName === certName)
      throw new FerryError(
        'ERR_INVALID_ARGUMENT',
        `certificate ${certName} is the HTTP API's (http.tlsKeyName): configure another first`,
      );
    if (this.#deps.config.ftps.tlsKeyName === certName)
      throw new FerryError(
        'ERR_INVALID_ARGUMENT',
        `certificate ${certName} is the FTPS listeners' (ftps.tlsKeyName): configure another first`,
      );
    await this.#deps.certificates.remove(certName);
    await this.#record.record(actor, 'keys.x509.remove', certName);
  }

  /** The chain and key for the serving process' own TLS listener (not an export: nothing leaves the process). */
  tlsMaterial(certName: string) {
    return this.#deps.certificates.tlsMaterial(certName);
  }
}
