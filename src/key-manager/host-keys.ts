// Server host keys kept in the store, private halves sealed with the master key: first-run generation, import,
// and the pending → active → retired life cycle that lets clients learn a key before it is presented.
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { FerryError } from '../errors.js';
import {
  exportPrivateKey,
  generateSshKeyPair,
  parsePrivateKey,
  type SshKeyPair,
  type SshKeyType,
} from '../keys/private-keys.js';
import type { MasterKey } from '../keys/sealing.js';
import { keyTypeLabel } from '../keys/ssh-keys.js';
import type { HostKeyRecord, HostKeyRepository, HostKeyState } from '../store/types.js';
import type { Secret } from '../util/secret.js';

const SEAL_LABEL = 'host-key';

/** What the first start generates: ed25519, ecdsa-p256 and rsa-3072. */
export const DEFAULT_HOST_KEYS: readonly { type: SshKeyType; bits?: number }[] = [
  { type: 'ed25519' },
  { type: 'ecdsa', bits: 256 },
  { type: 'rsa', bits: 3072 },
];

const DAY_MS = 86_400_000;

/** A pending or active host key, decrypted for the SSH server. */
export interface HostKeyMaterial {
  readonly id: number;
  /** pending keys are only announced; active ones may be presented (see presentedHostKeys). */
  readonly state: Exclude<HostKeyState, 'retired'>;
  readonly activatedAt: Date | null;
  readonly algorithm: string;
  readonly bits: number;
  readonly sha256: string;
  readonly md5: string;
  readonly publicBlob: Buffer;
  /** Unencrypted OpenSSH-format private key, as ssh2's Server takes it. */
  readonly privateKey: string;
  /** An OpenSSH host certificate of this key (presented as its *-cert-v01@openssh.com algorithms), or null. */
  readonly certificate: Buffer | null;
  /**
   * An SSH signature blob (string algorithm, string signature) over `data`.
   * `rsaAlgorithm` picks rsa-sha2-256 or rsa-sha2-512 for RSA keys.
   */
  sign(data: Buffer, rsaAlgorithm?: 'rsa-sha2-256' | 'rsa-sha2-512'): Buffer;
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function sshMpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let body = unsigned.subarray(i);
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return sshString(body);
}

/** Signs as the key pair does over SSH (an SSH signature blob; RSA with SHA-512 unless told SHA-256). */
export function signerFor(pair: SshKeyPair): HostKeyMaterial['sign'] {
  const key = createPrivateKey({ key: pair.privateKey.reveal(), format: 'der', type: 'pkcs8' });
  return (data, rsaAlgorithm = 'rsa-sha2-512') => {
    if (pair.algorithm === 'ssh-ed25519') {
      return Buffer.concat([sshString('ssh-ed25519'), sshString(cryptoSign(null, data, key))]);
    }
    if (pair.algorithm === 'ssh-rsa') {
      const hash = rsaAlgorithm === 'rsa-sha2-256' ? 'sha256' : 'sha512';
      return Buffer.concat([sshString(rsaAlgorithm), sshString(cryptoSign(hash, data, key))]);
    }
    const curveBits = Number(pair.algorithm.slice('ecdsa-sha2-nistp'.length));
    const hash = curveBits === 256 ? 'sha256' : curveBits === 384 ? 'sha384' : 'sha512';
    const raw = cryptoSign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
    const half = raw.length / 2;
    const rs = Buffer.concat([sshMpint(raw.subarray(0, half)), sshMpint(raw.subarray(half))]);
    return Buffer.concat([sshString(pair.algorithm), sshString(rs)]);
  };
}

export class HostKeyManager {
  constructor(
    private readonly repo: HostKeyRepository,
    private readonly master: MasterKey,
  ) {}

  list(): Promise<HostKeyRecord[]> {
    return this.repo.list();
  }

  /**
   * Stores a key pair. It is pending (announced, not presented) unless the store has no active host key at
   * all: a first key breaks no client, and a server needs one to start.
   */
  async #add(pair: SshKeyPair): Promise<HostKeyRecord> {
    const state = (await this.repo.list()).some((k) => k.active) ? 'pending' : 'active';
    return this.#store(pair, state);
  }

  #store(pair: SshKeyPair, state: 'pending' | 'active'): Promise<HostKeyRecord> {
    return this.repo.add(
      {
        algorithm: pair.algorithm,
        bits: pair.bits,
        publicBlob: pair.publicBlob,
        sha256: pair.sha256,
        md5: pair.md5,
        privateSealed: this.master.seal(pair.privateKey.reveal(), SEAL_LABEL),
        comment: pair.comment,
      },
      state,
    );
  }

  generate(type: SshKeyType, bits?: number): Promise<HostKeyRecord> {
    return this.#add(generateSshKeyPair(type, bits, 'ferry-host-key'));
  }

  /** Imports a private key file (OpenSSH, PEM PKCS#1/SEC1/PKCS#8, PPK), refusing one already stored. */
  async import(data: Buffer, passphrase?: Secret<string>): Promise<HostKeyRecord> {
    const pair = parsePrivateKey(data, passphrase);
    const existing = (await this.repo.list()).find((k) => k.sha256 === pair.sha256);
    if (existing)
      throw new FerryError(
        'ERR_ALREADY_EXISTS',
        `host key ${pair.sha256} is already stored as id ${existing.id}`,
      );
    return this.#add(pair);
  }

  /** Generates the default key set, active at once, when the store holds no host key; returns what it generated. */
  async ensureDefaults(): Promise<HostKeyRecord[]> {
    if ((await this.repo.list()).length > 0) return [];
    const made: HostKeyRecord[] = [];
    for (const spec of DEFAULT_HOST_KEYS) {
      made.push(await this.#store(generateSshKeyPair(spec.type, spec.bits, 'ferry-host-key'), 'active'));
    }
    return made;
  }

  /** pending → active: the key is presented once no key of its type promoted earlier is still active. */
  async promote(id: number): Promise<HostKeyRecord> {
    const key = await this.#find(id);
    if (key.state !== 'pending')
      throw new FerryError('ERR_INVALID_ARGUMENT', `host key ${id} is ${key.state}, not pending`);
    if (!(await this.repo.promote(id)))
      throw new FerryError('ERR_INVALID_ARGUMENT', `host key ${id} is no longer pending`);
    return this.#find(id);
  }

  /**
   * Promotes the pending keys announced for at least `graceDays` (0: none, promotion is manual). Returns the
   * keys this call promoted; several processes may call it at once and each key is promoted by one of them.
   */
  async promoteDue(graceDays: number, now = new Date()): Promise<HostKeyRecord[]> {
    if (graceDays <= 0) return [];
    const due = (await this.repo.list()).filter(
      (k) => k.state === 'pending' && k.createdAt.getTime() + graceDays * DAY_MS <= now.getTime(),
    );
    const promoted: HostKeyRecord[] = [];
    for (const key of due) if (await this.repo.promote(key.id)) promoted.push(await this.#find(key.id));
    return promoted;
  }

  /** When a pending key will be promoted by the grace period, or undefined (manual only, or not pending). */
  static promotionDue(key: HostKeyRecord, graceDays: number): Date | undefined {
    if (key.state !== 'pending' || graceDays <= 0) return undefined;
    return new Date(key.createdAt.getTime() + graceDays * DAY_MS);
  }

  /** Retires an active key (never the last one) or withdraws a pending one. */
  async retire(id: number): Promise<void> {
    const keys = await this.repo.list();
    const key = keys.find((k) => k.id === id);
    if (!key) throw new FerryError('ERR_NOT_FOUND', `no host key with id ${id}`);
    if (key.state === 'retired')
      throw new FerryError('ERR_INVALID_ARGUMENT', `host key ${id} is already retired`);
    if (key.active && !keys.some((k) => k.active && k.id !== id)) {
      throw new FerryError(
        'ERR_INVALID_ARGUMENT',
        `host key ${id} is the last active host key; generate or import another and promote it first`,
      );
    }
    await this.repo.retire(id);
  }

  async #find(id: number): Promise<HostKeyRecord> {
    const key = (await this.repo.list()).find((k) => k.id === id);
    if (!key) throw new FerryError('ERR_NOT_FOUND', `no host key with id ${id}`);
    return key;
  }

  /** The decrypted key pair of a stored host key. */
  async keyPair(id: number): Promise<SshKeyPair> {
    return this.#open(await this.#find(id));
  }

  /** Active keys, oldest first, decrypted for the SSH server. */
  async activeMaterial(): Promise<HostKeyMaterial[]> {
    return (await this.liveMaterial()).filter((k) => k.state === 'active');
  }

  /** Pending and active keys, oldest first, as stored (sealed): what a poll compares before it decrypts. */
  async liveRecords(): Promise<HostKeyRecord[]> {
    return (await this.repo.list()).filter((k) => k.state !== 'retired');
  }

  /** Pending and active keys, oldest first, decrypted for the SSH server: all are announced, some presented. */
  async liveMaterial(): Promise<HostKeyMaterial[]> {
    return this.materialOf(await this.liveRecords());
  }

  /** Stored keys (of `liveRecords`) decrypted for the SSH server. */
  materialOf(records: readonly HostKeyRecord[]): HostKeyMaterial[] {
    return records.map((record) => {
      const pair = this.#open(record);
      return {
        id: record.id,
        state: record.state === 'pending' ? 'pending' : 'active',
        activatedAt: record.activatedAt,
        algorithm: record.algorithm,
        bits: record.bits,
        sha256: record.sha256,
        md5: record.md5,
        publicBlob: record.publicBlob,
        privateKey: exportPrivateKey(pair, 'openssh'),
        sign: signerFor(pair),
        certificate: record.certificate,
      };
    });
  }

  #open(record: HostKeyRecord): SshKeyPair {
    return parsePrivateKey(this.master.open(record.privateSealed, SEAL_LABEL).reveal());
  }
}

/** `256 SHA256:... (ED25519)`, the shape of `ssh-keygen -lf` output. */
export function describeHostKey(key: { bits: number; sha256: string; algorithm: string }): string {
  return `${key.bits} ${key.sha256} (${keyTypeLabel(key.algorithm)})`;
}

/**
 * What a server presents: one key per algorithm, the active one promoted earliest (then the lowest id), so a new
 * key is never presented before it is promoted and an old one is presented until it is retired.
 */
export function presentedHostKeys<
  K extends {
    readonly id: number;
    readonly state: HostKeyState;
    readonly algorithm: string;
    readonly activatedAt: Date | null;
  },
>(keys: readonly K[]): K[] {
  const byAlgorithm = new Map<string, K>();
  const seniority = (k: K) => k.activatedAt?.getTime() ?? Number.POSITIVE_INFINITY;
  for (const key of keys) {
    if (key.state !== 'active') continue;
    const held = byAlgorithm.get(key.algorithm);
    if (
      !held ||
      seniority(key) < seniority(held) ||
      (seniority(key) === seniority(held) && key.id < held.id)
    ) {
      byAlgorithm.set(key.algorithm, key);
    }
  }
  return keys.filter((k) => byAlgorithm.get(k.algorithm) === k);
}
