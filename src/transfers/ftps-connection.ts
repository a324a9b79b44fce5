// Opens an FTPS connection to a partner with basic-ftp: explicit (AUTH TLS) or implicit TLS, the server's certificate
// checked (a pinned SHA-256, or a CA file and the host name) before any credential is sent, and every data
// connection held to the same identity.
import { createRequire } from 'node:module';
import { type ConnectionOptions, TLSSocket } from 'node:tls';
import type * as BasicFtp from 'basic-ftp';
import { FerryError } from '../errors.js';
import type { Secret } from '../util/secret.js';
import type { PresentedHostKey } from './connection.js';
import { ConnectError, PartnerLoginError, PartnerUnreachableError } from './connection.js';

/** Loaded on the first FTPS connection only: most commands (and SFTP-only installations) never need it. */
const loadBasicFtp = () => createRequire(import.meta.url)('basic-ftp') as typeof BasicFtp;

const DEFAULT_TIMEOUT_MS = 20_000;
/** The SHA-256 of a certificate as openssl and Node print it: 32 upper-case hex bytes joined by colons. */
export const CERT_FINGERPRINT = /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/;

/** `aa:bb…`, `AABB…` or `SHA256 AA:BB:…` (Ferry's start-up line) as the one stored form, or undefined. */
export function normalizeCertFingerprint(text: string): string | undefined {
  const hex = text
    .trim()
    .replace(/^sha-?256[: ]?\s*/i, '')
    .replace(/:/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** How the server's certificate is judged: a pinned fingerprint, a CA bundle (+ host name), or only fetched. */
export type CertificatePolicy =
  | { readonly kind: 'pin'; readonly sha256: string }
  | { readonly kind: 'ca'; readonly ca: string }
  | { readonly kind: 'fetch' };

export interface FtpsConnectOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (990-style) instead of AUTH TLS on a plain control connection. */
  readonly implicit: boolean;
  readonly username: string;
  readonly password?: Secret<string>;
  readonly certificate: CertificatePolicy;
  /** Told the presented certificate when it is not the pinned one (the caller words the refusal). */
  readonly onMismatch?: (presented: PresentedHostKey) => Error;
  readonly timeoutMs?: number;
}

export interface FtpsConnection {
  readonly client: BasicFtp.Client;
  readonly certificate: PresentedHostKey;
  readonly tls: { readonly version: string; readonly cipher: string };
  /** The server's first reply (its greeting), for `partners test`. */
  readonly welcome: string;
  /** FEAT keywords, upper case. */
  readonly features: ReadonlyMap<string, string>;
  /** The server answers `HASH path` with a SHA-256 (draft-bryan-ftpext-hash; Ferry, FileZilla Server). */
  readonly canHash: boolean;
  readonly timings: { readonly connectMs: number; readonly loginMs: number };
  close(): Promise<void>;
}

/** The certificate was not accepted (only fetched, or not the pinned one); nothing was sent after the handshake. */
export class CertificateRejectedError extends FerryError {
  readonly presented: PresentedHostKey;
  constructor(presented: PresentedHostKey, message: string) {
    super('ERR_PERMISSION_DENIED', message);
    this.presented = presented;
  }
}

export function presentedCertificate(socket: TLSSocket): PresentedHostKey | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert?.fingerprint256 || !cert.raw) return undefined;
  return { algorithm: 'x509', blob: cert.raw, sha256: cert.fingerprint256.toUpperCase() };
}

/**
 * Every data connection must present the pinned certificate too, or resume the control connection's session
 * (which only the server that showed it can). Installed on the one place basic-ftp hands a data socket over,
 * before its transfer code listens to it, so a wrong peer is cut before a byte is read from or written to it.
 */
function guardDataConnections(client: BasicFtp.Client, pinned: string): void {
  const ftp = client.ftp;
  const accessor = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(ftp), 'dataSocket');
  if (!accessor?.set || !accessor.get) throw new FerryError('ERR_PROTOCOL', 'basic-ftp has no dataSocket');
  const { get, set } = accessor;
  Object.defineProperty(ftp, 'dataSocket', {
    configurable: true,
    get() {
      return get.call(this);
    },
    set(socket: unknown) {
      if (socket instanceof TLSSocket) {
        socket.once('secureConnect', () => {
          const presented = presentedCertificate(socket);
          if (presented?.sha256 === pinned || (!presented && socket.isSessionReused())) return;
          socket.destroy(
            new FerryError(
              'ERR_PERMISSION_DENIED',
              `data connection presented certificate ${presented?.sha256 ?? 'none'}, not the pinned one`,
            ),
          );
        });
      }
      set.call(this, socket);
    },
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Connects, checks the certificate, logs in and sets binary mode with protected data connections (PROT P). */
export async function connectFtps(options: FtpsConnectOptions): Promise<FtpsConnection> {
  const { Client, FTPError } = loadBasicFtp();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new Client(timeoutMs);
  const where = `${options.host}:${options.port}`;
  const policy = options.certificate;
  // `host` names the TLS identity: the CA check's host name, and the session data connections resume
  // (basic-ftp passes the same options to them).
  const tlsOptions: ConnectionOptions = {
    host: options.host,
    minVersion: 'TLSv1.2',
    ...(policy.kind === 'ca' ? { ca: policy.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
  };
  if (policy.kind === 'pin') guardDataConnections(client, policy.sha256);
  const started = performance.now();
  let connectMs = 0;
  let welcome = '';
  try {
    try {
      if (options.implicit) {
        welcome = (await client.connectImplicitTLS(options.host, options.port, tlsOptions)).message;
        connectMs = performance.now() - started;
      } else {
        welcome = (await client.connect(options.host, options.port)).message;
        connectMs = performance.now() - started;
        await client.useTLS(tlsOptions);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (connectMs === 0 && (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND'))
        throw new PartnerUnreachableError(`cannot connect to ${where}: ${describe(err)}`, { cause: err });
      if (err instanceof FTPError)
        throw new ConnectError(`${where} refused TLS (${err.code} ${err.message})`, { cause: err });
      throw new ConnectError(`${where}: TLS handshake failed: ${describe(err)}`, { cause: err });
    }
    const socket = client.ftp.socket as TLSSocket;
    const certificate = presentedCertificate(socket);
    if (!certificate) throw new ConnectError(`${where} presented no certificate`);
    if (policy.kind === 'fetch')
      throw new CertificateRejectedError(certificate, `certificate ${certificate.sha256} was not accepted`);
    if (policy.kind === 'pin' && certificate.sha256 !== policy.sha256)
      throw (
        options.onMismatch?.(certificate) ??
        new CertificateRejectedError(certificate, `${where} presented certificate ${certificate.sha256}`)
      );
    try {
      await client.login(options.username, options.password?.reveal() ?? '');
    } catch (err) {
      if (err instanceof FTPError && err.code >= 500)
        throw new PartnerLoginError(
          `login as ${options.username} to ${where} failed (${err.code} ${err.message})`,
        );
      throw err;
    }
    await client.useDefaultSettings();
    const raw = await client.features();
    const features = new Map([...raw].map(([k, v]) => [k.toUpperCase(), v]));
    // HASH answers with the server's current algorithm: select SHA-256, and rely on it only when accepted.
    const canHash =
      /SHA-256/i.test(features.get('HASH') ?? '') &&
      (await client.sendIgnoringError('OPTS HASH SHA-256')).code < 300;
    return {
      client,
      certificate,
      tls: { version: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher()?.name ?? 'unknown' },
      welcome,
      features,
      canHash,
      timings: { connectMs, loginMs: performance.now() - started - connectMs },
      close: async () => {
        // QUIT is polite; the socket is closed whatever the server does.
        await Promise.race([
          client.send('QUIT').catch(() => undefined),
          new Promise((resolve) => setTimeout(resolve, 2000).unref()),
        ]);
        client.close();
      },
    };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** The hex SHA-256 the server computes of a file (`HASH`: `213 SHA-256 0-SIZE HEX path`). */
export async function remoteSha256(conn: FtpsConnection, path: string): Promise<string> {
  const reply = await conn.client.send(`HASH ${path}`);
  const match = /^\d{3}[ -]SHA-256\s+\S+\s+([0-9A-Fa-f]{64})\b/.exec(reply.message);
  if (!match) throw new FerryError('ERR_PROTOCOL', `unexpected HASH reply: ${reply.message.slice(0, 120)}`);
  return match[1]!.toLowerCase();
}
