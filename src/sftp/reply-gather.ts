// Small SFTP replies of one turn of the event loop leave as one channel write: one SSH packet, one encryption and one
// socket write, where each STATUS of an upload's WRITEs was all three of its own.
import type { Duplex } from 'node:stream';

/** Replies up to this size are gathered (STATUS, HANDLE, ATTRS; a DATA reply or a long NAME list goes at once). */
export const SMALL_REPLY_BYTES = 1024;
/** Gathered replies go out once they hold this much: about one SSH packet's payload. */
const GATHER_BYTES = 32 * 1024;

/**
 * Why at the end of the turn (setImmediate) and not in a microtask: a pwritev that completes many pipelined WRITEs
 * resumes each of their handlers through several promise hops, so a microtask flush would go out after the first
 * reply with the rest still on their way. The wait is within the same turn of the loop.
 */
export class ReplyGather {
  readonly #channel: Duplex;
  readonly #closed: () => boolean;
  #packets: Buffer[] = [];
  #bytes = 0;
  #callbacks: Array<() => void> = [];
  #scheduled: NodeJS.Immediate | undefined;

  /** `closed` says the channel is gone: what is gathered then is dropped and its callbacks called. */
  constructor(channel: Duplex, closed: () => boolean) {
    this.#channel = channel;
    this.#closed = closed;
  }

  /** Sends `packet` after every reply sent before it; `flushed` runs once the channel has taken it (or is gone). */
  send(packet: Buffer, flushed?: () => void): void {
    if (packet.length > SMALL_REPLY_BYTES) {
      this.flush();
      if (this.#closed()) flushed?.();
      else this.#channel.write(packet, flushed ? () => flushed() : undefined);
      return;
    }
    this.#packets.push(packet);
    this.#bytes += packet.length;
    if (flushed) this.#callbacks.push(flushed);
    if (this.#bytes >= GATHER_BYTES) this.flush();
    else this.#scheduled ??= setImmediate(this.#flushTask);
  }

  readonly #flushTask = (): void => {
    this.#scheduled = undefined;
    this.flush();
  };

  /** Sends what is gathered now (before a large reply, or before the channel is ended). */
  flush(): void {
    if (this.#scheduled) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    if (this.#packets.length === 0) return;
    const packets = this.#packets;
    const callbacks = this.#callbacks;
    this.#packets = [];
    this.#callbacks = [];
    this.#bytes = 0;
    const done =
      callbacks.length === 0
        ? undefined
        : () => {
            for (const callback of callbacks) callback();
          };
    if (this.#closed()) done?.();
    else this.#channel.write(packets.length === 1 ? packets[0]! : Buffer.concat(packets), done);
  }
}
