// The SHA-256 of an upload as it streams: on this thread for its first megabyte, then on a thread of its own
// (native/aead/src/sha256.c); node:crypto throughout when the addon is not built.
import { createHash } from 'node:crypto';
import { aeadWith } from './aead-addon.js';

/*
 * Why: hashing every upload for its audit record was 21-34 % of the server's CPU samples in a large upload, all of
 * it on the event loop's thread, which is what limits one upload (docs/PERFORMANCE.md). Small files stay here: a
 * thread's start and the digest's way back would cost them more than the hashing.
 */

type Handle = object;
type OnEvent = (kind: number, error: Error | null, digest: Buffer | undefined) => void;

interface Sha256Addon {
  sha256Start(): Handle;
  /** Bytes taken (hashed here, or copied for the thread; the rest waits for SPACE); -1 once the thread stopped. */
  sha256Push(handle: Handle, data: Uint8Array, onEvent: OnEvent): number;
  /** The digest now, or undefined when the thread brings it (DONE). */
  sha256Digest(handle: Handle): Buffer | undefined;
  sha256Abort(handle: Handle): void;
  readonly sha256Limits: { readonly syncBytes: number; readonly maxThreads: number };
}

const SPACE = 1;
const DONE = 3;

/** Undefined when the addon is not built (segment-cipher.ts warns) or predates the hashing thread. */
const addon = aeadWith<Sha256Addon>('sha256Start');

/** Bytes hashed on the calling thread before a thread takes over, and the most threads at once. */
export const uploadHashLimits = addon?.sha256Limits;

export interface UploadSha256 {
  /** Takes `data` (hashed or copied at once); a promise when more must wait until it settles (the ring is full). */
  update(data: Uint8Array): Promise<void> | undefined;
  /** The hex digest of everything taken; once. */
  digest(): Promise<string>;
  /** Lets go of a digest that will not be asked for (a failed upload): a thread still hashing stops. */
  release(): void;
}

/** A running node:crypto hash (or a backend's, FsFile.resumeSha256) as an UploadSha256. */
export function fromRunningHash(hash: {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}): UploadSha256 {
  return {
    update(data) {
      hash.update(data);
      return undefined;
    },
    digest: () => Promise.resolve(hash.digest('hex')),
    release() {},
  };
}

class ThreadedSha256 implements UploadSha256 {
  readonly #addon: Sha256Addon;
  readonly #handle: Handle;
  readonly #onEvent: OnEvent = (kind, error, digest) => this.#event(kind, error, digest);
  #spaceWaiters: Array<() => void> = [];
  #failure: Error | undefined;
  #digest: Promise<string> | undefined;
  #settle: ((digest: Buffer | undefined, error: Error | null) => void) | undefined;
  #stopped = false;

  constructor(native: Sha256Addon) {
    this.#addon = native;
    this.#handle = native.sha256Start();
  }

  #event(kind: number, error: Error | null, digest: Buffer | undefined): void {
    if (kind === DONE) {
      this.#stopped = true;
      if (error) this.#failure = error;
      this.#settle?.(digest, error);
    }
    if (kind === SPACE || kind === DONE) {
      const waiters = this.#spaceWaiters;
      this.#spaceWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  update(data: Uint8Array): Promise<void> | undefined {
    const taken = this.#addon.sha256Push(this.#handle, data, this.#onEvent);
    if (taken === data.length) return undefined;
    return this.#rest(data, taken);
  }

  async #rest(data: Uint8Array, taken: number): Promise<void> {
    for (let at = taken; ; ) {
      if (at < 0 || this.#stopped) throw this.#failure ?? new Error('the upload hash was stopped');
      await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
      const more = this.#addon.sha256Push(this.#handle, data.subarray(at), this.#onEvent);
      if (more < 0) throw this.#failure ?? new Error('the upload hash was stopped');
      at += more;
      if (at === data.length) return;
    }
  }

  digest(): Promise<string> {
    this.#digest ??= new Promise<string>((resolve, reject) => {
      this.#settle = (digest, error) => (digest && !error ? resolve(digest.toString('hex')) : reject(error));
      // The thread stopped on its own (a failed update): its report came before anyone waited for it.
      if (this.#stopped) return reject(this.#failure ?? new Error('the upload hash was stopped'));
      const now = this.#addon.sha256Digest(this.#handle);
      if (now) resolve(now.toString('hex'));
    });
    return this.#digest;
  }

  release(): void {
    if (this.#digest === undefined && !this.#stopped) this.#addon.sha256Abort(this.#handle);
  }
}

/** A new upload hash: threaded past its first megabyte when the addon is built. */
export function uploadSha256(): UploadSha256 {
  return addon ? new ThreadedSha256(addon) : fromRunningHash(createHash('sha256'));
}
