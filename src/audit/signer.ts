// Checkpoint signatures: the signer the server provides (its Ed25519 host key) and the verifier an auditor uses.
import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { parseAuthorizedKey, sha256Fingerprint } from '../keys/ssh-keys.js';
import { canonicalJson } from './chain.js';

export interface AuditSigner {
  /** SSH algorithm name of the key: 'ssh-ed25519'. */
  readonly algorithm: string;
  sign(data: Buffer): Buffer;
  /** `SHA256:...` fingerprint of the public key, as ssh-keygen -l prints it. */
  readonly publicKeySha256: string;
}

export interface AuditVerifyKey {
  readonly algorithm: string;
  readonly fingerprint: string;
  /** Where the key came from, for reports: 'host key 2 (retired 2026-05-01)', 'old.pub'. */
  readonly label?: string;
  verify(data: Buffer, signature: Buffer): boolean;
}

/** Where a retention prune cut the chain: the first kept seq and the hash it links to. */
export interface RetentionCut {
  readonly firstKeptSeq: number;
  readonly prevHash: string;
}

/**
 * The fields a checkpoint signature covers: which record it is, when, and the chain head it attests.
 * A retention checkpoint (written in the prune's own transaction) also signs the cut, so a retention
 * record is accepted only with a signature made by the process that really pruned.
 */
export interface CheckpointClaim {
  readonly seq: number;
  readonly at: string;
  readonly headSeq: number;
  readonly headHash: string;
  readonly cut?: RetentionCut;
}

const CHECKPOINT_CONTEXT = 'ferry-audit-checkpoint-v1\n';

/** The signed bytes: a context string (so a signature cannot be replayed elsewhere) + canonical JSON of the claim. */
export function checkpointMessage(claim: CheckpointClaim): Buffer {
  return Buffer.from(CHECKPOINT_CONTEXT + canonicalJson(claim), 'utf8');
}

function wireString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** RFC 8709 public key blob of a raw 32-byte Ed25519 key. */
function ed25519Blob(raw: Buffer): Buffer {
  return Buffer.concat([wireString(Buffer.from('ssh-ed25519')), wireString(raw)]);
}

/** A signer from an Ed25519 private KeyObject (e.g. the server's host key). */
export function ed25519AuditSigner(privateKey: KeyObject): AuditSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new InvalidArgumentError(
      `audit checkpoints are signed with Ed25519, not ${privateKey.asymmetricKeyType}`,
    );
  }
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  const blob = ed25519Blob(Buffer.from(jwk.x ?? '', 'base64url'));
  return {
    algorithm: 'ssh-ed25519',
    sign: (data) => sign(null, data, privateKey),
    publicKeySha256: sha256Fingerprint(blob),
  };
}

/** Raw signature inside an SSH signature blob (string algorithm, string signature), RFC 8709 for Ed25519. */
function unwrapSshSignature(blob: Buffer): Buffer {
  const fields: Buffer[] = [];
  let pos = 0;
  while (pos < blob.length && fields.length < 2) {
    if (pos + 4 > blob.length) break;
    const length = blob.readUInt32BE(pos);
    fields.push(blob.subarray(pos + 4, pos + 4 + length));
    pos += 4 + length;
  }
  const [name, raw] = fields;
  if (name?.toString() !== 'ssh-ed25519' || raw?.length !== 64 || pos !== blob.length) {
    throw new InvalidArgumentError('host key signature is not an ssh-ed25519 signature blob');
  }
  return raw;
}

/**
 * A signer over the server's ssh-ed25519 host key as the key manager presents it: `sign()` returns an
 * SSH signature blob, the checkpoint stores the raw 64-byte Ed25519 signature inside it.
 */
export function hostKeyAuditSigner(key: {
  algorithm: string;
  sha256: string;
  sign(data: Buffer): Buffer;
}): AuditSigner {
  if (key.algorithm !== 'ssh-ed25519') {
    throw new InvalidArgumentError(
      `audit checkpoints are signed with an ssh-ed25519 key, not ${key.algorithm}`,
    );
  }
  return {
    algorithm: 'ssh-ed25519',
    sign: (data) => unwrapSshSignature(key.sign(data)),
    publicKeySha256: key.sha256,
  };
}

/** The `ssh-ed25519 AAAA... comment` line of an Ed25519 key (for `ferry audit verify --public-key`). */
export function ed25519PublicKeyLine(privateKey: KeyObject, comment = 'ferry-audit'): string {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return `ssh-ed25519 ${ed25519Blob(Buffer.from(jwk.x ?? '', 'base64url')).toString('base64')} ${comment}`;
}

/** The `ssh-ed25519 AAAA...` line of a public key blob (host key store → export, verify --public-key). */
export function publicKeyLineFromBlob(blob: Buffer): string {
  return `ssh-ed25519 ${blob.toString('base64')}`;
}

/** A verifier from an RFC 8709 ssh-ed25519 public key blob (as the host key store keeps it). */
export function auditVerifyKeyFromBlob(blob: Buffer): AuditVerifyKey {
  // Blob: string "ssh-ed25519" (4 + 11 bytes) then string key (4 + 32 bytes).
  if (blob.length !== 51 || !blob.subarray(0, 15).equals(wireString(Buffer.from('ssh-ed25519')))) {
    throw new InvalidArgumentError('malformed ssh-ed25519 public key');
  }
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: blob.subarray(19).toString('base64url') },
    format: 'jwk',
  });
  return {
    algorithm: 'ssh-ed25519',
    fingerprint: sha256Fingerprint(blob),
    verify: (data, signature) => verify(null, data, key, signature),
  };
}

const keyLines = (text: string) =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

/** Reads the public key an auditor verifies checkpoints with: an OpenSSH `.pub` line (ssh-ed25519). */
export function parseAuditVerifyKey(text: string): AuditVerifyKey {
  const line = keyLines(text)[0];
  if (line === undefined) throw new InvalidArgumentError('no public key in the given text');
  const parsed = parseAuthorizedKey(line);
  if (parsed.algorithm !== 'ssh-ed25519') {
    throw new InvalidArgumentError(
      `audit checkpoints are verified with an ssh-ed25519 key, not ${parsed.algorithm}`,
    );
  }
  return auditVerifyKeyFromBlob(parsed.blob);
}

/**
 * Every ssh-ed25519 key in a text of `.pub` / authorized_keys lines (e.g. the current and the retired
 * host keys in one file). Lines of other key types are skipped: checkpoints are only ever Ed25519-signed.
 */
export function parseAuditVerifyKeys(text: string): AuditVerifyKey[] {
  const keys = keyLines(text)
    .filter((line) => /(^|\s)ssh-ed25519\s/.test(line))
    .map((line) => parseAuthorizedKey(line))
    .filter((parsed) => parsed.algorithm === 'ssh-ed25519')
    .map((parsed) => auditVerifyKeyFromBlob(parsed.blob));
  if (keys.length === 0) throw new InvalidArgumentError('no ssh-ed25519 public key in the given text');
  return keys;
}
