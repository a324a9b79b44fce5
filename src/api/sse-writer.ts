// One Server-Sent Events response with a bounded backlog: a reader that falls behind is cut with a notice.
import type { ServerResponse } from 'node:http';
import { noticeMessage } from './event-feed.js';

/**
 * What one reader may have waiting in this process (beyond the socket's own buffers) before it is cut: more than
 * the replay ring, so a resume fits. The waiting messages are the feed's own strings, shared by every reader.
 */
export const SSE_BACKLOG = { messages: 4000, bytes: 4 * 1024 * 1024 } as const;
/** A cut reader whose socket still takes nothing after this long is destroyed (its buffers freed). */
const CUT_GRACE_MS = 10_000;

/**
 * Writes while the socket takes it; once `write` says the socket is full, messages wait here until 'drain'.
 * Past SSE_BACKLOG the waiting messages are discarded, an `overflow` notice is written and the response ends:
 * the reader reconnects with Last-Event-ID and resumes from the replay ring (or is told of the gap). So a reader
 * that never reads costs at most the backlog plus the kernel's socket buffers, however many events flow.
 */
export class SseWriter {
  readonly #raw: ServerResponse;
  readonly #onEnd: () => void;
  readonly #waiting: string[] = [];
  #waitingBytes = 0;
  #blocked = false;
  #ended = false;
  /** The id of the newest event handed to the socket, for the overflow notice. */
  #lastWritten: string | undefined;

  constructor(raw: ServerResponse, onEnd: () => void) {
    this.#raw = raw;
    this.#onEnd = onEnd;
    raw.on('drain', () => this.#flush());
  }

  get ended(): boolean {
    return this.#ended;
  }

  send(message: string): void {
    if (this.#ended) return;
    if (!this.#blocked) {
      this.#write(message);
      return;
    }
    this.#waiting.push(message);
    this.#waitingBytes += message.length;
    if (this.#waiting.length > SSE_BACKLOG.messages || this.#waitingBytes > SSE_BACKLOG.bytes)
      this.#overflow();
  }

  /** Ends the stream (server stopping, reader gone). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#waiting.length = 0;
    this.#raw.end();
    this.#onEnd();
  }

  #write(message: string): void {
    if (message.startsWith('id: ')) this.#lastWritten = message.slice(4, message.indexOf('\n'));
    if (!this.#raw.write(message)) this.#blocked = true;
  }

  #flush(): void {
    this.#blocked = false;
    while (!this.#blocked && this.#waiting.length > 0) {
      const message = this.#waiting.shift() as string;
      this.#waitingBytes -= message.length;
      this.#write(message);
    }
  }

  #overflow(): void {
    const dropped = this.#waiting.length;
    this.#waiting.length = 0;
    this.#waitingBytes = 0;
    this.#raw.write(
      noticeMessage('overflow', {
        reason: 'this reader fell behind; reconnect with Last-Event-ID to resume',
        dropped,
        ...(this.#lastWritten !== undefined ? { lastEventId: this.#lastWritten } : {}),
      }),
    );
    const socket = this.#raw.socket;
    this.end();
    // The connection goes too (not kept alive for another request): the reader sees the end once it reads on.
    const timer = setTimeout(() => socket?.destroy(), CUT_GRACE_MS);
    timer.unref();
    this.#raw.once('finish', () => {
      clearTimeout(timer);
      socket?.end();
    });
  }
}
