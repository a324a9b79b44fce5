// Message data for OpenPGP: whole in memory or streamed (Node or web streams), converted and peeked at without loss.
import { Readable } from 'node:stream';
import { ReadableStream as WebReadableStream } from 'node:stream/web';

/** Message input or output: whole in memory, a Node stream, or a web stream. */
export type PgpData = Uint8Array | Readable | WebReadableStream<Uint8Array>;
/** The output kind matching an input kind. */
export type Same<T extends PgpData> = T extends Uint8Array
  ? Uint8Array
  : T extends Readable
    ? Readable
    : WebReadableStream<Uint8Array>;

export function toWeb(data: Readable | WebReadableStream<Uint8Array>): WebReadableStream<Uint8Array> {
  return data instanceof Readable ? (Readable.toWeb(data) as WebReadableStream<Uint8Array>) : data;
}

export function fromWeb<T extends PgpData>(input: T, output: unknown): Same<T> {
  if (input instanceof Uint8Array) return output as Same<T>;
  const web = output as WebReadableStream<Uint8Array>;
  return (input instanceof Readable ? Readable.fromWeb(web) : web) as Same<T>;
}

/** Reads up to `n` leading bytes of a web stream and gives back a stream that still yields everything. */
export async function peek(
  stream: WebReadableStream<Uint8Array>,
  n: number,
): Promise<[Buffer, WebReadableStream<Uint8Array>]> {
  const reader = stream.getReader();
  const head: Uint8Array[] = [];
  let size = 0;
  while (size < n) {
    const { value, done } = await reader.read();
    if (done) break;
    head.push(value);
    size += value.length;
  }
  const rest = new WebReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of head) controller.enqueue(chunk);
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return [Buffer.concat(head), rest];
}

/** Passes a stream through, replacing an error it ends with by `map(error)` (errors of a streamed decryption arrive late). */
export function mapStreamErrors(
  source: WebReadableStream<Uint8Array>,
  map: (err: unknown) => Error,
): WebReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new WebReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(map(err));
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
