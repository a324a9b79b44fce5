// A minimal SSH transport written from RFC 4253 for key exchange tests: identification lines, binary packets
// (clear, then aes128-ctr + hmac-sha2-256), KEXINIT building. Lets a test play either side with keys it chose
// and check what Ferry computed, without using ssh2's code to check ssh2's code.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';

export const MSG = {
  DISCONNECT: 1,
  SERVICE_REQUEST: 5,
  SERVICE_ACCEPT: 6,
  KEXINIT: 20,
  NEWKEYS: 21,
  KEX_ECDH_INIT: 30,
  KEX_ECDH_REPLY: 31,
} as const;

export const KEY_EXCHANGE_FAILED = 3;

export function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** Reads SSH strings from a payload in order. */
export class Reader {
  private pos: number;
  constructor(
    private readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }
  byte(): number {
    return this.buf[this.pos++]!;
  }
  uint32(): number {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  string(): Buffer {
    const len = this.uint32();
    const v = this.buf.subarray(this.pos, this.pos + len);
    if (v.length !== len) throw new Error('truncated string');
    this.pos += len;
    return v;
  }
}

/** A KEXINIT payload offering exactly the given algorithms (one cipher/MAC both ways, no compression). */
export function kexinit(o: { kex: string; hostKey: string; cipher: string; mac: string }): Buffer {
  return Buffer.concat([
    Buffer.from([MSG.KEXINIT]),
    randomBytes(16),
    ...[o.kex, o.hostKey, o.cipher, o.cipher, o.mac, o.mac, 'none', 'none', '', ''].map((s) => sshString(s)),
    Buffer.from([0, 0, 0, 0, 0]),
  ]);
}

interface Keys {
  cipher: ReturnType<typeof createCipheriv>;
  macKey: Buffer;
}

/** One side of a connection: a socket with a receive buffer, packet framing and optional encryption. */
export class RawSsh {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended = false;
  private sendSeq = 0;
  private recvSeq = 0;
  private out: Keys | undefined;
  private in: { decipher: ReturnType<typeof createDecipheriv>; macKey: Buffer } | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    const end = () => {
      this.ended = true;
      this.waiter?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static connect(port: number): Promise<RawSsh> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawSsh(socket)));
      socket.once('error', reject);
    });
  }

  /** Resolves when more data arrives or the peer closes (or after 10 s, so a test fails rather than hangs). */
  private wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
    });
  }

  /** `n` bytes once buffered; undefined when the peer closed first. */
  private async take(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n) {
      if (this.ended) return undefined;
      await this.wait();
    }
    const v = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return v;
  }

  /** The peer's identification line, without CR LF (lines before it are skipped, as RFC 4253 4.2 allows). */
  async readIdent(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl).toString('latin1').replace(/\r$/, '');
        this.buf = this.buf.subarray(nl + 1);
        if (line.startsWith('SSH-')) return line;
        continue;
      }
      if (this.ended) throw new Error('closed before identification');
      await this.wait();
    }
  }

  writeIdent(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** Sends a payload in a binary packet (encrypted and MACed once keys are set). */
  writePacket(payload: Buffer): void {
    const block = this.out ? 16 : 8;
    let padding = block - ((5 + payload.length) % block);
    if (padding < 4) padding += block;
    const packet = Buffer.alloc(5 + payload.length + padding);
    packet.writeUInt32BE(1 + payload.length + padding, 0);
    packet[4] = padding;
    payload.copy(packet, 5);
    randomBytes(padding).copy(packet, 5 + payload.length);
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(this.sendSeq++ >>> 0);
    if (!this.out) {
      this.socket.write(packet);
      return;
    }
    const mac = createHmac('sha256', this.out.macKey).update(seq).update(packet).digest();
    this.socket.write(Buffer.concat([this.out.cipher.update(packet), mac]));
  }

  /** The next packet's payload, or undefined if the peer closed the connection. */
  async readPacket(): Promise<Buffer | undefined> {
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(this.recvSeq++ >>> 0);
    if (!this.in) {
      const head = await this.take(4);
      if (!head) return undefined;
      const rest = await this.take(head.readUInt32BE(0));
      if (!rest) return undefined;
      return rest.subarray(1, rest.length - rest[0]!);
    }
    const first = await this.take(16);
    if (!first) return undefined;
    const firstPlain = this.in.decipher.update(first);
    const length = firstPlain.readUInt32BE(0);
    const rest = await this.take(4 + length - 16);
    const mac = await this.take(32);
    if (!rest || !mac) return undefined;
    const packet = Buffer.concat([firstPlain, this.in.decipher.update(rest)]);
    const expected = createHmac('sha256', this.in.macKey).update(seq).update(packet).digest();
    if (!expected.equals(mac)) throw new Error('MAC mismatch: the peer derived different keys');
    return packet.subarray(5, packet.length - packet[4]!);
  }

  /**
   * Switches to aes128-ctr + hmac-sha2-256 with keys derived as RFC 4253 7.2 says, K given already encoded
   * (an SSH string for the hybrid kex, an mpint for the classic ones). `client` says which side we are.
   */
  setKeys(encodedK: Buffer, H: Buffer, sessionId: Buffer, client: boolean, direction: 'in' | 'out'): void {
    const derive = (letter: string, len: number) =>
      createHash('sha256')
        .update(encodedK)
        .update(H)
        .update(letter)
        .update(sessionId)
        .digest()
        .subarray(0, len);
    const [iv, key, mac] = client === (direction === 'out') ? ['A', 'C', 'E'] : ['B', 'D', 'F'];
    const ivBuf = derive(iv!, 16);
    const keyBuf = derive(key!, 16);
    const macKey = derive(mac!, 32);
    if (direction === 'out') this.out = { cipher: createCipheriv('aes-128-ctr', keyBuf, ivBuf), macKey };
    else {
      this.in = { decipher: createDecipheriv('aes-128-ctr', keyBuf, ivBuf), macKey };
    }
  }

  /** Waits for the peer to close; true if it did within the time. */
  async closed(ms = 10_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
