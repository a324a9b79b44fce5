// The session and security events the SSH layer emits, shared by the connection (auth, limits) and its channels.
import type { CertificateLogin } from '../auth/certificate-login.js';
import type { SshServerOptions } from './options.js';

export function emitAuth(
  options: SshServerOptions,
  sessionId: string,
  remoteAddress: string,
  username: string,
  method: string,
  result: string,
  /** The external source that judged a password (LDAP), recorded as `source` beside the method. */
  source?: string,
  /** An OpenSSH user certificate's key id, serial and CA, recorded with the login it made. */
  certificate?: CertificateLogin,
): void {
  options.events.emit({
    type: 'session',
    phase: 'auth',
    at: new Date(),
    sessionId,
    remoteAddress,
    username,
    detail: { method, result, ...(source ? { source } : {}), ...(certificate ? { certificate } : {}) },
  });
}

export function emitSecurity(
  options: SshServerOptions,
  sessionId: string,
  remoteAddress: string,
  action: 'ban' | 'lockout' | 'limit',
  detail: Record<string, unknown>,
): void {
  options.events.emit({ type: 'security', action, at: new Date(), sessionId, remoteAddress, detail });
}
