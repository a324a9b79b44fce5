// One FTPS control connection: reads command lines (bounded), upgrades to TLS on AUTH TLS, and runs each command
// through the table in commands.ts, one at a time (ABOR and STAT excepted: they act on a running transfer).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext, TLSSocket } from 'node:tls';
import { normalizeAddress } from '../auth/defender.js';
import type { PermissionPolicy } from '../core/permissions.js';
import type { ConnectionBudgets, FileSession } from '../core/types.js';
import type { Logger } from '../logger.js';
import type { UserRecord } from '../store/types.js';
import { COMMANDS } from './commands.js';
import type { CommandContext, ConnectionHooks, Transfer, TransferActivity } from './context.js';
import type { FtpsServerOptions } from './options.js';
import type { PassiveListener } from './passive.js';
import { FtpReplyError, replyFromError } from './replies.js';

/** Longest command line accepted (RFC 959 has no limit; a path of 4096 bytes plus the verb fits). */
export const MAX_LINE = 4200;

export const TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  // AEAD suites with forward secrecy only (TLS 1.3's three, and their TLS 1.2 equivalents).
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
} as const;

export class ControlConnection implements CommandContext {
  readonly sessionId = randomBytes(6).toString('hex');
  readonly connectedAt = new Date();
  readonly remoteAddress: string;
  readonly options: FtpsServerOptions;
  log: Logger;
  socket: Socket;
  secure = false;
  /** One per connection: its ticket keys are what a data connection's resumed session is checked against. */
  readonly secureContext: SecureContext;
  pbsz = false;
  protP = false;
  pendingUser: string | undefined;
  user: UserRecord | undefined;
  files: FileSession | undefined;
  budgets: ConnectionBudgets | undefined;
  readonly #gone = new AbortController();
  policy: PermissionPolicy | undefined;
  cwd = '/';
  restOffset = 0;
  renameFrom: string | undefined;
  passive: PassiveListener | undefined;
  transfer: Transfer | undefined;
  activity: TransferActivity | undefined;
  readonly hooks: ConnectionHooks;
  #buffer = '';
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #lastActivity = Date.now();

  constructor(socket: Socket, options: FtpsServerOptions, hooks: ConnectionHooks, implicit: boolean) {
    this.socket = socket;
    this.options = options;
    this.hooks = hooks;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.log = options.logger.child({ sessionId: this.sessionId, remoteAddress: this.remoteAddress });
    this.secureContext = createSecureContext({ cert: options.cert, key: options.key, ...TLS_OPTIONS });
    this.log.info({ implicit }, 'ftps connection');
    options.events.emit({
      type: 'session',
      phase: 'connect',
      at: new Date(),
      sessionId: this.sessionId,
      remoteAddress: this.remoteAddress,
      detail: { protocol: 'ftps', implicit, remotePort: socket.remotePort },
    });
    socket.once('close', () => this.#onClose());
    if (implicit) this.upgrade(Buffer.alloc(0), () => this.reply(220, 'Ferry FTPS ready'));
    else {
      this.#read(socket);
      this.reply(220, 'Ferry FTPS ready; AUTH TLS required');
    }
  }

  get gone(): AbortSignal {
    return this.#gone.signal;
  }

  get localAddress(): string {
    return this.socket.localAddress ?? '127.0.0.1';
  }

  get lastActivity(): number {
    return this.#lastActivity;
  }

  touch(): void {
    this.#lastActivity = Date.now();
  }

  reply(code: number, text: string | readonly string[]): void {
    if (this.#closed || this.socket.destroyed) return;
    const lines = typeof text === 'string' ? [text] : text;
    if (lines.length <= 1) {
      this.socket.write(`${code} ${lines[0] ?? ''}\r\n`);
      return;
    }
    const body = lines.slice(1, -1).map((l) => ` ${l}\r\n`);
    this.socket.write(`${code}-${lines[0]}\r\n${body.join('')}${code} ${lines.at(-1)}\r\n`);
  }

  close(): void {
    if (this.#closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** AUTH TLS or an implicit listener: the socket becomes TLS; any plaintext sent after AUTH is refused. */
  upgrade(pipelined: Buffer, onSecure: () => void): void {
    const raw = this.socket;
    raw.removeAllListeners('data');
    if (pipelined.length > 0) {
      // Commands injected before the handshake (the STARTTLS injection attack) must never run as if encrypted.
      this.log.warn('plaintext sent after AUTH TLS; closing');
      raw.destroy();
      return;
    }
    const tls = new TLSSocket(raw, { isServer: true, secureContext: this.secureContext });
    tls.once('error', (err) => {
      this.log.info({ err: err.message }, 'control TLS handshake failed');
      raw.destroy();
    });
    tls.once('secure', () => {
      tls.removeAllListeners('error');
      tls.on('error', (err) => this.log.debug({ err }, 'control connection error'));
      this.secure = true;
      this.socket = tls;
      this.log.info({ tls: tls.getProtocol(), cipher: tls.getCipher().name }, 'TLS established');
      this.#read(tls);
      onSecure();
    });
  }

  #read(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let newline = this.#buffer.indexOf('\n');
      while (newline >= 0) {
        const line = this.#buffer.slice(0, newline).replace(/\r$/, '');
        this.#buffer = this.#buffer.slice(newline + 1);
        if (!this.#line(line, socket)) return;
        newline = this.#buffer.indexOf('\n');
      }
      if (this.#buffer.length > MAX_LINE) {
        this.reply(500, 'Command line too long');
        this.close();
      }
    });
  }

  /** Returns false when the socket was handed over (AUTH TLS) and the rest of the buffer must not be read here. */
  #line(line: string, socket: Socket): boolean {
    if (line.length > MAX_LINE) {
      this.reply(500, 'Command line too long');
      this.close();
      return false;
    }
    const space = line.indexOf(' ');
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const arg = space < 0 ? '' : line.slice(space + 1);
    this.touch();
    if (verb === 'AUTH' && !this.secure) {
      if (arg.toUpperCase() !== 'TLS' && arg.toUpperCase() !== 'TLS-C' && arg.toUpperCase() !== 'SSL') {
        this.reply(504, 'Only AUTH TLS is supported');
        return true;
      }
      this.reply(234, 'Proceed with TLS negotiation');
      const rest = Buffer.from(this.#buffer);
      this.#buffer = '';
      socket.removeAllListeners('data');
      // The 234 reply must leave before the handshake starts.
      this.upgrade(rest, () => {});
      return false;
    }
    // ABOR and STAT act on a running transfer, so they do not wait behind it.
    if (this.transfer && (verb === 'ABOR' || verb === 'STAT' || verb === 'NOOP')) {
      void this.#run(verb, arg);
      return true;
    }
    this.#queue = this.#queue.then(async () => {
      await this.transfer?.done.catch(() => {});
      await this.#run(verb, arg);
    });
    return true;
  }

  async #run(verb: string, arg: string): Promise<void> {
    if (this.#closed) return;
    const command = COMMANDS.get(verb);
    if (!command) {
      this.reply(verb === 'PORT' || verb === 'EPRT' ? 502 : 500, `${verb.slice(0, 16)} not understood`);
      return;
    }
    try {
      if (!this.secure && !command.beforeTls) throw new FtpReplyError(530, 'AUTH TLS first');
      if (command.needsAuth && !this.files) throw new FtpReplyError(530, 'Log in first');
      if (command.needsAuth && !this.protP && command.data) throw new FtpReplyError(521, 'PROT P required');
      if (command.needsArg && arg === '') throw new FtpReplyError(501, `${verb} needs an argument`);
      await command.handler(this, arg);
    } catch (err) {
      const reply = replyFromError(err);
      if (!(err instanceof FtpReplyError)) this.log.debug({ err, verb }, 'command failed');
      this.reply(reply.code, reply.text);
    } finally {
      if (verb !== 'REST' && !command.data) this.restOffset = 0;
      if (verb !== 'RNFR') this.renameFrom = undefined;
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transfer?.abort();
    this.passive?.close();
    const files = this.files;
    this.files = undefined;
    this.#gone.abort(new Error('connection closed'));
    files
      ?.close()
      .catch((err: unknown) => this.log.warn({ err }, 'session close failed'))
      .finally(() => this.budgets?.close());
    this.log.info('ftps disconnected');
    this.options.events.emit({
      type: 'session',
      phase: 'disconnect',
      at: new Date(),
      sessionId: this.sessionId,
      remoteAddress: this.remoteAddress,
      username: this.user?.name,
      detail: { protocol: 'ftps' },
    });
  }
}
