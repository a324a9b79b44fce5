/*
 * AES-256-GCM or ChaCha20-Poly1305 over a caller's buffer, in place: seal(key, nonce, aad, data, tag[, cipher])
 * and open(...).
 *
 * Why: node:crypto's Cipheriv returns a newly allocated buffer for every update. For encrypted storage that is
 * one fresh 64 KiB ArrayBuffer per segment (1 GiB of them per GiB moved), and V8 runs a scavenge whenever young
 * ArrayBuffers reach a fixed size: the server's GC work doubled and its main thread spent more on allocation,
 * zero-filling and copying than on AES itself. Here the segment buffer is encrypted and decrypted where it lies.
 *
 * seal/open are synchronous on the calling thread: 64 KiB of AES-GCM is ~15 us with AES-NI, less than a thread-pool
 * round trip. readOpen folds opening into the file read a segment needs anyway (one thread-pool job either way),
 * so AES leaves the event loop's thread at no extra round trip: see io.c.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "aead.h"
#include "ring.h"

/* Fetched once: an explicit fetch per call would cost a provider lookup each time. Shared read-only by threads. */
static EVP_CIPHER *ciphers[2];
static const char *const cipher_names[2] = {"AES-256-GCM", "ChaCha20-Poly1305"};

void throw_type(napi_env env, const char *message) { napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message); }

bool args_of(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count) {
    throw_type(env, usage);
    return false;
  }
  return true;
}

/* A Buffer/Uint8Array argument's bytes; false (with a TypeError thrown) for anything else. */
bool bytes_of(napi_env env, napi_value value, const char *name, unsigned char **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    throw_type(env, name);
    return false;
  }
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *raw;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok ||
      type != napi_uint8_array) {
    throw_type(env, name);
    return false;
  }
  *data = raw;
  return true;
}

bool kind_of(napi_env env, napi_value value, int *kind) {
  int32_t id;
  if (napi_get_value_int32(env, value, &id) != napi_ok || id < AEAD_AES_256_GCM || id > AEAD_CHACHA20_POLY1305) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "cipher must be 0 (AES-256-GCM) or 1 (ChaCha20-Poly1305)");
    return false;
  }
  if (ciphers[id] == NULL) {
    napi_throw_error(env, "ERR_CRYPTO_UNKNOWN_CIPHER", "this Node's OpenSSL lacks the cipher asked for");
    return false;
  }
  *kind = id;
  return true;
}

bool segment_nonce(unsigned char *nonce, int64_t index) {
  for (int i = 0; i < 4; i++) nonce[i] = (unsigned char)((uint64_t)index >> (24 - 8 * i));
  return RAND_bytes(nonce + 4, NONCE_BYTES - 4) == 1;
}

/* (key, nonce, aad, data, tag[, cipher]): the cipher defaults to AES-256-GCM. */
static bool read_args(napi_env env, napi_callback_info info, struct args *a, int *kind) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 || argc > 6) {
    throw_type(env, "expected (key, nonce, aad, data, tag[, cipher])");
    return false;
  }
  *kind = AEAD_AES_256_GCM;
  if (argc == 6 && !kind_of(env, argv[5], kind)) return false;
  if (!bytes_of(env, argv[0], "key must be a Uint8Array", &a->key, &a->key_len) ||
      !bytes_of(env, argv[1], "nonce must be a Uint8Array", &a->nonce, &a->nonce_len) ||
      !bytes_of(env, argv[2], "aad must be a Uint8Array", &a->aad, &a->aad_len) ||
      !bytes_of(env, argv[3], "data must be a Uint8Array", &a->data, &a->data_len) ||
      !bytes_of(env, argv[4], "tag must be a Uint8Array", &a->tag, &a->tag_len))
    return false;
  if (a->key_len != KEY_BYTES || a->nonce_len != NONCE_BYTES || a->tag_len != TAG_BYTES ||
      a->data_len > INT_MAX || a->aad_len > INT_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "key must be 32 bytes, nonce 12, tag 16");
    return false;
  }
  return true;
}

/* EVP_*Update with a NULL output feeds associated data; a zero-length update is skipped (some providers refuse it). */
static bool run_ctx(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, const struct args *a, bool encrypt) {
  int out = 0;
  if (!(encrypt ? EVP_EncryptInit_ex2(ctx, cipher, a->key, a->nonce, NULL)
                : EVP_DecryptInit_ex2(ctx, cipher, a->key, a->nonce, NULL)))
    return false;
  if (a->aad_len > 0 && !EVP_CipherUpdate(ctx, NULL, &out, a->aad, (int)a->aad_len)) return false;
  if (a->data_len > 0 && !EVP_CipherUpdate(ctx, a->data, &out, a->data, (int)a->data_len)) return false;
  if (encrypt) {
    return EVP_CipherFinal_ex(ctx, a->data + a->data_len, &out) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, a->tag);
  }
  /* The tag is set before final, which compares it in constant time. */
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, a->tag) &&
         EVP_CipherFinal_ex(ctx, a->data + a->data_len, &out) > 0;
}

/* One sealing or opening with a context of its own (safe from any thread); on failure the data is wiped. */
bool aead_run(const struct args *a, int kind, bool encrypt) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  const EVP_CIPHER *cipher = kind >= 0 && kind < 2 ? ciphers[kind] : NULL;
  bool ok = ctx != NULL && cipher != NULL && run_ctx(ctx, cipher, a, encrypt);
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) OPENSSL_cleanse(a->data, a->data_len);
  return ok;
}

static napi_value boolean(napi_env env, bool value) {
  napi_value v;
  napi_get_boolean(env, value, &v);
  return v;
}

/* seal(key, nonce, aad, data, tag[, cipher]): encrypts data in place and writes the tag. Throws only on bad arguments. */
static napi_value js_seal(napi_env env, napi_callback_info info) {
  struct args a;
  int kind;
  if (!read_args(env, info, &a, &kind)) return NULL;
  /* Never leave half-encrypted data that a caller might store: aead_run wipes it. */
  if (!aead_run(&a, kind, true)) {
    napi_throw_error(env, "ERR_CRYPTO_OPERATION_FAILED", "segment sealing failed");
    return NULL;
  }
  return boolean(env, true);
}

/*
 * open(key, nonce, aad, data, tag[, cipher]): decrypts data in place; true when it authenticated. False leaves
 * data zeroed, so unauthenticated plaintext is never there to be served by mistake.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  struct args a;
  int kind;
  if (!read_args(env, info, &a, &kind)) return NULL;
  return boolean(env, aead_run(&a, kind, false));
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

NAPI_MODULE_INIT() {
  for (int i = 0; i < 2; i++) {
    if (ciphers[i] == NULL) ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
  }
  /* Without ChaCha20-Poly1305 only calls asking for it fail (kind_of says so). */
  if (ciphers[AEAD_AES_256_GCM] == NULL) {
    napi_throw_error(env, "ERR_CRYPTO_UNKNOWN_CIPHER", "this Node's OpenSSL has no AES-256-GCM");
    return NULL;
  }
  /* Without AES-256-CFB or SHA-1 only seipdStart fails (it says so); the GCM functions still load. */
  seipd_init();
  sha256_init();
  napi_property_descriptor props[] = {
      FN("seal", js_seal),
      FN("open", js_open),
      FN("readOpen", js_read_open),
      FN("readOpenMany", js_read_open_many),
      FN("seipdStart", js_seipd_start),
      FN("segmentStreamStart", js_segment_stream_start),
      FN("ringPush", js_ring_push),
      FN("ringFlush", js_ring_flush),
      FN("ringFinish", js_ring_finish),
      FN("ringAbort", js_ring_abort),
      FN("ringPoolTrim", js_ring_pool_trim),
      FN("ringPoolBytes", js_ring_pool_bytes),
      FN("sha256Start", js_sha256_start),
      FN("sha256Push", js_sha256_push),
      FN("sha256Digest", js_sha256_digest),
      FN("sha256Abort", js_sha256_abort),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_set_named_property(env, exports, "seipdLimits", seipd_limits(env));
  napi_set_named_property(env, exports, "sha256Limits", sha256_limits(env));
  napi_set_named_property(env, exports, "segmentStreamLimits", segment_stream_limits(env));
  return exports;
}
