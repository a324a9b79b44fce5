// Bytes kept as the buffers they arrived in, so a large payload crosses layers without being copied together.

/**
 * Bytes in order: one Buffer, or several that follow one another. An SFTP WRITE's data is parsed as slices of
 * the channel chunks it arrived in; a small one stays so down to the pwritev that stores it, a large one is
 * copied once into a pooled buffer when accepted (sftp/write-buffers.ts).
 */
export type ByteChunks = Buffer | readonly Buffer[];

export function byteLength(data: ByteChunks): number {
  if (Buffer.isBuffer(data)) return data.length;
  let length = 0;
  for (const chunk of data) length += chunk.length;
  return length;
}

/** The chunks as a list (a single Buffer is a list of one); nothing is copied. */
export function chunksOf(data: ByteChunks): readonly Buffer[] {
  return Buffer.isBuffer(data) ? [data] : data;
}
