// A channel to a scripted SFTP server that answers with the server's own encoders: the client engine's tests
// drive it without SSH, and see every write the client makes on the channel.
import { Duplex } from 'node:stream';
import { DEFAULT_MAX_PACKET_LENGTH, FXP } from '../sftp/wire/constants.js';
import { PacketFramer } from '../sftp/wire/framer.js';
import { PacketReader } from '../sftp/wire/reader.js';
import { encodeVersion } from '../sftp/wire/writer.js';

/** A reply, or several pushed one after another (a reply cut into channel chunks, say). */
export type Answer = (type: number, id: number, request: PacketReader) => Buffer | Buffer[];

export interface ScriptedServerOptions {
  readonly extensions?: ReadonlyArray<readonly [string, string]>;
  /** Told of every channel write the client makes (the buffer written), before its requests are answered. */
  readonly onWrite?: (chunk: Buffer) => void;
}

export function scriptedServer(answer: Answer, options: ScriptedServerOptions = {}): Duplex {
  const framer = new PacketFramer(DEFAULT_MAX_PACKET_LENGTH);
  const channel: Duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      options.onWrite?.(chunk);
      framer.push(chunk);
      for (let packet = framer.next(); packet !== null; packet = framer.next()) {
        const request = new PacketReader(packet);
        const type = request.uint8();
        if (type === FXP.INIT) channel.push(encodeVersion(options.extensions ?? []));
        else for (const reply of [answer(type, request.uint32(), request)].flat()) channel.push(reply);
      }
      done();
    },
  });
  return channel;
}
