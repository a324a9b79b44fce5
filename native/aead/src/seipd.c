/*
 * An unsigned binary OpenPGP message's encrypted packet (SEIPDv1 with MDC, AES-256-CFB) sealed and written on a
 * thread of its own, for encrypt-folder uploads on local storage.
 *
 * Why: sealing on the event loop's thread (SHA-1 for the MDC and AES-256-CFB, which is serial by construction:
 * each block needs the one before) cost that thread ~3 s/GiB next to a plain upload's ~2, and one thread then
 * limited the whole upload. Thread-pool jobs per part were tried and dropped: every part waited for a turn of a
 * busy event loop before its write (docs/PERFORMANCE.md). Here the event loop only copies plaintext into a ring;
 * one thread per message hashes, encrypts, frames and pwrites it behind, and reports back only when the ring has
 * room again after being full, when asked for a flush, and when it is done.
 *
 * The message layout is the one src/keys/pgp-seipd-writer.ts writes (the fallback and the reference, tested
 * against each other): 16 random bytes and their last two repeated, a literal packet (binary, no name, a date)
 * in partial lengths of 2^16, the MDC packet; the SEIPD packet in partial lengths of 2^16 around it.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "aead.h"
#include "ring.h"

#define CHUNK_SHIFT 16
#define CHUNK ((size_t)1 << CHUNK_SHIFT)
/*
 * Plaintext accepted ahead of the thread: with the literal and body parts, what an open upload holds in memory.
 * 4 MiB because on a busy machine the loop's thread and this one are descheduled for milliseconds at a time: with
 * 1 MiB an upload ran at 266-269 MiB/s, with 4 MiB at 310-318 and with 8 MiB at 321-338 (docs/PERFORMANCE.md).
 */
#define RING ((size_t)1 << 22)
/* More threads than this at once and callers seal on their own thread: at most 64 MiB of rings per process. */
#define MAX_SEALERS 16
#define PREFIX_BYTES 18

static EVP_CIPHER *cfb;
static EVP_MD *sha1;
static atomic_int running;

/* The message's state, the thread's own once it runs (ring.h carries the plaintext to it). */
struct sealer {
  int fd;
  int64_t position;
  /* An errno that stops the message; copied to the ring thread's after each piece. */
  int err;
  EVP_CIPHER_CTX *cipher;
  EVP_MD_CTX *mdc;
  unsigned char literal[CHUNK];
  size_t literal_len;
  bool literal_tag_written;
  unsigned char body[CHUNK];
  size_t body_len;
  bool first;
};

/* A new-format definite body length; returns its size. */
static size_t body_length(size_t n, unsigned char *out) {
  if (n < 192) {
    out[0] = (unsigned char)n;
    return 1;
  }
  if (n < 8384) {
    out[0] = (unsigned char)(((n - 192) >> 8) + 192);
    out[1] = (unsigned char)((n - 192) & 0xff);
    return 2;
  }
  out[0] = 0xff;
  out[1] = (unsigned char)(n >> 24);
  out[2] = (unsigned char)(n >> 16);
  out[3] = (unsigned char)(n >> 8);
  out[4] = (unsigned char)n;
  return 5;
}

static void write_all(struct sealer *s, struct iovec *iov, int count) {
  while (s->err == 0 && count > 0) {
    ssize_t n = pwritev(s->fd, iov, count, (off_t)s->position);
    if (n < 0) {
      if (errno != EINTR) s->err = errno;
      continue;
    }
    /* Nothing written and no error: would loop for ever. */
    if (n == 0) {
      s->err = EIO;
      break;
    }
    s->position += n;
    while (count > 0 && (size_t)n >= iov->iov_len) {
      n -= (ssize_t)iov->iov_len;
      iov++;
      count--;
    }
    if (count > 0) {
      iov->iov_base = (unsigned char *)iov->iov_base + n;
      iov->iov_len -= (size_t)n;
    }
  }
}

/* Encrypts the waiting body bytes in place and writes them as one SEIPD part (partial of 2^16, or the last). */
static void seal(struct sealer *s, bool partial) {
  int out = 0;
  if (s->err == 0 && s->body_len > 0 &&
      !EVP_EncryptUpdate(s->cipher, s->body, &out, s->body, (int)s->body_len))
    s->err = EIO;
  unsigned char header[8];
  size_t h = 0;
  if (s->first) header[h++] = 0xc0 | 18;
  if (partial) header[h++] = 0xe0 + CHUNK_SHIFT;
  else h += body_length(s->body_len + (s->first ? 1 : 0), header + h);
  if (s->first) header[h++] = 1;
  struct iovec iov[2] = {{header, h}, {s->body, s->body_len}};
  write_all(s, iov, s->body_len > 0 ? 2 : 1);
  s->first = false;
  s->body_len = 0;
}

/* Bytes of the encrypted body after those before them; the first part holds the version octet, one byte less. */
static void append(struct sealer *s, const unsigned char *bytes, size_t n) {
  for (size_t at = 0; at < n;) {
    size_t room = (s->first ? CHUNK - 1 : CHUNK) - s->body_len;
    size_t k = n - at < room ? n - at : room;
    memcpy(s->body + s->body_len, bytes + at, k);
    s->body_len += k;
    at += k;
    if (k == room && at < n) seal(s, true);
  }
}

/* Plaintext of the encrypted body: covered by the MDC. */
static void inner(struct sealer *s, const unsigned char *bytes, size_t n) {
  if (s->err == 0 && !EVP_DigestUpdate(s->mdc, bytes, n)) s->err = EIO;
  append(s, bytes, n);
}

/* A literal part's length, after the packet's tag before its first one. */
static void literal_header(struct sealer *s, const unsigned char *length, size_t n) {
  if (!s->literal_tag_written) {
    const unsigned char tag = 0xc0 | 11;
    inner(s, &tag, 1);
    s->literal_tag_written = true;
  }
  inner(s, length, n);
}

static void literal_part(struct sealer *s) {
  const unsigned char partial = 0xe0 + CHUNK_SHIFT;
  literal_header(s, &partial, 1);
  inner(s, s->literal, CHUNK);
  s->literal_len = 0;
}

/* Literal data; a full literal part goes out only once more data follows, so the last has a definite length. */
static void take(struct sealer *s, const unsigned char *data, size_t n) {
  for (size_t at = 0; at < n && s->err == 0;) {
    size_t k = n - at < CHUNK - s->literal_len ? n - at : CHUNK - s->literal_len;
    memcpy(s->literal + s->literal_len, data + at, k);
    s->literal_len += k;
    at += k;
    if (s->literal_len == CHUNK && at < n) literal_part(s);
  }
}

/* The last literal part, the MDC packet (its digest encrypted but not hashed) and the last SEIPD part. */
static void finish(struct sealer *s) {
  if (s->literal_len == CHUNK) literal_part(s);
  unsigned char length[5];
  literal_header(s, length, body_length(s->literal_len, length));
  inner(s, s->literal, s->literal_len);
  const unsigned char mdc_header[2] = {0xd3, 0x14};
  inner(s, mdc_header, 2);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (s->err == 0 && !EVP_DigestFinal_ex(s->mdc, digest, &digest_len)) s->err = EIO;
  if (s->err == 0) append(s, digest, digest_len);
  seal(s, false);
}

static void consume(struct ring_thread *rt, const unsigned char *bytes, size_t n) {
  struct sealer *s = rt->state;
  take(s, bytes, n);
  rt->err = s->err;
}

static void finish_message(struct ring_thread *rt) {
  struct sealer *s = rt->state;
  finish(s);
  rt->err = s->err;
}

/* Where the message ends: what was written so far. */
static napi_value written(napi_env env, struct ring_thread *rt) {
  napi_value value;
  napi_create_int64(env, ((struct sealer *)rt->state)->position, &value);
  return value;
}

static void destroy(void *state) {
  struct sealer *s = state;
  if (s == NULL) return;
  EVP_CIPHER_CTX_free(s->cipher);
  EVP_MD_CTX_free(s->mdc);
  OPENSSL_cleanse(s, sizeof *s);
  free(s);
}

static const struct ring_ops sealing = {
    .consume = consume, .finish = finish_message, .result = written, .destroy = destroy, .syscall = "pwrite",
    .thread_name = "ferry-pgp-seal"};

/*
 * seipdStart(fd, position, key, prefix, date, onEvent) → handle: starts the thread that writes the SEIPD packet at
 * `position` of `fd` (the caller keeps it open until onEvent reports done). `prefix` is the 18 random-prefix
 * bytes, `date` the literal packet's time (seconds). onEvent(kind, error, position): 1 room in the ring again,
 * 2 flushed (all accepted plaintext sealed except the parts still filling), 3 done (error or null; position: end
 * of what was written). Throws ERR_SEIPD_BUSY when MAX_SEALERS threads run already.
 */
napi_value js_seipd_start(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!args_of(env, info, 6, argv, "expected (fd, position, key, prefix, date, onEvent)")) return NULL;
  int32_t fd;
  int64_t position, date;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int64(env, argv[1], &position) != napi_ok || position < 0 ||
      napi_get_value_int64(env, argv[4], &date) != napi_ok || date < 0 || date > UINT32_MAX) {
    throw_type(env, "fd, position and date must be non-negative integers");
    return NULL;
  }
  unsigned char *key, *prefix;
  size_t key_len, prefix_len;
  if (!bytes_of(env, argv[2], "key must be a Uint8Array", &key, &key_len) ||
      !bytes_of(env, argv[3], "prefix must be a Uint8Array", &prefix, &prefix_len))
    return NULL;
  if (key_len != KEY_BYTES || prefix_len != PREFIX_BYTES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "key must be 32 bytes and prefix 18");
    return NULL;
  }
  if (cfb == NULL || sha1 == NULL) {
    napi_throw_error(env, "ERR_CRYPTO_UNKNOWN_CIPHER", "this Node's OpenSSL has no AES-256-CFB or SHA-1");
    return NULL;
  }
  struct sealer *s = calloc(1, sizeof *s);
  static const unsigned char zero_iv[16] = {0};
  if (s == NULL || (s->cipher = EVP_CIPHER_CTX_new()) == NULL || (s->mdc = EVP_MD_CTX_new()) == NULL ||
      !EVP_EncryptInit_ex2(s->cipher, cfb, key, zero_iv, NULL) || !EVP_DigestInit_ex2(s->mdc, sha1, NULL)) {
    destroy(s);
    napi_throw_error(env, "ERR_SEIPD_START", "could not set up the message's cipher");
    return NULL;
  }
  s->fd = fd;
  s->position = position;
  s->first = true;
  inner(s, prefix, PREFIX_BYTES);
  s->literal[0] = 0x62;
  s->literal[1] = 0;
  s->literal[2] = (unsigned char)(date >> 24);
  s->literal[3] = (unsigned char)(date >> 16);
  s->literal[4] = (unsigned char)(date >> 8);
  s->literal[5] = (unsigned char)date;
  s->literal_len = 6;
  const char *failure = NULL;
  struct ring_thread *rt = ring_start(env, argv[5], &sealing, s, RING, &running, MAX_SEALERS, &failure);
  if (rt == NULL) {
    destroy(s);
    napi_throw_error(env, "ERR_SEIPD_BUSY", failure);
    return NULL;
  }
  return ring_handle(env, rt);
}

/* The ring's size and the most threads at once, for the wrapper and its tests. */
napi_value seipd_limits(napi_env env) { return ring_limits(env, "ringBytes", (int64_t)RING, MAX_SEALERS); }

bool seipd_init(void) {
  if (cfb == NULL) cfb = EVP_CIPHER_fetch(NULL, "AES-256-CFB", NULL);
  if (sha1 == NULL) sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  return cfb != NULL && sha1 != NULL;
}
