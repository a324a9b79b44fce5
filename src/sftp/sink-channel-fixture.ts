// A test channel with Ferry's ssh2 data sink, for the SFTP server's copying input (channel-input.ts).
import { TestChannel } from './serve-sftp-fixture.js';

/**
 * ssh2's channel with Ferry's data sink (patches/ssh2): the client's bytes reach the sink in pieces of up to 32 KiB
 * from one buffer that is overwritten after each call (a view kept by the server reads garbage), and a false return
 * holds the rest until the server's `_read()`, as ssh2 holds the window back.
 */
export class SinkTestChannel extends TestChannel {
  ferryDataSink: ((data: Buffer) => boolean) | null = null;
  /** Calls of the sink; times it asked to hold, and times `_read()` let the rest go. */
  calls = 0;
  holds = 0;
  resumes = 0;
  readonly #scratch = Buffer.allocUnsafe(32 * 1024);
  readonly #queue: Buffer[] = [];
  #holding = false;

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null || this.ferryDataSink === null) return super.push(chunk, encoding);
    this.#queue.push(Buffer.from(chunk as Buffer));
    this.#deliver();
    return true;
  }

  override _read(): void {
    if (!this.#holding) return;
    this.#holding = false;
    this.resumes++;
    this.#deliver();
  }

  #deliver(): void {
    const scratch = this.#scratch;
    while (!this.#holding && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const n = Math.min(head.length, scratch.length);
      head.copy(scratch, 0, 0, n);
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
      this.calls++;
      const more = this.ferryDataSink!(scratch.subarray(0, n));
      scratch.fill(0xa5);
      if (!more) {
        this.#holding = true;
        this.holds++;
      }
    }
  }
}
