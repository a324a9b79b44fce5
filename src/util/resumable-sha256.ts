// SHA-256 whose running state can be saved and restored: node:crypto cannot export a Hash's state, and an S3
// multipart upload continued on another node must continue its digest from the last stored part.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** A saved state: the eight words, the bytes hashed so far, and the bytes of an unfinished block (base64). */
export interface Sha256State {
  readonly h: readonly number[];
  readonly length: number;
  readonly pending: string;
}

export class ResumableSha256 {
  readonly #h = new Int32Array(8);
  readonly #w = new Int32Array(64);
  readonly #block = Buffer.alloc(64);
  #fill = 0;
  #length = 0;

  constructor(state?: Sha256State) {
    if (!state) {
      this.#h.set(INITIAL);
      return;
    }
    const pending = Buffer.from(state.pending, 'base64');
    if (state.h.length !== 8 || pending.length >= 64 || !Number.isSafeInteger(state.length)) {
      throw new RangeError('not a SHA-256 state');
    }
    this.#h.set(state.h.map((x) => x | 0));
    pending.copy(this.#block);
    this.#fill = pending.length;
    this.#length = state.length;
  }

  update(data: Uint8Array): this {
    let at = 0;
    this.#length += data.length;
    if (this.#fill > 0) {
      const n = Math.min(64 - this.#fill, data.length);
      this.#block.set(data.subarray(0, n), this.#fill);
      this.#fill += n;
      at = n;
      if (this.#fill < 64) return this;
      this.#compress(this.#block, 0);
      this.#fill = 0;
    }
    for (; at + 64 <= data.length; at += 64) this.#compress(data, at);
    if (at < data.length) {
      this.#block.set(data.subarray(at), 0);
      this.#fill = data.length - at;
    }
    return this;
  }

  /** The state after the bytes so far, to continue later with `new ResumableSha256(state)`. */
  state(): Sha256State {
    return {
      h: Array.from(this.#h, (x) => x >>> 0),
      length: this.#length,
      pending: this.#block.subarray(0, this.#fill).toString('base64'),
    };
  }

  /** The digest; like node:crypto's, the object is spent afterwards. */
  digest(encoding: 'hex'): string {
    const bits = this.#length * 8;
    const tail = Buffer.alloc(this.#fill < 56 ? 64 - this.#fill : 128 - this.#fill);
    tail[0] = 0x80;
    tail.writeUInt32BE(Math.floor(bits / 0x100000000), tail.length - 8);
    tail.writeUInt32BE(bits >>> 0, tail.length - 4);
    this.update(tail);
    const out = Buffer.alloc(32);
    for (let i = 0; i < 8; i++) out.writeInt32BE(this.#h[i] as number, i * 4);
    return out.toString(encoding);
  }

  #compress(p: Uint8Array, o: number): void {
    const w = this.#w;
    for (let i = 0; i < 16; i++, o += 4) {
      w[i] =
        ((p[o] as number) << 24) |
        ((p[o + 1] as number) << 16) |
        ((p[o + 2] as number) << 8) |
        (p[o + 3] as number);
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15] as number;
      const b = w[i - 2] as number;
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
    }
    const h = this.#h;
    let a = h[0] as number;
    let b = h[1] as number;
    let c = h[2] as number;
    let d = h[3] as number;
    let e = h[4] as number;
    let f = h[5] as number;
    let g = h[6] as number;
    let hh = h[7] as number;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + (K[i] as number) + (w[i] as number)) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = (h[0] as number) + a;
    h[1] = (h[1] as number) + b;
    h[2] = (h[2] as number) + c;
    h[3] = (h[3] as number) + d;
    h[4] = (h[4] as number) + e;
    h[5] = (h[5] as number) + f;
    h[6] = (h[6] as number) + g;
    h[7] = (h[7] as number) + hh;
  }
}
