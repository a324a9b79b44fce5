// Helpers of the SFTP wire tests: a packet framed and unframed, a full ATTRS, and the one error malformed input may give.
import assert from 'node:assert/strict';
import { ProtocolError } from '../../errors.js';
import type { Attrs } from './reader.js';
import { PacketWriter } from './writer.js';

/** Strips the uint32 length, as the framer does, and checks it matches. */
export function body(packet: Buffer): Buffer {
  assert.equal(packet.readUInt32BE(0), packet.length - 4);
  return packet.subarray(4);
}

export function frame(type: number, fill: (w: PacketWriter) => void): Buffer {
  const writer = new PacketWriter(type);
  fill(writer);
  return writer.finish();
}

export const FULL_ATTRS: Attrs = {
  size: 2 ** 40 + 7,
  uid: 1000,
  gid: 1001,
  permissions: 0o100644,
  atime: 1_700_000_000,
  mtime: 1_700_000_123,
  extended: [['vendor@example.com', Buffer.from('value')]],
};

export function assertProtocolError(fn: () => unknown, label: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError, label);
}
