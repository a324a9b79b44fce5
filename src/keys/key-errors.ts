// The one error every key reader throws: a one-line message plus a machine-readable reason for the CLI and API.
import { InvalidArgumentError } from '../errors.js';

export type KeyErrorReason =
  | 'truncated'
  | 'malformed'
  | 'passphrase-required'
  | 'wrong-passphrase'
  | 'unsupported-type'
  | 'unsupported-format'
  | 'public-key'
  | 'weak-key';

export class KeyParseError extends InvalidArgumentError {
  readonly reason: KeyErrorReason;
  constructor(reason: KeyErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export const PASSPHRASE_REQUIRED = 'key is encrypted: passphrase required';
export const WRONG_PASSPHRASE = 'wrong passphrase';
export const DSA_UNSUPPORTED = 'DSA keys are not supported';
export const PUBLIC_NOT_PRIVATE = 'this is a public key; a private key is needed';
