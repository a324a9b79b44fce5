// Opens an SSH connection with ssh2's Client and starts SFTP on it: host key policy, logins, negotiated algorithms.
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type Ssh2 from 'ssh2';
import type { AuthenticationType, NegotiatedAlgorithms, NextAuthHandler } from 'ssh2';
import { FerryError } from '../errors.js';
import { sha256Fingerprint } from '../keys/ssh-keys.js';
import { type AlgorithmProfile, clientAlgorithmPolicy } from '../ssh-algorithms.js';
import { coalesceWrites } from '../util/coalesce-writes.js';
import type { Secret } from '../util/secret.js';
import { type SocketReadStats, SocketReads } from '../util/socket-reads.js';
import { explainMismatch, KexInitSniffer } from './kexinit.js';
import { SftpClient } from './sftp-client.js';

/** Required on the first connection: the CLI's store commands load the transfer service but never connect. */
const loadSsh2 = () => createRequire(import.meta.url)('ssh2') as typeof Ssh2;

const DEFAULT_TIMEOUT_MS = 20_000;

/** The server's host key as presented during key exchange. */
export interface PresentedHostKey {
  readonly algorithm: string;
  readonly blob: Buffer;
  /** `SHA256:...` as ssh-keygen prints it. */
  readonly sha256: string;
}

/** Decides whether to go on with this host key (may ask a person); false aborts before any login. */
export type HostKeyPolicy = (key: PresentedHostKey) => boolean | Promise<boolean>;

export interface LoginCredentials {
  readonly username: string;
  /** A password, or a function asked for one when the server wants it (an interactive prompt). */
  readonly password?: Secret<string> | (() => Promise<Secret<string>>);
  /** A private key ssh2 can parse (OpenSSH or PEM text). */
  readonly privateKey?: Secret<string>;
  /**
   * Asks a person to answer keyboard-interactive prompts that are not a password prompt (a one-time code);
   * without it such prompts end the login instead of being answered with the password.
   */
  readonly answerPrompts?: (prompts: readonly KeyboardPrompt[], instructions: string) => Promise<string[]>;
}

export interface KeyboardPrompt {
  readonly prompt: string;
  readonly echo: boolean;
}

/** What PAM-style servers ask when keyboard-interactive stands in for the password method. */
const PASSWORD_PROMPT = /pass(word|phrase)/i;

export interface ConnectOptions extends LoginCredentials {
  readonly host: string;
  readonly port: number;
  readonly hostKey: HostKeyPolicy;
  /** Host key algorithm type to ask for first (the pinned key's type), e.g. 'ssh-ed25519'. */
  readonly preferHostKeyType?: string | null;
  /** The algorithms offered: the server's policy (src/ssh-algorithms.ts), 'modern' unless told otherwise. */
  readonly algorithms?: AlgorithmProfile;
  /** How a person switches to 'compat', named when a failed negotiation would have passed under it. */
  readonly compatHint?: string;
  /** Who is connected to, in a failed negotiation's message (`partner bank`). */
  readonly label?: string;
  readonly timeoutMs?: number;
  /** Handshake and login, which may include a person answering prompts (default: timeoutMs). */
  readonly readyTimeoutMs?: number;
}

export interface SftpConnection {
  readonly sftp: SftpClient;
  readonly hostKey: PresentedHostKey;
  readonly algorithms: NegotiatedAlgorithms;
  /** The software part of the server's identification line, e.g. `OpenSSH_9.2p1`. */
  readonly serverBanner: string;
  /** TCP connect, then handshake + login + SFTP start, in milliseconds. */
  readonly timings: { readonly connectMs: number; readonly loginMs: number };
  /** How the socket's reads went (socket-reads.ts): into one reused buffer once the session is up. */
  readonly socketReads: SocketReadStats;
  close(): Promise<void>;
}

export class HostKeyRejectedError extends FerryError {
  readonly presented: PresentedHostKey;
  constructor(presented: PresentedHostKey, message: string) {
    super('ERR_PERMISSION_DENIED', message);
    this.presented = presented;
  }
}

export class ConnectError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IO', message, options);
  }
}

/** No TCP connection to the partner at all (refused, unreachable, unknown name, timed out). */
export class PartnerUnreachableError extends ConnectError {}

/** The server and Ferry's client have no algorithm of one kind in common: one line says which and what would do. */
export class NoCommonAlgorithmError extends ConnectError {}

/** The partner refused every credential offered (ssh2's client-authentication failure). */
export class PartnerLoginError extends FerryError {
  constructor(message: string) {
    super('ERR_PERMISSION_DENIED', message);
  }
}

/** The key type named inside a public key blob (its first SSH string). */
export function blobKeyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + Math.min(len, blob.length - 4)).toString('latin1');
}

export function presentedHostKey(blob: Buffer): PresentedHostKey {
  return { algorithm: blobKeyType(blob), blob, sha256: sha256Fingerprint(blob) };
}

/**
 * Public key first, then password, then keyboard-interactive. A password prompt there is answered with the
 * password unless the server already took it as a factor (PAM servers offer only keyboard-interactive); any other
 * prompt (a one-time code after the password) goes to `answerPrompts`, a person, or ends the login.
 */
function authHandler(credentials: LoginCredentials) {
  const tried = new Set<AuthenticationType>();
  let last: AuthenticationType | undefined;
  /** The server took the password as one factor (partial success): a later prompt wants something else. */
  let passwordAccepted = false;
  const { username, privateKey, answerPrompts } = credentials;
  let password: Promise<Secret<string>> | undefined;
  // Asked for at most once, and only when the server wants a password (interactive clients prompt here).
  const getPassword = () => {
    const source = credentials.password;
    password ??= typeof source === 'function' ? source() : Promise.resolve(source!);
    return password;
  };
  const order: AuthenticationType[] = [
    ...(privateKey ? (['publickey'] as const) : []),
    ...(credentials.password ? (['password'] as const) : []),
    ...(credentials.password || answerPrompts ? (['keyboard-interactive'] as const) : []),
  ];
  const answer = async (prompts: readonly KeyboardPrompt[], instructions: string): Promise<string[]> => {
    const isPassword = (p: KeyboardPrompt) =>
      credentials.password !== undefined && !passwordAccepted && PASSWORD_PROMPT.test(p.prompt);
    if (prompts.every(isPassword)) {
      const secret = await getPassword();
      return prompts.map(() => secret.reveal());
    }
    if (!answerPrompts) throw new Error('keyboard-interactive prompts need a person to answer them');
    return answerPrompts(prompts, instructions);
  };
  return (left: AuthenticationType[] | null, partial: boolean, next: NextAuthHandler) => {
    if (last === 'password' && partial) passwordAccepted = true;
    const method = order.find((m) => !tried.has(m) && (!left || left.includes(m)));
    last = method;
    if (!method) {
      // ssh2 ends authentication on `false`; its type declarations omit that value.
      next(false as unknown as AuthenticationType);
      return;
    }
    if (method === 'publickey') {
      tried.add(method);
      next({ type: 'publickey', username, key: privateKey!.reveal() });
      return;
    }
    if (method === 'keyboard-interactive') {
      tried.add(method);
      next({
        type: 'keyboard-interactive',
        username,
        prompt: (_name, instructions, _lang, prompts, finish) => {
          if (prompts.length === 0) {
            finish([]);
            return;
          }
          const asked = prompts.map((p) => ({ prompt: p.prompt, echo: p.echo === true }));
          answer(asked, instructions).then(
            (answers) => finish(answers),
            // No answer to give (prompt cancelled, nobody to ask): send none, the server refuses.
            () => finish([]),
          );
        },
      });
      return;
    }
    tried.add(method);
    getPassword().then(
      (secret) => next({ type: 'password', username, password: secret.reveal() }),
      // No password to give (prompt cancelled): end authentication.
      () => next(false as unknown as AuthenticationType),
    );
  };
}

function tcpConnect(host: string, port: number, timeoutMs: number, reads: SocketReads): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, onread: reads.onread });
    reads.attach(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PartnerUnreachableError(`connect to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      // Without it, small SFTP requests wait on Nagle and uploads crawl.
      socket.setNoDelay(true);
      coalesceWrites(socket);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new PartnerUnreachableError(`cannot connect to ${host}:${port}: ${err.message}`, { cause: err }),
      );
    });
  });
}

export async function connectSftp(options: ConnectOptions): Promise<SftpConnection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const reads = new SocketReads();
  const socket = await tcpConnect(options.host, options.port, timeoutMs, reads);
  const connectMs = performance.now() - started;
  const client = new (loadSsh2().Client)();
  let presented: PresentedHostKey | undefined;
  let refusal: Error | undefined;
  let algorithms: NegotiatedAlgorithms | undefined;
  let banner = '';
  const profile = options.algorithms ?? 'modern';
  const sniffer = new KexInitSniffer();
  // ssh2 names only the kind that failed; the server's own lists make the message one a person can act on.
  const negotiationFailure = () => {
    const line =
      sniffer.offer &&
      explainMismatch(
        profile,
        sniffer.offer,
        `${options.host}:${options.port}`,
        options.compatHint ?? 'use --algorithms compat',
      );
    return line ? new NoCommonAlgorithmError(options.label ? `${options.label}: ${line}` : line) : undefined;
  };
  client.on('handshake', (negotiated) => {
    algorithms = negotiated;
  });
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    // `on`, not `once`: after a failed handshake ssh2 may report the reset socket too, which would be unhandled.
    client.on('error', (err: Error & { level?: string }) => {
      if (refusal) return reject(refusal);
      if (err.level === 'client-authentication')
        return reject(
          new PartnerLoginError(`login as ${options.username} to ${options.host}:${options.port} failed`),
        );
      if (err.level === 'handshake' || err.level === 'protocol') {
        const failure = negotiationFailure();
        if (failure) return reject(failure);
      }
      reject(new ConnectError(`${options.host}:${options.port}: ${err.message}`, { cause: err }));
    });
    client.once('close', () =>
      reject(refusal ?? negotiationFailure() ?? new ConnectError('connection closed during login')),
    );
  });
  const policy = clientAlgorithmPolicy(profile, options.preferHostKeyType);
  client.connect({
    sock: socket,
    username: options.username,
    readyTimeout: options.readyTimeoutMs ?? timeoutMs,
    keepaliveInterval: 15_000,
    // Exactly the policy's lists (ssh2 adds only its ext-info-c and strict-kex markers): ssh2's own defaults
    // would also offer SHA-1 MACs, ssh-rsa signatures and NIST ECDH first.
    algorithms: {
      kex: policy.kex,
      serverHostKey: policy.serverHostKey,
      cipher: policy.cipher,
      hmac: policy.hmac,
      compress: policy.compress,
    } as Ssh2.Algorithms,
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      presented = presentedHostKey(key);
      const key_ = presented;
      Promise.resolve()
        .then(() => options.hostKey(key_))
        .then(
          (ok) => {
            if (!ok) refusal ??= new HostKeyRejectedError(key_, `host key ${key_.sha256} was not accepted`);
            verify(ok);
          },
          (err: unknown) => {
            refusal = err instanceof Error ? err : new HostKeyRejectedError(key_, String(err));
            verify(false);
          },
        );
    },
    authHandler: authHandler(options),
  });
  // Attached after connect(), which paused the socket until ssh2 reads it, so both see every byte from the first.
  const sniff = (chunk: Buffer) => {
    sniffer.push(chunk);
    if (sniffer.done) socket.off('data', sniff);
  };
  socket.on('data', sniff);
  try {
    await ready;
    const channel = await new Promise<Duplex>((resolve, reject) => {
      client.subsys('sftp', (err, stream) => (err ? reject(err) : resolve(stream)));
    });
    const sftp = await SftpClient.start(channel);
    reads.arm((client as unknown as { _protocol: unknown })._protocol, () => sftp.payloadsReceived);
    // ssh2 keeps the server's software version (from its identification line) only on this field.
    banner = String((client as unknown as { _remoteVer?: string })._remoteVer ?? '');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    return {
      sftp,
      hostKey: presented!,
      algorithms: algorithms!,
      serverBanner: banner,
      timings: { connectMs, loginMs: performance.now() - started - connectMs },
      socketReads: reads.stats,
      close: async () => {
        sftp.end();
        client.end();
        const timer = setTimeout(() => client.destroy(), 2000);
        await closed;
        clearTimeout(timer);
      },
    };
  } catch (err) {
    client.destroy();
    throw err;
  }
}
