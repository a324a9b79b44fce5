// What `users totp enable` and `admins totp enable` print: a QR code of the otpauth URI, the URI, and the
// recovery codes, each shown only this once.
import type { Secret } from '../util/secret.js';

export async function printTotpEnrolment(
  uri: Secret<string>,
  recoveryCodes: Secret<string[]>,
  loginNeeds: string,
): Promise<void> {
  // Loaded only here: no other command draws QR codes.
  const { default: QRCode } = await import('qrcode');
  const qr = await QRCode.toString(uri.reveal(), { type: 'terminal', small: true });
  process.stdout.write(
    `${qr}\n${uri.reveal()}\n\nScan the code (or enter the URI) in an authenticator app.\n${loginNeeds}\n` +
      `Recovery codes, each usable once instead of a code (shown only now):\n${recoveryCodes
        .reveal()
        .map((c) => `  ${c}`)
        .join('\n')}\n`,
  );
}
