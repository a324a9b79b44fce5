// Key records Ferry holds: SSH host and client key pairs (private halves sealed), OpenPGP keys, X.509 certificates.

/** An SSH key pair Ferry holds (host key or client key); the private half is sealed with the master key. */
export interface StoredKeyPair {
  readonly id: number;
  readonly algorithm: string;
  readonly bits: number;
  /** Public key blob (wire format). */
  readonly publicBlob: Buffer;
  readonly sha256: string;
  readonly md5: string;
  /** MasterKey.seal output of the private key (PKCS#8 DER or OpenSSH text, as keys/ defines). */
  readonly privateSealed: string;
  readonly comment: string;
  readonly createdAt: Date;
}

/** pending: announced to clients, not presented; active: presented (the earliest promoted of its type); retired: neither. */
export type HostKeyState = 'pending' | 'active' | 'retired';

export interface HostKeyRecord extends StoredKeyPair {
  readonly state: HostKeyState;
  /** state === 'active'. */
  readonly active: boolean;
  /** When the key was promoted (or created active); null while pending. */
  readonly activatedAt: Date | null;
  readonly retiredAt: Date | null;
  /** An OpenSSH host certificate blob for this key, presented with it (`*-cert-v01@openssh.com`), or null. */
  readonly certificate: Buffer | null;
}

export interface ClientKeyRecord extends StoredKeyPair {
  readonly name: string;
}

export type NewKeyPair = Omit<StoredKeyPair, 'id' | 'createdAt'>;

export interface HostKeyRepository {
  /** All host keys, oldest first (retired ones included). */
  list(): Promise<HostKeyRecord[]>;
  add(key: NewKeyPair, state: 'pending' | 'active'): Promise<HostKeyRecord>;
  /** pending → active. False when no pending key has this id (so concurrent promoters promote once). */
  promote(id: number): Promise<boolean>;
  /** pending or active → retired: servers stop presenting and announcing it. False when none has this id. */
  retire(id: number): Promise<boolean>;
  /** Attaches (or with null, detaches) a host certificate; false when no key has this id. */
  setCertificate(id: number, certificate: Buffer | null): Promise<boolean>;
}

export interface ClientKeyRepository {
  list(): Promise<ClientKeyRecord[]>;
  get(name: string): Promise<ClientKeyRecord | undefined>;
  add(name: string, key: NewKeyPair): Promise<ClientKeyRecord>;
  remove(name: string): Promise<boolean>;
}

export interface PgpKeyRecord {
  readonly id: number;
  readonly name: string;
  readonly fingerprint: string;
  readonly keyId: string;
  readonly userIds: readonly string[];
  readonly algorithm: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly publicArmored: string;
  /** Sealed armored private key, or null for a public-only key. */
  readonly privateSealed: string | null;
}

export type NewPgpKey = Omit<PgpKeyRecord, 'id'>;

export interface PgpKeyRepository {
  list(): Promise<PgpKeyRecord[]>;
  get(name: string): Promise<PgpKeyRecord | undefined>;
  add(key: NewPgpKey): Promise<PgpKeyRecord>;
  remove(name: string): Promise<boolean>;
}

/** An X.509 certificate chain Ferry serves TLS with (leaf first), its private key sealed. */
export interface CertificateRecord {
  readonly id: number;
  readonly name: string;
  /** `ecdsa-p256`, `rsa-3072`, … */
  readonly algorithm: string;
  readonly subject: string;
  readonly issuer: string;
  /** The leaf's subjectAltName as node:crypto prints it (`DNS:a, IP Address:127.0.0.1`), or empty. */
  readonly altNames: string;
  /** SHA-256 of the leaf's DER, AA:BB:… */
  readonly fingerprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly chainPem: string;
  /** MasterKey.seal output of the PKCS#8 PEM private key. */
  readonly privateSealed: string;
  readonly createdAt: Date;
}

export type NewCertificate = Omit<CertificateRecord, 'id' | 'createdAt'>;

export interface CertificateRepository {
  /** By name. */
  list(): Promise<CertificateRecord[]>;
  get(name: string): Promise<CertificateRecord | undefined>;
  /** ERR_ALREADY_EXISTS when the name is taken. */
  add(certificate: NewCertificate): Promise<CertificateRecord>;
  remove(name: string): Promise<boolean>;
}

/** A trusted user certificate authority: certificates it signs log in users named in their principals. */
export interface UserCaRecord {
  readonly id: number;
  readonly name: string;
  readonly algorithm: string;
  readonly publicBlob: Buffer;
  /** SHA256:… of the CA's public key blob. */
  readonly fingerprint: string;
  readonly createdAt: Date;
}

export type NewUserCa = Omit<UserCaRecord, 'id' | 'createdAt'>;

export interface UserCaRepository {
  /** By name. */
  list(): Promise<UserCaRecord[]>;
  /** ERR_ALREADY_EXISTS when the name or the key is already trusted. */
  add(ca: NewUserCa): Promise<UserCaRecord>;
  remove(name: string): Promise<boolean>;
}

/** serial: one CA's serial number; key-id: any certificate with this key id; fingerprint: the certified key. */
export type CertRevocationKind = 'serial' | 'key-id' | 'fingerprint';

export interface CertRevocationRecord {
  readonly id: number;
  readonly kind: CertRevocationKind;
  /** The serial in decimal, the key id, or the key's SHA256:… fingerprint. */
  readonly value: string;
  /**
   * The CA's SHA256 fingerprint the entry is scoped to: required for serials; for key ids, empty (any CA) or a CA
   * (from a KRL). '*' (a KRL section without a CA key): any CA.
   */
  readonly caFingerprint: string;
  readonly createdAt: Date;
}

export type NewCertRevocation = Pick<CertRevocationRecord, 'kind' | 'value' | 'caFingerprint'>;

export interface CertRevocationRepository {
  list(): Promise<CertRevocationRecord[]>;
  /** ERR_ALREADY_EXISTS when the same entry is already revoked. */
  add(entry: NewCertRevocation): Promise<CertRevocationRecord>;
  remove(id: number): Promise<boolean>;
  /** Whether a certificate with these properties is revoked (one indexed query, asked at every login). */
  isRevoked(certificate: {
    serial: string;
    caFingerprint: string;
    keyId: string;
    keyFingerprint: string;
  }): Promise<boolean>;
}
