// What both SFTP fuzz suites share: a silent logger, the trap for errors that escape to the process, and ATTRS.
import fc from 'fast-check';
import { ProtocolError } from '../errors.js';
import { rootLogger } from '../logger.js';
import type { Attrs } from './wire/reader.js';

export const logger = rootLogger.child(
  { logger: 'sftp-fuzz' },
  { level: process.env.FERRY_LOG_LEVEL ?? 'silent' },
);

/** Errors that reach the process instead of the session: each one fails the property that was running. */
export class EscapedErrors {
  readonly errors: unknown[] = [];
  readonly #onError = (err: unknown): void => {
    this.errors.push(err);
  };

  start(): void {
    process.on('uncaughtException', this.#onError);
    process.on('unhandledRejection', this.#onError);
  }

  stop(): void {
    process.off('uncaughtException', this.#onError);
    process.off('unhandledRejection', this.#onError);
  }

  assertNone(): void {
    const [first] = this.errors;
    if (first !== undefined) {
      throw new Error(`error escaped the session: ${first instanceof Error ? first.stack : String(first)}`);
    }
  }
}

// ---- codec properties ----------------------------------------------------------------------------

/** The only thing a malformed packet may cause while parsing is a ProtocolError. */
export function parsesOrProtocolError(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    if (!(err instanceof ProtocolError)) {
      throw new Error(`parsing threw ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
}

export const attrsArb: fc.Arbitrary<Attrs> = fc.record(
  {
    size: fc.maxSafeNat(),
    uid: fc.nat({ max: 0xffffffff }),
    gid: fc.nat({ max: 0xffffffff }),
    permissions: fc.nat({ max: 0xffffffff }),
    atime: fc.nat({ max: 0xffffffff }),
    mtime: fc.nat({ max: 0xffffffff }),
    extended: fc.array(
      fc.tuple(
        fc.string({ maxLength: 12 }),
        fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

/** What the wire keeps of an Attrs: uid/gid and atime/mtime travel only in pairs. */
export function wireAttrs(attrs: Attrs): Attrs {
  const out: Attrs = {};
  if (attrs.size !== undefined) out.size = attrs.size;
  if (attrs.uid !== undefined && attrs.gid !== undefined) {
    out.uid = attrs.uid;
    out.gid = attrs.gid;
  }
  if (attrs.permissions !== undefined) out.permissions = attrs.permissions;
  if (attrs.atime !== undefined && attrs.mtime !== undefined) {
    out.atime = attrs.atime;
    out.mtime = attrs.mtime;
  }
  if (attrs.extended !== undefined && attrs.extended.length > 0) out.extended = attrs.extended;
  return out;
}
