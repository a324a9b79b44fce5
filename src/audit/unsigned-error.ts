// The one error for "a checkpoint or a retention cut must be signed and there is no key to sign it".
import { FerryError } from '../errors.js';

export class AuditUnsignedError extends FerryError {
  constructor() {
    super(
      'ERR_INVALID_ARGUMENT',
      'audit checkpoints and retention cuts must be signed, and no Ed25519 host key is available',
    );
  }
}
