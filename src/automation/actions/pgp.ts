// OpenPGP file actions (encrypt, decrypt) through the core, as the event's user, with the Key Manager's keys.
import type { FileSession, OpenMode } from '../../core/types.js';
import { InvalidArgumentError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { PgpKeyMaterial } from '../../vfs/pgp/decrypt-arrival.js';
import type { EventFields } from '../event-names.js';
import type { ActionRunner, PgpDecryptAction, PgpEncryptAction } from '../types.js';
import { exists, fileEventRunner, makeParents, READ, targetOf, WRITE } from './file.js';
import type { UserSessionDeps } from './user-session.js';

/** Decrypted output is checked only at its end: it goes to a hidden partial, renamed into place once verified. */
const DECRYPT_WRITE: OpenMode = { ...WRITE, atomic: true };
const ENCRYPTED_SUFFIX = /\.(pgp|gpg|asc)$/i;

export interface PgpRunnerDeps extends UserSessionDeps {
  readonly log: Logger;
  /** The Key Manager's OpenPGP keys, looked up by fingerprint per run. */
  readonly keys: PgpKeyMaterial;
}

/**
 * `encrypt` and `decrypt`: like the other file actions (file.ts) they open a core session as the action's
 * `user` (default: the event's), so permissions, the home jail, atomic uploads, events and audit apply, and the
 * file they write never fires the rule that wrote it. Refused messages (tampered, not for Ferry's keys, unsigned
 * or signed by another key) and missing keys are permanent failures: dead-lettered, not retried.
 */
export function createPgpRunners(deps: PgpRunnerDeps): {
  readonly encrypt: ActionRunner<PgpEncryptAction>;
  readonly decrypt: ActionRunner<PgpDecryptAction>;
} {
  return {
    encrypt: fileEventRunner<PgpEncryptAction>(deps, 'encrypt', (s, source, action, fields) =>
      encrypt(s, source, action, fields, deps.keys),
    ),
    decrypt: fileEventRunner<PgpDecryptAction>(deps, 'decrypt', (s, source, action, fields) =>
      decrypt(s, source, action, fields, deps.keys),
    ),
  };
}

async function encrypt(
  session: FileSession,
  source: string,
  action: PgpEncryptAction,
  fields: EventFields,
  keys: PgpKeyMaterial,
): Promise<string> {
  const target = action.target
    ? targetOf(action, fields, source, 'path')
    : `${source}${action.armor ? '.asc' : '.pgp'}`;
  if (target === source) throw new InvalidArgumentError('the encrypted file would replace its own source');
  // Delivered again after it went through (the source is gone, the message is there): done, not an error.
  if (action.removeSource && !(await exists(session, source)) && (await exists(session, target))) {
    return `${source} was already encrypted to ${target}`;
  }
  await makeParents(session, target);
  const from = await session.openFile(source, READ);
  const to = await session.openFile(target, WRITE);
  const { encryptInto } = await import('../../vfs/pgp/pgp-transform.js');
  await encryptInto(from, to, keys, {
    encryptTo: action.encryptTo,
    ...(action.signWith ? { signWith: action.signWith } : {}),
    ...(action.armor ? { armor: true } : {}),
  });
  await to.close();
  await from.close();
  if (action.removeSource) await session.remove(source);
  return `encrypted ${source} to ${target}${action.removeSource ? ' and removed it' : ''}`;
}

async function decrypt(
  session: FileSession,
  source: string,
  action: PgpDecryptAction,
  fields: EventFields,
  keys: PgpKeyMaterial,
): Promise<string> {
  let target: string;
  if (action.target) target = targetOf(action, fields, source, 'path');
  else if (ENCRYPTED_SUFFIX.test(source)) target = source.replace(ENCRYPTED_SUFFIX, '');
  else {
    throw new InvalidArgumentError(
      `${source} does not end in .pgp, .gpg or .asc; give the decrypt action a target`,
    );
  }
  if (target === source) throw new InvalidArgumentError('the decrypted file would replace its own source');
  if (action.removeSource && !(await exists(session, source)) && (await exists(session, target))) {
    return `${source} was already decrypted to ${target}`;
  }
  await makeParents(session, target);
  const existed = await exists(session, target);
  const from = await session.openFile(source, READ);
  const to = await session.openFile(target, DECRYPT_WRITE);
  const { decryptInto } = await import('../../vfs/pgp/pgp-transform.js');
  let signer: string | undefined;
  try {
    ({ signer } = await decryptInto(from, to, keys, {
      ...(action.decryptWith ? { decryptWith: action.decryptWith } : {}),
      ...(action.verifyWith ? { verifyWith: action.verifyWith } : {}),
    }));
  } catch (err) {
    // Plaintext was written to the partial before the check failed: none of it stays. The partial is cut to
    // nothing before the session aborts it; the target, if it existed, was never touched (whatever uploadMode).
    await to.setstat({ size: 0 }).catch(() => undefined);
    if (!existed) await session.remove(target).catch(() => undefined);
    throw err;
  }
  await to.close();
  await from.close();
  if (action.removeSource) await session.remove(source);
  return `decrypted ${source} to ${target}${signer ? `, signed by ${signer}` : ''}${action.removeSource ? ', source removed' : ''}`;
}
