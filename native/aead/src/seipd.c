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
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "aead.h"

#define CHUNK_SHIFT 16
#define CHUNK ((size_t)1 << CHUNK_SHIFT)
/* Plaintext accepted ahead of the thread: with the literal and body parts, what an open upload holds in memory. */
#define RING ((size_t)1 << 20)
/* More threads than this at once and callers seal on their own thread (bounded memory and threads). */
#define MAX_SEALERS 64
#define PREFIX_BYTES 18

enum { EV_SPACE = 1, EV_FLUSHED = 2, EV_DONE = 3 };

static EVP_CIPHER *cfb;
static EVP_MD *sha1;
static atomic_int running;

struct sealer {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  napi_threadsafe_function tsfn;
  /* Shared under mu: the ring of plaintext (literal data) and the requests. */
  unsigned char *ring;
  size_t head, len;
  bool finishing, aborting, stopped, space_wanted, flush_wanted;
  /* pthread_create failed: there is no thread to join. */
  bool no_thread;
  /* Owners left: the JS handle and the thread (its threadsafe function's finalizer); freed at zero (JS thread). */
  int owners;
  /* The thread's own. */
  int fd;
  int64_t position;
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

static void notify(struct sealer *s, int event) {
  napi_call_threadsafe_function(s->tsfn, (void *)(intptr_t)event, napi_tsfn_nonblocking);
}

static void *run(void *arg) {
  struct sealer *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    /* Checked on every pass, before any wait: a writer that found the ring full is woken once half is free. */
    if (s->space_wanted && RING - s->len >= RING / 2) {
      s->space_wanted = false;
      notify(s, EV_SPACE);
    }
    if (s->aborting) break;
    if (s->len > 0) {
      /* The ring's bytes between head and head + len are the producer's no more: read them without the lock. */
      size_t start = s->head;
      size_t n = s->len < RING - start ? s->len : RING - start;
      pthread_mutex_unlock(&s->mu);
      take(s, s->ring + start, n);
      pthread_mutex_lock(&s->mu);
      s->head = (start + n) % RING;
      s->len -= n;
      if (s->err != 0) break;
      continue;
    }
    if (s->flush_wanted) {
      s->flush_wanted = false;
      notify(s, EV_FLUSHED);
    }
    if (s->finishing) {
      pthread_mutex_unlock(&s->mu);
      finish(s);
      pthread_mutex_lock(&s->mu);
      break;
    }
    /* Every condition is checked again after waking, so spurious wake-ups are harmless. */
    pthread_cond_wait(&s->cv, &s->mu);
  }
  s->stopped = true;
  pthread_mutex_unlock(&s->mu);
  notify(s, EV_DONE);
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
  return NULL;
}

static void release(struct sealer *s) {
  if (--s->owners > 0) return;
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  EVP_CIPHER_CTX_free(s->cipher);
  EVP_MD_CTX_free(s->mdc);
  OPENSSL_cleanse(s->ring, RING);
  free(s->ring);
  OPENSSL_cleanse(s, sizeof *s);
  free(s);
}

/* The thread's last report has run: join it (it is leaving) and drop its share. */
static void thread_finalized(napi_env env, void *data, void *hint) {
  struct sealer *s = data;
  if (!s->no_thread) pthread_join(s->thread, NULL);
  atomic_fetch_sub(&running, 1);
  release(s);
}

/* The JS handle was collected: stop a thread still running (its owner forgot to finish) and drop the share. */
static void handle_finalized(napi_env env, void *data, void *hint) {
  struct sealer *s = data;
  pthread_mutex_lock(&s->mu);
  s->aborting = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  release(s);
}

/* Calls onEvent(kind, error, written) on the JS thread: error an Error like node:fs's, or null. */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  if (env == NULL || callback == NULL) return;
  struct sealer *s = context;
  int event = (int)(intptr_t)data;
  napi_value argv[3], undefined;
  napi_get_undefined(env, &undefined);
  napi_create_int32(env, event, &argv[0]);
  if (event == EV_DONE && s->err != 0) argv[1] = errno_error(env, s->err, "pwrite");
  else napi_get_null(env, &argv[1]);
  napi_create_int64(env, s->position, &argv[2]);
  napi_call_function(env, undefined, callback, 3, argv, NULL);
}

static struct sealer *sealer_of(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    throw_type(env, "expected a sealer handle");
    return NULL;
  }
  return data;
}

static void fail_start(napi_env env, struct sealer *s, const char *code, const char *message) {
  if (s != NULL) {
    EVP_CIPHER_CTX_free(s->cipher);
    EVP_MD_CTX_free(s->mdc);
    free(s->ring);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
  }
  atomic_fetch_sub(&running, 1);
  napi_throw_error(env, code, message);
}

/*
 * seipdStart(fd, position, key, prefix, date, onEvent) → handle: starts the thread that writes the SEIPD packet at
 * `position` of `fd` (the caller keeps it open until onEvent reports done). `prefix` is the 18 random-prefix
 * bytes, `date` the literal packet's time (seconds). onEvent(kind, error, position): 1 room in the ring again,
 * 2 flushed (all accepted plaintext sealed except the parts still filling), 3 done (error or null; position: end
 * of what was written). Throws ERR_SEIPD_BUSY when MAX_SEALERS threads run already.
 */
napi_value js_seipd_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) {
    throw_type(env, "expected (fd, position, key, prefix, date, onEvent)");
    return NULL;
  }
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
  if (atomic_fetch_add(&running, 1) >= MAX_SEALERS) {
    fail_start(env, NULL, "ERR_SEIPD_BUSY", "too many messages being sealed at once");
    return NULL;
  }
  struct sealer *s = calloc(1, sizeof *s);
  if (s == NULL) {
    fail_start(env, NULL, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");
    return NULL;
  }
  s->ring = malloc(RING);
  s->cipher = EVP_CIPHER_CTX_new();
  s->mdc = EVP_MD_CTX_new();
  static const unsigned char zero_iv[16] = {0};
  if (s->ring == NULL || s->cipher == NULL || s->mdc == NULL ||
      !EVP_EncryptInit_ex2(s->cipher, cfb, key, zero_iv, NULL) || !EVP_DigestInit_ex2(s->mdc, sha1, NULL)) {
    fail_start(env, s, "ERR_SEIPD_START", "could not set up the message's cipher");
    return NULL;
  }
  s->fd = fd;
  s->position = position;
  s->first = true;
  s->owners = 2;
  inner(s, prefix, PREFIX_BYTES);
  s->literal[0] = 0x62;
  s->literal[1] = 0;
  s->literal[2] = (unsigned char)(date >> 24);
  s->literal[3] = (unsigned char)(date >> 16);
  s->literal[4] = (unsigned char)(date >> 8);
  s->literal[5] = (unsigned char)date;
  s->literal_len = 6;
  napi_value name, handle;
  napi_create_string_utf8(env, "ferry.seipd", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[5], NULL, name, 0, 1, s, thread_finalized, s, call_js,
                                      &s->tsfn) != napi_ok) {
    fail_start(env, s, "ERR_SEIPD_START", "could not set up the message's reports");
    return NULL;
  }
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int started = pthread_create(&s->thread, &attr, run, s);
  pthread_attr_destroy(&attr);
  if (started != 0) {
    /* No thread and no handle: the reports' finalizer frees everything once this release has drained. */
    s->no_thread = true;
    s->owners = 1;
    napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
    napi_throw_error(env, "ERR_SEIPD_BUSY", "could not start a thread to seal the message");
    return NULL;
  }
  if (napi_create_external(env, s, handle_finalized, NULL, &handle) != napi_ok) {
    handle_finalized(env, s, NULL);
    napi_throw_error(env, "ERR_SEIPD_START", "could not make the message's handle");
    return NULL;
  }
  return handle;
}

/*
 * seipdPush(handle, data) → number: how many bytes of `data` the ring took (copied; the rest waits for event 1),
 * or -1 once the thread has stopped (event 3 says why).
 */
napi_value js_seipd_push(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    throw_type(env, "expected (handle, data)");
    return NULL;
  }
  struct sealer *s = sealer_of(env, argv[0]);
  unsigned char *data;
  size_t n;
  if (s == NULL || !bytes_of(env, argv[1], "data must be a Uint8Array", &data, &n)) return NULL;
  pthread_mutex_lock(&s->mu);
  if (s->stopped || s->finishing || s->aborting) {
    pthread_mutex_unlock(&s->mu);
    napi_create_int32(env, -1, &result);
    return result;
  }
  size_t free_bytes = RING - s->len;
  size_t tail = (s->head + s->len) % RING;
  pthread_mutex_unlock(&s->mu);
  /* Only this thread adds to the ring: the free space stays free while it is filled without the lock. */
  size_t k = n < free_bytes ? n : free_bytes;
  size_t first = k < RING - tail ? k : RING - tail;
  memcpy(s->ring + tail, data, first);
  memcpy(s->ring, data + first, k - first);
  pthread_mutex_lock(&s->mu);
  s->len += k;
  if (k < n) s->space_wanted = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  napi_create_int64(env, (int64_t)k, &result);
  return result;
}

static napi_value request(napi_env env, napi_callback_info info, int what) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) {
    throw_type(env, "expected (handle)");
    return NULL;
  }
  struct sealer *s = sealer_of(env, argv[0]);
  if (s == NULL) return NULL;
  pthread_mutex_lock(&s->mu);
  if (what == EV_FLUSHED) s->flush_wanted = true;
  else if (what == EV_DONE) s->finishing = true;
  else s->aborting = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* seipdFlush(handle): event 2 once every byte pushed so far has left the ring. */
napi_value js_seipd_flush(napi_env env, napi_callback_info info) { return request(env, info, EV_FLUSHED); }
/* seipdFinish(handle): the rest of the message is written, then event 3. */
napi_value js_seipd_finish(napi_env env, napi_callback_info info) { return request(env, info, EV_DONE); }
/* seipdAbort(handle): the thread stops at once, leaving the message incomplete, then event 3. */
napi_value js_seipd_abort(napi_env env, napi_callback_info info) { return request(env, info, 0); }

bool seipd_init(void) {
  if (cfb == NULL) cfb = EVP_CIPHER_fetch(NULL, "AES-256-CFB", NULL);
  if (sha1 == NULL) sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  return cfb != NULL && sha1 != NULL;
}
