// Partners (remote SFTP and FTPS servers for jobs): add, change, pin host keys or certificates, remove; credentials
// never in an event.
import { z } from 'zod';
import { ALGORITHM_PROFILES } from '../config/schema.js';
import type { PartnerRecord } from '../store/types.js';
import { CERT_FINGERPRINT, normalizeCertFingerprint } from '../transfers/ftps-connection.js';
import type { PartnerManager } from '../transfers/partners.js';
import { Secret } from '../util/secret.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

const port = z.number().int().min(1).max(65_535);
const SHA256_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const protocol = z.enum(['sftp', 'ftps', 'ftps-implicit']);

export const partnerAddSchema = z.object({
  name: z.string().min(1),
  protocol: protocol.default('sftp'),
  host: z.string().min(1),
  /** Default: 22 for SFTP, 21 for FTPS, 990 for implicit FTPS. */
  port: port.optional(),
  user: z.string().min(1),
  password: z.instanceof(Secret<string>).optional(),
  clientKey: z.string().min(1).optional(),
  renameUploads: z.boolean().default(true),
  readBack: z.boolean().default(false),
  /** The SSH algorithm profile Ferry's client offers this partner. */
  algorithms: z.enum(ALGORITHM_PROFILES).default('modern'),
  /** FTPS: verify the certificate against these CAs (PEM file) instead of pinning its fingerprint. */
  caFile: z.string().min(1).optional(),
});
export type PartnerAddInput = z.input<typeof partnerAddSchema>;

export const partnerSetSchema = z.object({
  name: z.string().min(1),
  host: z.string().min(1).optional(),
  port: port.optional(),
  user: z.string().min(1).optional(),
  /** null removes the stored password. */
  password: z
    .instanceof(Secret<string>)
    .nullable()
    .optional(),
  /** null stops logging in with a key. */
  clientKey: z.string().min(1).nullable().optional(),
  renameUploads: z.boolean().optional(),
  readBack: z.boolean().optional(),
  algorithms: z.enum(ALGORITHM_PROFILES).optional(),
  protocol: protocol.optional(),
  /** null goes back to a pinned certificate. */
  caFile: z.string().min(1).nullable().optional(),
});
export type PartnerSetInput = z.input<typeof partnerSetSchema>;

export const partnerTrustSchema = z.object({
  name: z.string().min(1),
  algorithm: z.string().min(1),
  /** An SSH host key's `SHA256:base64`, or a TLS certificate's `AA:BB:…` (algorithm 'x509'). */
  sha256: z
    .string()
    .refine(
      (v) => SHA256_FINGERPRINT.test(v) || CERT_FINGERPRINT.test(v),
      'must look like SHA256: followed by 43 base64 characters (SSH), or 32 hex bytes AA:BB:... (TLS)',
    ),
});
export type PartnerTrustInput = z.input<typeof partnerTrustSchema>;

export type PresentedHostKey = Awaited<ReturnType<PartnerManager['fetchHostKey']>>;
export type PartnerTestReport = Awaited<ReturnType<PartnerManager['test']>>;

const subject = (name: string) => `partner ${name}`;

export class PartnerAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  get #partners(): PartnerManager {
    return this.#deps.transfers.partners;
  }

  list(): Promise<PartnerRecord[]> {
    return this.#partners.list();
  }

  get(name: string): Promise<PartnerRecord> {
    return this.#partners.get(name);
  }

  /** Connects as far as the key exchange and returns the host key the partner presents (to show a person). */
  presentedHostKey(name: string): Promise<PresentedHostKey> {
    return this.#partners.fetchHostKey(name);
  }

  /** Logs in, lists the home directory, reports algorithms and latency; changes nothing. */
  test(name: string): Promise<PartnerTestReport> {
    return this.#partners.test(name);
  }

  async add(actor: Actor, input: PartnerAddInput): Promise<PartnerRecord> {
    checkActor(actor);
    const o = parseInput(partnerAddSchema, input);
    const partner = await this.#partners.add({
      name: o.name,
      protocol: o.protocol,
      host: o.host,
      port: o.port,
      username: o.user,
      password: o.password,
      clientKey: o.clientKey,
      renameUploads: o.renameUploads,
      readBack: o.readBack,
      algorithms: o.algorithms,
      tlsCaFile: o.caFile,
    });
    await this.#record.record(actor, 'partners.add', subject(o.name), {
      protocol: partner.protocol,
      host: partner.host,
      port: partner.port,
      user: partner.username,
      password: o.password ? 'set' : 'none',
      clientKey: partner.clientKey,
      algorithms: partner.algorithms,
      ...(partner.tlsCaFile ? { caFile: partner.tlsCaFile } : {}),
    });
    return partner;
  }

  async set(actor: Actor, input: PartnerSetInput): Promise<PartnerRecord> {
    checkActor(actor);
    const o = parseInput(partnerSetSchema, input);
    const before = await this.#partners.get(o.name);
    const after = await this.#partners.update(o.name, {
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.user !== undefined ? { username: o.user } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.clientKey !== undefined ? { clientKey: o.clientKey } : {}),
      ...(o.renameUploads !== undefined ? { renameUploads: o.renameUploads } : {}),
      ...(o.readBack !== undefined ? { readBack: o.readBack } : {}),
      ...(o.algorithms !== undefined ? { algorithms: o.algorithms } : {}),
      ...(o.protocol !== undefined ? { protocol: o.protocol } : {}),
      ...(o.caFile !== undefined ? { tlsCaFile: o.caFile } : {}),
    });
    const diff = (field: string, from: unknown, to: unknown) =>
      from === to ? {} : { [field]: { from, to } };
    await this.#record.record(actor, 'partners.set', subject(o.name), {
      ...diff('host', before.host, after.host),
      ...diff('port', before.port, after.port),
      ...diff('user', before.username, after.username),
      ...(o.password !== undefined ? { password: o.password ? 'changed' : 'removed' } : {}),
      ...diff('clientKey', before.clientKey, after.clientKey),
      ...diff('renameUploads', before.renameUploads, after.renameUploads),
      ...diff('readBack', before.readBack, after.readBack),
      ...diff('algorithms', before.algorithms, after.algorithms),
      ...diff('protocol', before.protocol, after.protocol),
      ...diff('caFile', before.tlsCaFile, after.tlsCaFile),
      ...(before.hostKeySha256 && !after.hostKeySha256 ? { hostKey: 'forgotten (address changed)' } : {}),
    });
    return after;
  }

  /** Pins a host key a person compared (or a script gave by fingerprint). */
  async trust(actor: Actor, input: PartnerTrustInput): Promise<PartnerRecord> {
    checkActor(actor);
    // A certificate's SHA-256 in any spelling (lower case, no colons) is stored as openssl prints it.
    const sha256 =
      input.algorithm === 'x509' ? (normalizeCertFingerprint(input.sha256) ?? input.sha256) : input.sha256;
    const o = parseInput(partnerTrustSchema, { ...input, sha256 });
    const before = await this.#partners.get(o.name);
    const partner = await this.#partners.pin(o.name, { algorithm: o.algorithm, sha256: o.sha256 });
    await this.#record.record(actor, 'partners.trust', subject(o.name), {
      hostKey: o.sha256,
      previous: before.hostKeySha256,
    });
    return partner;
  }

  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await this.#partners.remove(name);
    await this.#record.record(actor, 'partners.remove', subject(name));
  }
}
