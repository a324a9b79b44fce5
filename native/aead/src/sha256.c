/*
 * The SHA-256 of an upload (src/core/digest.ts): on the calling thread for its first SYNC_BYTES, then on a thread
 * of its own fed through a ring (ring.c).
 *
 * Why: every upload is hashed for its audit record as it streams, and that was 21-34 % of the server's CPU samples
 * in a large upload, all of it on the event loop's thread, which limits a single upload (docs/PERFORMANCE.md).
 * Small files stay on the calling thread: for them a thread's start and the hand-back of the digest would cost
 * more than hashing them, and the first megabyte of every file needs no thread either. At most MAX_HASHERS threads
 * run at once; beyond that an upload goes on hashing on the calling thread, as before.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include "aead.h"
#include "ring.h"

#define SYNC_BYTES ((uint64_t)1 << 20)
/* SHA-256 outruns the event loop's thread, so a ring smaller than the sealer's does. */
#define RING ((size_t)2 << 20)
#define MAX_HASHERS 16
#define DIGEST_BYTES 32

static EVP_MD *sha256;
static atomic_int running;

struct hasher {
  EVP_MD_CTX *ctx;
  uint64_t total;
  /* Once the thread runs, the context is its alone. */
  struct ring_thread *rt;
  /* A thread was asked for and not had (all busy): this upload hashes on the calling thread to the end. */
  bool stay;
  unsigned char digest[DIGEST_BYTES];
};

static void destroy(void *state) {
  struct hasher *h = state;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

static void consume(struct ring_thread *rt, const unsigned char *bytes, size_t n) {
  struct hasher *h = rt->state;
  if (!EVP_DigestUpdate(h->ctx, bytes, n)) rt->err = EIO;
}

static void finish(struct ring_thread *rt) {
  struct hasher *h = rt->state;
  unsigned int length = 0;
  if (!EVP_DigestFinal_ex(h->ctx, h->digest, &length) || length != DIGEST_BYTES) rt->err = EIO;
}

static napi_value digest_of(napi_env env, struct hasher *h) {
  napi_value value;
  void *data;
  napi_create_buffer_copy(env, DIGEST_BYTES, h->digest, &data, &value);
  return value;
}

static napi_value result(napi_env env, struct ring_thread *rt) { return digest_of(env, rt->state); }

static const struct ring_ops hashing = {
    .consume = consume, .finish = finish, .result = result, .destroy = destroy, .syscall = "sha256",
    .thread_name = "ferry-sha256"};

/* The handle was collected: the thread (if any) is stopped and frees the hasher when it has gone. */
static void finalized(napi_env env, void *data, void *hint) {
  struct hasher *h = data;
  if (h->rt != NULL) ring_drop(h->rt);
  else destroy(h);
}

/* The hasher of a call whose first of `count` arguments is its handle, or NULL with a TypeError thrown. */
static struct hasher *hasher_of(napi_env env, napi_callback_info info, size_t count, napi_value *argv,
                                const char *usage) {
  void *data = NULL;
  if (!args_of(env, info, count, argv, usage)) return NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    throw_type(env, "expected a hasher handle");
    return NULL;
  }
  return data;
}

/*
 * sha256Start() → handle. The JS callback comes with each push rather than here: held by the handle, it would keep
 * the handle (which it refers to) alive for good; held by the thread's reports, it lives as long as the thread.
 */
napi_value js_sha256_start(napi_env env, napi_callback_info info) {
  napi_value handle;
  struct hasher *h = calloc(1, sizeof *h);
  if (h == NULL || sha256 == NULL || (h->ctx = EVP_MD_CTX_new()) == NULL ||
      !EVP_DigestInit_ex2(h->ctx, sha256, NULL)) {
    if (h != NULL) destroy(h);
    napi_throw_error(env, "ERR_CRYPTO_HASH_INIT", "could not start a SHA-256");
    return NULL;
  }
  if (napi_create_external(env, h, finalized, NULL, &handle) != napi_ok) {
    destroy(h);
    napi_throw_error(env, "ERR_CRYPTO_HASH_INIT", "could not make the hasher's handle");
    return NULL;
  }
  return handle;
}

/*
 * sha256Push(handle, data, onEvent) → number: how many bytes were taken (hashed at once, or copied for the thread;
 * the rest waits for event 1), or -1 once the thread has stopped (event 3 says why). onEvent(kind, error, digest)
 * as ring.h's, for a thread this push starts: 1 room again, 3 done.
 */
napi_value js_sha256_push(napi_env env, napi_callback_info info) {
  napi_value argv[3], taken;
  struct hasher *h = hasher_of(env, info, 3, argv, "expected (handle, data, onEvent)");
  unsigned char *data;
  size_t n;
  if (h == NULL || !bytes_of(env, argv[1], "data must be a Uint8Array", &data, &n)) return NULL;
  if (h->rt == NULL && !h->stay && h->total + n > SYNC_BYTES) {
    const char *failure = NULL;
    h->rt = ring_start(env, argv[2], &hashing, h, RING, &running, MAX_HASHERS, &failure);
    /* Not started (all busy): this upload goes on hashing here, and does not ask again. */
    h->stay = h->rt == NULL;
  }
  int64_t result = (int64_t)n;
  if (h->rt != NULL) result = ring_push(h->rt, data, n);
  else if (!EVP_DigestUpdate(h->ctx, data, n)) {
    napi_throw_error(env, "ERR_CRYPTO_HASH_UPDATE", "SHA-256 update failed");
    return NULL;
  }
  if (result > 0) h->total += (uint64_t)result;
  napi_create_int64(env, result, &taken);
  return taken;
}

/*
 * sha256Digest(handle) → Buffer | undefined: the digest at once when no thread was needed; otherwise undefined,
 * and event 3 brings it once the thread has hashed everything pushed.
 */
napi_value js_sha256_digest(napi_env env, napi_callback_info info) {
  napi_value argv[1], undefined;
  struct hasher *h = hasher_of(env, info, 1, argv, "expected (handle)");
  if (h == NULL) return NULL;
  if (h->rt != NULL) {
    ring_request(h->rt, RING_EV_DONE);
    napi_get_undefined(env, &undefined);
    return undefined;
  }
  unsigned int length = 0;
  if (!EVP_DigestFinal_ex(h->ctx, h->digest, &length) || length != DIGEST_BYTES) {
    napi_throw_error(env, "ERR_CRYPTO_HASH_FINAL", "SHA-256 final failed");
    return NULL;
  }
  return digest_of(env, h);
}

/* sha256Abort(handle): a thread still hashing stops (its digest is not wanted); nothing without a thread. */
napi_value js_sha256_abort(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct hasher *h = hasher_of(env, info, 1, argv, "expected (handle)");
  if (h != NULL && h->rt != NULL) ring_request(h->rt, 0);
  return NULL;
}

/* The bytes hashed on the calling thread before a thread takes over, and the most threads at once. */
napi_value sha256_limits(napi_env env) { return ring_limits(env, "syncBytes", (int64_t)SYNC_BYTES, MAX_HASHERS); }

bool sha256_init(void) {
  if (sha256 == NULL) sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  return sha256 != NULL;
}
