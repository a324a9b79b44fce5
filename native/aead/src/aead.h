/* Shared between aead.c (in-place AES-256-GCM on the calling thread) and io.c (opening folded into a file read). */
#ifndef FERRY_AEAD_H
#define FERRY_AEAD_H
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16
/* A segment's overhead as stored: nonce before the ciphertext, tag after it. */
#define SEALED_OVERHEAD (NONCE_BYTES + TAG_BYTES)

struct args {
  unsigned char *key, *nonce, *aad, *data, *tag;
  size_t key_len, nonce_len, aad_len, data_len, tag_len;
};

void throw_type(napi_env env, const char *message);
/* The call's arguments into argv; false (with a TypeError saying `usage`) unless there are exactly `count`. */
bool args_of(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage);
/* A Buffer/Uint8Array argument's bytes; false (with a TypeError thrown) for anything else. */
bool bytes_of(napi_env env, napi_value value, const char *name, unsigned char **data, size_t *length);
/* The segment ciphers, by the ids JS passes (src/vfs/encrypted/segment-cipher.ts). */
enum aead_kind { AEAD_AES_256_GCM = 0, AEAD_CHACHA20_POLY1305 = 1 };
/* A cipher id argument; false (with a RangeError thrown) for anything but an aead_kind. */
bool kind_of(napi_env env, napi_value value, int *kind);
/*
 * Seals (encrypt) or opens `a->data` in place under cipher `kind` with a context of its own, so from any thread;
 * wipes it on failure.
 */
bool aead_run(const struct args *a, int kind, bool encrypt);
/*
 * A segment's nonce: the low 32 bits of its index (big-endian), then 8 fresh random bytes. The index makes two
 * segments of a file never share one; the random part keeps a segment sealed again (each rewrite) from repeating
 * its own. False when the random generator failed.
 */
bool segment_nonce(unsigned char *nonce, int64_t index);

napi_value js_read_open(napi_env env, napi_callback_info info);
napi_value js_read_open_many(napi_env env, napi_callback_info info);
/* An Error like node:fs's for errno `err` (positive): code, message, errno (negative), syscall (io.c). */
napi_value errno_error(napi_env env, int err, const char *syscall);

/* seipd.c: an OpenPGP SEIPD packet sealed and written on a thread of its own. */
bool seipd_init(void);
napi_value seipd_limits(napi_env env);
napi_value js_seipd_start(napi_env env, napi_callback_info info);
/* Pushed, flushed, finished and aborted through ring.h's js_ring_* functions. */

/* segseal.c: encrypted storage's segments sealed and written on a thread of their own, front to back. */
napi_value segment_stream_limits(napi_env env);
napi_value js_segment_stream_start(napi_env env, napi_callback_info info);

/* sha256.c: the SHA-256 of an upload, moved to a thread of its own past its first megabyte. */
bool sha256_init(void);
napi_value sha256_limits(napi_env env);
napi_value js_sha256_start(napi_env env, napi_callback_info info);
napi_value js_sha256_push(napi_env env, napi_callback_info info);
napi_value js_sha256_digest(napi_env env, napi_callback_info info);
napi_value js_sha256_abort(napi_env env, napi_callback_info info);
#endif
