// Reads the server's KEXINIT off the wire, so a failed negotiation can say what the server offered and whether the
// 'compat' profile would have agreed; ssh2 reports only "no matching C->S cipher".
import { type AlgorithmPolicy, type AlgorithmProfile, clientAlgorithmPolicy } from '../ssh-algorithms.js';

/** The lists of one direction (client to server, or server to client). */
export interface DirectionOffer {
  readonly cipher: readonly string[];
  readonly mac: readonly string[];
  readonly compress: readonly string[];
}

/** The server's algorithm lists, as sent in its KEXINIT. */
export interface ServerOffer {
  readonly kex: readonly string[];
  readonly serverHostKey: readonly string[];
  readonly cs: DirectionOffer;
  readonly sc: DirectionOffer;
}

const MSG_KEXINIT = 20;
/** RFC 4253 §6.1: implementations need handle only 35000-byte packets; anything longer is not a KEXINIT. */
const MAX_PACKET = 35_000;
/** Identification and banner lines before the first packet (RFC 4253 §4.2 lets a server send other lines first). */
const MAX_PREAMBLE = 16 * 1024;

/**
 * Fed the bytes the server sends, in order; `offer` is set once its first packet, the KEXINIT (sent in the clear,
 * before any key exists), has arrived whole. Gives up quietly on anything unexpected: it only explains failures.
 */
export class KexInitSniffer {
  offer: ServerOffer | undefined;
  #buffer = Buffer.alloc(0);
  #done = false;

  get done(): boolean {
    return this.#done;
  }

  push(chunk: Buffer): void {
    if (this.#done) return;
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    // The identification line starts with "SSH-" and ends the preamble; other lines may come first.
    let start = 0;
    for (;;) {
      const eol = this.#buffer.indexOf(0x0a, start);
      if (eol < 0) {
        if (this.#buffer.length > MAX_PREAMBLE + MAX_PACKET) this.#done = true;
        return;
      }
      const isIdent = this.#buffer.subarray(start, start + 4).toString('latin1') === 'SSH-';
      start = eol + 1;
      if (isIdent) break;
      if (start > MAX_PREAMBLE) {
        this.#done = true;
        return;
      }
    }
    const packet = this.#buffer.subarray(start);
    if (packet.length < 5) return;
    const length = packet.readUInt32BE(0);
    if (length > MAX_PACKET || length < 2) {
      this.#done = true;
      return;
    }
    if (packet.length < 4 + length) return;
    this.#done = true;
    const padding = packet[4]!;
    this.offer = parseKexInit(packet.subarray(5, 4 + length - padding));
  }
}

/** The ten name-lists after the message number and 16-byte cookie; undefined when malformed or not a KEXINIT. */
export function parseKexInit(payload: Buffer): ServerOffer | undefined {
  if (payload[0] !== MSG_KEXINIT) return undefined;
  let pos = 17;
  const lists: string[][] = [];
  for (let i = 0; i < 8; i++) {
    if (pos + 4 > payload.length) return undefined;
    const len = payload.readUInt32BE(pos);
    if (pos + 4 + len > payload.length) return undefined;
    const text = payload.subarray(pos + 4, pos + 4 + len).toString('latin1');
    lists.push(text === '' ? [] : text.split(','));
    pos += 4 + len;
  }
  // RFC 4253 §7.1 order: kex, host key, then cipher, MAC and compression, each client-to-server first.
  const at = (i: number) => lists[i]!;
  return {
    kex: at(0),
    serverHostKey: at(1),
    cs: { cipher: at(2), mac: at(4), compress: at(6) },
    sc: { cipher: at(3), mac: at(5), compress: at(7) },
  };
}

/** What an algorithm kind is called in a message, and what Ferry's client refuses of it (and why a person looks). */
const KINDS = {
  kex: { name: 'key exchange', refused: 'SHA-1 or 1024-bit Diffie-Hellman key exchanges' },
  serverHostKey: { name: 'host key type', refused: 'DSA or SHA-1 (ssh-rsa) host key signatures' },
  cipher: { name: 'cipher', refused: 'CBC, 3DES, RC4 or Blowfish ciphers' },
  mac: { name: 'MAC', refused: 'SHA-1 or MD5 MACs' },
  compress: { name: 'compression', refused: "pre-authentication 'zlib'" },
} as const;

export interface Mismatch {
  readonly kind: keyof typeof KINDS;
  /** What the server offered of that kind. */
  readonly serverOffers: readonly string[];
}

// ssh2's CIPHER_INFO authLen > 0: these carry their own integrity, so no MAC is negotiated beside them.
const AEAD = new Set(['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com']);

/** At most this many names of a list go into a message: a hostile server's list can be 35000 bytes long. */
const SHOWN_NAMES = 12;
const SHOWN_NAME_LENGTH = 64;

/**
 * The server's names as a message shows them: printable ASCII only (RFC 4251 §6 names are), so a hostile server
 * cannot put a newline into a job's error or a terminal escape on a person's screen; capped in number and length.
 */
function shownOffer(names: readonly string[]): string {
  // Not algorithms: the markers for extension negotiation and strict key exchange (Terrapin).
  const algorithms = names.filter((a) => !MARKERS.test(a));
  const shown = algorithms
    .slice(0, SHOWN_NAMES)
    .map((a) => (/^[\x21-\x7e]+$/.test(a) ? a : a.replace(/[^\x21-\x7e]/g, '?')))
    .map((a) => (a.length > SHOWN_NAME_LENGTH ? `${a.slice(0, SHOWN_NAME_LENGTH)}...` : a));
  if (algorithms.length > SHOWN_NAMES) shown.push(`and ${algorithms.length - SHOWN_NAMES} more`);
  return shown.join(', ') || 'nothing';
}

const MARKERS = /^(ext-info-[cs]|kex-strict-[cs]-v00@openssh\.com)$/;

/** SSH's rule (RFC 4253 §7.1): the first of the client's list that the server also has. */
const pick = (client: readonly string[], server: readonly string[]) => client.find((a) => server.includes(a));

/** The first kind the two sides have nothing in common for, in the order ssh2 negotiates them; none: they agree. */
export function findMismatch(policy: AlgorithmPolicy, offer: ServerOffer): Mismatch | undefined {
  if (!pick(policy.kex, offer.kex)) return { kind: 'kex', serverOffers: offer.kex };
  if (!pick(policy.serverHostKey, offer.serverHostKey))
    return { kind: 'serverHostKey', serverOffers: offer.serverHostKey };
  for (const side of [offer.cs, offer.sc]) {
    const cipher = pick(policy.cipher, side.cipher);
    if (!cipher) return { kind: 'cipher', serverOffers: side.cipher };
    if (!AEAD.has(cipher) && !pick(policy.hmac, side.mac)) return { kind: 'mac', serverOffers: side.mac };
  }
  for (const side of [offer.cs, offer.sc])
    if (!pick(policy.compress, side.compress)) return { kind: 'compress', serverOffers: side.compress };
  return undefined;
}

/**
 * One line for a person: what had nothing in common, what the server offers, and either the switch to 'compat'
 * (when that profile would agree with this server) or what Ferry's client will not use.
 */
export function explainMismatch(
  profile: AlgorithmProfile,
  offer: ServerOffer,
  address: string,
  compatHint: string,
): string | undefined {
  const mismatch = findMismatch(clientAlgorithmPolicy(profile), offer);
  if (!mismatch) return undefined;
  const kind = KINDS[mismatch.kind];
  const offered = shownOffer(mismatch.serverOffers);
  const compatAgrees = profile !== 'compat' && !findMismatch(clientAlgorithmPolicy('compat'), offer);
  const advice = compatAgrees
    ? `the server needs NIST ECDH or an ECDSA host key, which only the 'compat' algorithms allow: ${compatHint}`
    : `Ferry's client does not use ${kind.refused}`;
  return `no common ${kind.name} with ${address} (server offers ${offered}); ${advice}`;
}
