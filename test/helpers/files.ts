// Small file helpers shared by the integration tests.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** Hex SHA-256 of a file's content: how the tests compare what went over the wire. */
export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}
