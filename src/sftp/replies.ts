// Encodes a handler's Reply as the one packet that answers request `id`.
import type { Reply } from './dispatch.js';
import {
  encodeAttrs,
  encodeDataInPlace,
  encodeExtendedReply,
  encodeHandle,
  encodeName,
  encodeStatus,
} from './wire/writer.js';

/** A DATA reply is encoded in place in its read buffer; give the buffer back (reply.release) once written. */
export function encodeReply(id: number, reply: Reply): Buffer {
  switch (reply.kind) {
    case 'status':
      return encodeStatus(id, reply.status.code, reply.status.message);
    case 'handle':
      return encodeHandle(id, reply.handle);
    case 'name':
      return encodeName(id, reply.entries);
    case 'attrs':
      return encodeAttrs(id, reply.attrs);
    case 'extended':
      return encodeExtendedReply(id, reply.fill);
    case 'data':
      // One channel write: a separate header would cost ssh2 a CHANNEL_DATA packet of its own.
      return encodeDataInPlace(id, reply.packet);
  }
}
