// The stable code of a failed job run, for its event: what an alert rule or a dashboard keys on instead of text.
import { toFerryError } from '../errors.js';
import type { JobErrorCode } from '../events/types.js';
import {
  ConnectError,
  HostKeyRejectedError,
  PartnerLoginError,
  PartnerUnreachableError,
} from './connection.js';
import { CertificateRejectedError } from './ftps-connection.js';
import { CertificateChangedError } from './ftps-partner.js';
import { HostKeyChangedError, HostKeyNotTrustedError } from './partners.js';
import { IntegrityError, TransferAbortedError } from './transfer.js';

export function jobErrorCode(err: unknown, aborted = false): JobErrorCode {
  if (aborted || err instanceof TransferAbortedError) return 'ERR_ABORTED';
  if (err instanceof PartnerUnreachableError) return 'ERR_PARTNER_UNREACHABLE';
  if (err instanceof PartnerLoginError) return 'ERR_PARTNER_LOGIN_FAILED';
  if (err instanceof ConnectError) return 'ERR_PARTNER_CONNECTION';
  if (err instanceof HostKeyNotTrustedError) return 'ERR_HOST_KEY_NOT_TRUSTED';
  if (err instanceof HostKeyChangedError || err instanceof CertificateChangedError)
    return 'ERR_HOST_KEY_CHANGED';
  if (err instanceof HostKeyRejectedError || err instanceof CertificateRejectedError)
    return 'ERR_HOST_KEY_REJECTED';
  if (err instanceof IntegrityError) return 'ERR_INTEGRITY';
  return toFerryError(err).code;
}
