// An upload's request body arrives in the pieces TLS and HTTP cut it into (16 KiB records); written one by one,
// each costs a store write, its hash update and its await. This gathers them into large writes and keeps one in
// flight while the next is gathered, so the socket is read while the disk is written, in order.

/** Bytes gathered before a write: the size SFTP clients' large writes come in. */
export const GATHER_BYTES = 256 * 1024;

export class GatheredWrites {
  private pieces: Buffer[] = [];
  private gathered = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private written: number;

  /** `write(at, data)` is called in order, one at a time; `offset` is where the first byte goes. */
  constructor(
    private readonly write: (at: number, data: Buffer) => Promise<void>,
    offset: number,
  ) {
    this.written = offset;
  }

  /** The offset after every byte pushed so far (written or gathered). */
  get end(): number {
    return this.written + this.gathered;
  }

  /** Takes `data`; resolves once it is gathered, or handed to a write when enough is (a write's failure rejects). */
  async push(data: Buffer): Promise<void> {
    this.pieces.push(data);
    this.gathered += data.length;
    if (this.gathered >= GATHER_BYTES) await this.flush();
  }

  /** Writes what is gathered and waits for every write; the offset after the last byte written. */
  async finish(): Promise<number> {
    await this.flush();
    await this.inFlight;
    return this.written;
  }

  /** Waits for the write in flight, ignoring its outcome (before giving up on the upload for another reason). */
  async settle(): Promise<void> {
    await this.inFlight.catch(() => {});
  }

  private async flush(): Promise<void> {
    // The previous write first: its failure ends the upload, and writes stay in order.
    await this.inFlight;
    if (this.gathered === 0) return;
    const data = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.gathered);
    const at = this.written;
    this.pieces = [];
    this.gathered = 0;
    this.written += data.length;
    this.inFlight = this.write(at, data);
  }
}
