/*
 * Encrypted storage's segments sealed and written on a thread of their own while a file is written front to back
 * (src/vfs/encrypted/segment-stream.ts): the event loop's thread copies plaintext into a ring (ring.c), this
 * thread cuts it into 64 KiB segments, seals each under the file's cipher (AES-256-GCM or ChaCha20-Poly1305) with
 * a fresh nonce (segment_nonce: index and random bytes) and pwrites them.
 *
 * Why: sealing on the event loop's thread, with one file write dispatched per segment, cost that thread ~0.6 s/GiB
 * on top of a plain upload's, and that thread limits a single upload (docs/PERFORMANCE.md). A thread-pool job per
 * segment was tried in an earlier stop and dropped (more dispatches than the sealing saved); a thread per upload
 * needs none. The layout is the one src/vfs/encrypted/container.ts writes: nonce | ciphertext | tag per segment,
 * associated data file id | index (u64, big-endian) | final flag; every segment but the last is full.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "aead.h"
#include "ring.h"

#define SEGMENT ((size_t)1 << 16)
#define SEALED (SEGMENT + SEALED_OVERHEAD)
#define HEADER 96
#define FILE_ID_BYTES 16
#define AAD_BYTES (FILE_ID_BYTES + 9)
/* Sealed segments gathered before one pwrite: 16 writes per MiB would be 16 system calls. */
#define BATCH 8
/* Plaintext accepted ahead of the thread (as the OpenPGP sealer's: the loop's thread and this one are descheduled
 * for milliseconds at a time on a busy machine). */
#define RING ((size_t)1 << 22)
/* More at once and files seal on the event loop's thread: at most 64 MiB of rings per process. */
#define MAX_STREAMS 16

static atomic_int running;

struct stream {
  int fd;
  int kind;
  unsigned char key[KEY_BYTES];
  unsigned char file_id[FILE_ID_BYTES];
  /* Index of the segment in slot 0 of `out`. */
  int64_t first;
  /* Full segments sealed in `out`, and the plaintext bytes of the one after them (not yet sealed). */
  size_t sealed;
  size_t partial;
  /* Plaintext accepted in all: the file's size once everything is written. */
  int64_t size;
  int err;
  /* BATCH + 1 slots: the sealed ones and the filling one, laid out as stored. */
  unsigned char out[(BATCH + 1) * SEALED];
};

static int64_t offset_of(int64_t index) { return HEADER + index * (int64_t)SEALED; }

/* Seals `length` plaintext bytes of the slot at `slot` (nonce | plaintext | tag) as segment `index`. */
static void seal_slot(struct stream *s, unsigned char *slot, int64_t index, size_t length, bool final) {
  if (s->err != 0) return;
  unsigned char aad[AAD_BYTES];
  memcpy(aad, s->file_id, FILE_ID_BYTES);
  for (int i = 0; i < 8; i++) aad[FILE_ID_BYTES + i] = (unsigned char)((uint64_t)index >> (56 - 8 * i));
  aad[FILE_ID_BYTES + 8] = final ? 1 : 0;
  struct args a = {
      .key = s->key, .key_len = KEY_BYTES,
      .nonce = slot, .nonce_len = NONCE_BYTES,
      .aad = aad, .aad_len = AAD_BYTES,
      .data = slot + NONCE_BYTES, .data_len = length,
      .tag = slot + NONCE_BYTES + length, .tag_len = TAG_BYTES,
  };
  if (!segment_nonce(slot, index) || !aead_run(&a, s->kind, true)) s->err = EIO;
}

static void write_at(struct stream *s, const unsigned char *bytes, size_t n, int64_t position) {
  while (s->err == 0 && n > 0) {
    ssize_t w = pwrite(s->fd, bytes, n, (off_t)position);
    if (w < 0) {
      if (errno != EINTR) s->err = errno;
      continue;
    }
    /* Nothing written and no error: would loop for ever. */
    if (w == 0) s->err = EIO;
    bytes += w;
    n -= (size_t)w;
    position += w;
  }
}

/* Writes the sealed full segments; the filling one moves to slot 0. */
static void write_sealed(struct stream *s) {
  if (s->sealed == 0) return;
  write_at(s, s->out, s->sealed * SEALED, offset_of(s->first));
  if (s->partial > 0) {
    memmove(s->out + NONCE_BYTES, s->out + s->sealed * SEALED + NONCE_BYTES, s->partial);
  }
  s->first += (int64_t)s->sealed;
  s->sealed = 0;
}

static void consume(struct ring_thread *rt, const unsigned char *bytes, size_t n) {
  struct stream *s = rt->state;
  while (n > 0 && s->err == 0) {
    unsigned char *slot = s->out + s->sealed * SEALED;
    size_t k = SEGMENT - s->partial < n ? SEGMENT - s->partial : n;
    memcpy(slot + NONCE_BYTES + s->partial, bytes, k);
    s->partial += k;
    s->size += (int64_t)k;
    bytes += k;
    n -= k;
    if (s->partial == SEGMENT) {
      /* A full segment is never the final one: the file's end is a shorter (maybe empty) segment after it. */
      seal_slot(s, slot, s->first + (int64_t)s->sealed, SEGMENT, false);
      s->sealed++;
      s->partial = 0;
      if (s->sealed == BATCH) write_sealed(s);
    }
  }
  rt->err = s->err;
}

/*
 * What the file is when this returns: every segment written, the filling one sealed as final. Its plaintext is
 * sealed in a copy (the spare slot after the batch's), so later bytes can still extend it.
 */
static void write_final(struct stream *s) {
  write_sealed(s);
  unsigned char *copy = s->out + BATCH * SEALED;
  if (s->partial > 0) memcpy(copy + NONCE_BYTES, s->out + NONCE_BYTES, s->partial);
  seal_slot(s, copy, s->first, s->partial, true);
  write_at(s, copy, s->partial + SEALED_OVERHEAD, offset_of(s->first));
  OPENSSL_cleanse(copy, SEALED);
}

static void flush(struct ring_thread *rt) {
  struct stream *s = rt->state;
  write_final(s);
  rt->err = s->err;
}

/* The plaintext size written: the caller's file size from now on. */
static napi_value size_of(napi_env env, struct ring_thread *rt) {
  napi_value value;
  napi_create_int64(env, ((struct stream *)rt->state)->size, &value);
  return value;
}

static void destroy(void *state) {
  if (state == NULL) return;
  OPENSSL_cleanse(state, sizeof(struct stream));
  free(state);
}

static const struct ring_ops streaming = {
    .consume = consume, .flush = flush, .finish = flush, .result = size_of, .destroy = destroy, .syscall = "pwrite",
    .thread_name = "ferry-segments"};

/*
 * segmentStreamStart(fd, index, key, fileId, cipher, onEvent) → handle: a thread that writes plaintext pushed to it as
 * segments from `index` on (the file's final segment, which the caller emptied or pushes first). onEvent(kind,
 * error, size): 1 room in the ring again, 2 flushed (everything pushed is on disk, the last segment as final),
 * 3 done (error or null; size: the plaintext bytes written from segment `index` on). Throws
 * ERR_SEGMENT_STREAM_BUSY when MAX_STREAMS threads run already.
 */
napi_value js_segment_stream_start(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!args_of(env, info, 6, argv, "expected (fd, index, key, fileId, cipher, onEvent)")) return NULL;
  int32_t fd;
  int64_t index;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int64(env, argv[1], &index) != napi_ok || index < 0 || index > ((int64_t)1 << 40)) {
    throw_type(env, "fd and index must be non-negative integers");
    return NULL;
  }
  unsigned char *key, *file_id;
  size_t key_len, file_id_len;
  if (!bytes_of(env, argv[2], "key must be a Uint8Array", &key, &key_len) ||
      !bytes_of(env, argv[3], "fileId must be a Uint8Array", &file_id, &file_id_len))
    return NULL;
  if (key_len != KEY_BYTES || file_id_len != FILE_ID_BYTES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "key must be 32 bytes and fileId 16");
    return NULL;
  }
  int kind;
  if (!kind_of(env, argv[4], &kind)) return NULL;
  struct stream *s = malloc(sizeof *s);
  if (s == NULL) {
    napi_throw_error(env, "ERR_SEGMENT_STREAM_BUSY", "out of memory");
    return NULL;
  }
  s->fd = fd;
  s->kind = kind;
  memcpy(s->key, key, KEY_BYTES);
  memcpy(s->file_id, file_id, FILE_ID_BYTES);
  s->first = index;
  s->sealed = s->partial = 0;
  s->size = 0;
  s->err = 0;
  const char *failure = NULL;
  struct ring_thread *rt = ring_start(env, argv[5], &streaming, s, RING, &running, MAX_STREAMS, &failure);
  if (rt == NULL) {
    destroy(s);
    napi_throw_error(env, "ERR_SEGMENT_STREAM_BUSY", failure);
    return NULL;
  }
  return ring_handle(env, rt);
}

/* The ring's size and the most threads at once, for the wrapper and its tests. */
napi_value segment_stream_limits(napi_env env) {
  return ring_limits(env, "ringBytes", (int64_t)RING, MAX_STREAMS);
}
