// An open encrypted file's segments brought into its cache: one load per segment however many reads wait for it,
// and the segments a read spans loaded together.
import { SEGMENT_OVERHEAD, SEGMENT_SIZE } from './container.js';
import { segmentBuffers } from './segment-buffers.js';
import type { Segment, SegmentCache } from './segment-cache.js';
import type { SegmentReads } from './segment-reads.js';

/*
 * Why together: a 255 KiB read (what OpenSSH's sftp asks for in a download) spans four or five segments, and a
 * thread-pool job per segment was four times the round trips of a plain file's one read. Consecutive segments
 * that are neither cached nor loading go to one native job (SegmentReads.loadMany: one preadv, each opened).
 * Without the job (no descriptor, or the addon not built) they load one by one, so each arrives when its own
 * read does rather than with the slowest of its run.
 */

/** What the loader asks of its file. */
export interface LoaderFile {
  /** The segment stored on disk sealed as final, and its length (null when none is: it is in the cache). */
  diskFinal(): { readonly index: number; readonly length: number } | null;
  /** Waits for the segments on their way to disk (the inner file orders writes among themselves, not reads after them). */
  settle(): Promise<void>;
}

export class SegmentLoader {
  readonly #cache: SegmentCache;
  readonly #reads: SegmentReads;
  readonly #file: LoaderFile;
  readonly #loading = new Map<number, Promise<Segment>>();

  constructor(cache: SegmentCache, reads: SegmentReads, file: LoaderFile) {
    this.#cache = cache;
    this.#reads = reads;
    this.#file = file;
  }

  /** Segment `index` from the cache, or read from disk and authenticated (and then cached). */
  segment(index: number): Promise<Segment> {
    return this.#known(index) ?? this.#start(index, 1)[0]!;
  }

  /** Segments `first` to `first + count - 1` in order, as `segment` gives each; the missing ones loaded together. */
  segments(first: number, count: number): Array<Promise<Segment>> {
    const out: Array<Promise<Segment>> = [];
    let run = 0;
    for (let index = first; index <= first + count; index++) {
      const known = index < first + count ? this.#known(index) : undefined;
      if (!known && index < first + count) {
        run++;
        continue;
      }
      if (run > 0) out.push(...this.#start(index - run, run));
      run = 0;
      if (known) out.push(known);
    }
    return out;
  }

  /** Segment `index` if it is cached or being loaded (pipelined reads of one segment share one load). */
  #known(index: number): Promise<Segment> | undefined {
    const cached = this.#cache.touch(index);
    return cached ? Promise.resolve(cached) : this.#loading.get(index);
  }

  /** Starts loading `count` segments from `first` on; one promise each, registered as loading until it settles. */
  #start(first: number, count: number): Array<Promise<Segment>> {
    if (count > 1 && !this.#reads.batched) {
      return Array.from({ length: count }, (_, i) => this.#start(first + i, 1)[0]!);
    }
    const batch = this.#load(first, count);
    return Array.from({ length: count }, (_, i) => {
      const index = first + i;
      const loading: Promise<Segment> = batch
        .then((outcomes) => {
          const outcome = outcomes[i]!;
          if (outcome instanceof Error) throw outcome;
          return outcome;
        })
        .finally(() => {
          if (this.#loading.get(index) === loading) this.#loading.delete(index);
        });
      this.#loading.set(index, loading);
      return loading;
    });
  }

  /** Each segment of the run, or the error loading it met (a failed file read fails them all). */
  async #load(first: number, count: number): Promise<Array<Segment | Error>> {
    const diskFinal = this.#file.diskFinal();
    const finals = Array.from({ length: count }, (_, i) => diskFinal?.index === first + i);
    const lengths = finals.map((final) => (final ? diskFinal!.length : SEGMENT_SIZE));
    await this.#file.settle();
    // Read into segment buffers and opened there: each segment's plaintext stays where it was read.
    const buffers = lengths.map(() => segmentBuffers.take());
    let failures: Array<Error | undefined>;
    try {
      failures = await this.#reads.loadMany(
        first,
        finals,
        buffers,
        lengths.map((length) => length + SEGMENT_OVERHEAD),
      );
    } catch (err) {
      for (const buffer of buffers) segmentBuffers.give(buffer);
      throw err;
    }
    return buffers.map((buffer, i) => {
      const failure = failures[i];
      const cached = this.#cache.get(first + i);
      if (failure || cached) {
        segmentBuffers.give(buffer);
        return failure ?? cached!;
      }
      return this.#cache.add(first + i, buffer, lengths[i]!);
    });
  }
}
