// OpenSSH certificates: trusted user CAs, revoked certificates, and host certificates attached to host keys.
import { FerryError, InvalidArgumentError } from '../errors.js';
import { signerFor } from '../key-manager/host-keys.js';
import { parseKrl } from '../keys/openssh-krl.js';
import { parsePrivateKey } from '../keys/private-keys.js';
import {
  CERT_HOST,
  certificateSignatureValid,
  isCertificateAlgorithm,
  parseSshCertificateLine,
} from '../keys/ssh-certificate.js';
import { encodeHostCertificate } from '../keys/ssh-certificate-writer.js';
import { parseAuthorizedKey, sha256Fingerprint } from '../keys/ssh-keys.js';
import type {
  CertRevocationKind,
  CertRevocationRecord,
  HostKeyRecord,
  UserCaRecord,
} from '../store/types.js';
import type { Secret } from '../util/secret.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor } from './recorder.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What `revoke` takes: exactly one way of naming certificates. */
export type RevokeInput =
  | { readonly serial: string; readonly ca: string }
  | { readonly keyId: string }
  | { readonly fingerprint: string };

/** Trusted user certificate authorities and the revoked-certificate list (both read by every login). */
export class UserCaAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  list(): Promise<UserCaRecord[]> {
    return this.#deps.store.userCas.list();
  }

  /** Trusts the CA whose public key line is `text` (a `ca.pub`); default name: the key's comment, else `ca-N`. */
  async add(actor: Actor, text: string, name?: string): Promise<UserCaRecord> {
    checkActor(actor);
    const first = text.split(/\r?\n/).find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '';
    const type = first.trim().split(/\s+/)[0] ?? '';
    if (isCertificateAlgorithm(type))
      throw new InvalidArgumentError(
        'this is a certificate; a CA is trusted by its plain public key (ca.pub)',
      );
    const key = parseAuthorizedKey(first);
    if (key.options !== '') throw new InvalidArgumentError('a CA key line takes no options');
    const existing = await this.list();
    const chosen = name ?? (NAME.test(key.comment) ? key.comment : `ca-${existing.length + 1}`);
    if (!NAME.test(chosen))
      throw new InvalidArgumentError(
        `CA name '${chosen.slice(0, 64)}' must be 1-64 letters, digits, '.', '_' or '-'`,
      );
    const ca = await this.#deps.store.userCas.add({
      name: chosen,
      algorithm: key.algorithm,
      publicBlob: key.blob,
      fingerprint: key.fingerprint,
    });
    await this.#record.record(actor, 'keys.ca.add', `user CA ${ca.name}`, { fingerprint: ca.fingerprint });
    return ca;
  }

  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    if (!(await this.#deps.store.userCas.remove(name)))
      throw new FerryError('ERR_NOT_FOUND', `no trusted CA named ${name}`);
    await this.#record.record(actor, 'keys.ca.remove', `user CA ${name}`);
  }

  revocations(): Promise<CertRevocationRecord[]> {
    return this.#deps.store.certRevocations.list();
  }

  async revoke(actor: Actor, input: RevokeInput): Promise<CertRevocationRecord> {
    checkActor(actor);
    let entry: { kind: CertRevocationKind; value: string; caFingerprint: string };
    if ('serial' in input) {
      if (!/^\d{1,20}$/.test(input.serial) || BigInt(input.serial) > 0xffffffffffffffffn)
        throw new InvalidArgumentError(
          `serial must be a number from 0 to 2^64-1, got '${input.serial.slice(0, 30)}'`,
        );
      const ca = (await this.list()).find((c) => c.name === input.ca);
      if (!ca) throw new FerryError('ERR_NOT_FOUND', `no trusted CA named ${input.ca}`);
      entry = { kind: 'serial', value: BigInt(input.serial).toString(), caFingerprint: ca.fingerprint };
    } else if ('keyId' in input) {
      if (input.keyId === '') throw new InvalidArgumentError('key id must not be empty');
      entry = { kind: 'key-id', value: input.keyId, caFingerprint: '' };
    } else {
      if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(input.fingerprint))
        throw new InvalidArgumentError(
          `fingerprint must look like SHA256:<43 base64 characters> (ssh-keygen -lf)`,
        );
      entry = { kind: 'fingerprint', value: input.fingerprint, caFingerprint: '' };
    }
    const revoked = await this.#deps.store.certRevocations.add(entry);
    await this.#record.record(actor, 'keys.ca.revoke', `revocation ${revoked.id}`, {
      kind: entry.kind,
      value: entry.value,
      ...(entry.caFingerprint ? { ca: entry.caFingerprint } : {}),
    });
    return revoked;
  }

  /** Adds every revocation of an OpenSSH KRL file (`ssh-keygen -k`); entries already revoked are counted, not added. */
  async importKrl(actor: Actor, data: Buffer): Promise<{ added: number; already: number }> {
    checkActor(actor);
    const entries = parseKrl(data);
    let added = 0;
    let already = 0;
    for (const e of entries) {
      try {
        await this.#deps.store.certRevocations.add({
          kind: e.kind,
          value: e.value,
          caFingerprint: e.kind === 'fingerprint' ? '' : e.caFingerprint,
        });
        added++;
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_ALREADY_EXISTS') throw err;
        already++;
      }
    }
    await this.#record.record(actor, 'keys.ca.revoke', 'KRL', { kind: 'krl', added, already });
    return { added, already };
  }

  async unrevoke(actor: Actor, id: number): Promise<void> {
    checkActor(actor);
    if (!(await this.#deps.store.certRevocations.remove(id)))
      throw new FerryError('ERR_NOT_FOUND', `no revocation with id ${id}`);
    await this.#record.record(actor, 'keys.ca.unrevoke', `revocation ${id}`);
  }
}

/** Host certificates: signed elsewhere (`ssh-keygen -s ca -h`), attached to the host key they certify. */
export class HostCertificateAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  /** Attaches the certificate in `text` (a `*-cert.pub`) to the live host key it certifies. */
  async import(
    actor: Actor,
    text: string,
  ): Promise<{ key: HostKeyRecord; principals: readonly string[]; validBefore: Date | null }> {
    checkActor(actor);
    const { certificate, blob } = parseSshCertificateLine(text);
    if (certificate.certType !== CERT_HOST)
      throw new InvalidArgumentError('this is a user certificate; sign the host key with ssh-keygen -h');
    if (!certificateSignatureValid(certificate))
      throw new InvalidArgumentError('the certificate signature does not verify');
    const now = BigInt(Math.floor(Date.now() / 1000));
    if (now >= certificate.validBefore) throw new InvalidArgumentError('the certificate has expired');
    const key = (await this.#deps.store.hostKeys.list()).find(
      (k) => k.state !== 'retired' && k.publicBlob.equals(certificate.publicKey),
    );
    if (!key)
      throw new FerryError(
        'ERR_NOT_FOUND',
        `no live host key matches the certified key ${sha256Fingerprint(certificate.publicKey)}`,
      );
    await this.#deps.store.hostKeys.setCertificate(key.id, blob);
    await this.#record.record(actor, 'keys.host.certificate', `host key ${key.id}`, {
      keyId: certificate.keyId,
      serial: certificate.serial.toString(),
      ca: sha256Fingerprint(certificate.signatureKey),
    });
    const forever = certificate.validBefore === 0xffffffffffffffffn;
    return {
      key: { ...key, certificate: blob },
      principals: certificate.principals,
      validBefore: forever ? null : new Date(Number(certificate.validBefore) * 1000),
    };
  }

  /**
   * Certifies Ferry's live host keys (or one, `id`) with the CA private key given, as `ssh-keygen -s ca -h` would;
   * the CA key is used for this call only and never stored.
   */
  async certify(
    actor: Actor,
    input: {
      caKey: Buffer;
      passphrase?: Secret<string>;
      principals: readonly string[];
      keyId: string;
      validDays?: number;
      id?: number;
    },
  ): Promise<HostKeyRecord[]> {
    checkActor(actor);
    if (input.principals.length === 0 || input.principals.some((p) => p === '' || /[\s,]/.test(p)))
      throw new InvalidArgumentError('give the host names clients connect with (--principals name[,name…])');
    const ca = parsePrivateKey(input.caKey, input.passphrase);
    const sign = signerFor(ca);
    const now = BigInt(Math.floor(Date.now() / 1000));
    // Five minutes back, as clocks differ; no end unless asked (host certificates are replaced, not expired).
    const validAfter = now - 300n;
    const validBefore = input.validDays ? now + BigInt(input.validDays) * 86_400n : 0xffffffffffffffffn;
    const keys = (await this.#deps.store.hostKeys.list()).filter(
      (k) => k.state !== 'retired' && (input.id === undefined || k.id === input.id),
    );
    if (keys.length === 0)
      throw new FerryError(
        'ERR_NOT_FOUND',
        input.id === undefined ? 'no live host key' : `no live host key ${input.id}`,
      );
    const done: HostKeyRecord[] = [];
    for (const key of keys) {
      const blob = encodeHostCertificate(
        {
          publicBlob: key.publicBlob,
          keyId: input.keyId,
          principals: input.principals,
          serial: BigInt(Date.now()),
          validAfter,
          validBefore,
        },
        ca.publicBlob,
        (data) => sign(data),
      );
      await this.#deps.store.hostKeys.setCertificate(key.id, blob);
      await this.#record.record(actor, 'keys.host.certificate', `host key ${key.id}`, {
        keyId: input.keyId,
        principals: [...input.principals],
        ca: ca.sha256,
      });
      done.push({ ...key, certificate: blob });
    }
    return done;
  }

  async remove(actor: Actor, id: number): Promise<void> {
    checkActor(actor);
    const key = (await this.#deps.store.hostKeys.list()).find((k) => k.id === id);
    if (!key?.certificate) throw new FerryError('ERR_NOT_FOUND', `host key ${id} has no certificate`);
    await this.#deps.store.hostKeys.setCertificate(id, null);
    await this.#record.record(actor, 'keys.host.certificate', `host key ${id}`, { removed: true });
  }
}
