/*
 * readOpen: a segment's file read and its opening as one job on libuv's thread pool.
 *
 * Why: the segment's read goes to the thread pool anyway (node:fs), and opening it on the event loop's thread was
 * ~0.25 s/GiB, a quarter of what an encrypted download cost that thread beyond a plain one (docs/PERFORMANCE.md).
 * In the same job the cipher leaves the loop's thread at no extra round trip, while the read has the bytes in the
 * CPU's cache. Not for writes: sealing stays on the loop's thread, where the file coalesces contiguous segments
 * into one pwritev; a job per segment cost more dispatches than the sealing saved (measured).
 *
 * The caller keeps the descriptor open until the job settles (src/vfs/encrypted): a job holds only a reference
 * to its buffer and copies of the key and associated data.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "aead.h"

/* The associated data of a segment is a 16-byte file id, an 8-byte index and a flag; a little room beyond. */
#define MAX_AAD 64

struct job {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref;
  int fd;
  int64_t position;
  unsigned char *bytes;
  /* The sealed length to read. */
  size_t length;
  unsigned char key[KEY_BYTES];
  unsigned char aad[MAX_AAD];
  size_t aad_len;
  int kind;
  /* Outcome: errno of a failed read (0 when none), else the result readOpen resolves with. */
  int err;
  int64_t result;
};

static struct args job_args(struct job *j, size_t data_len) {
  struct args a = {
      .key = j->key, .key_len = KEY_BYTES,
      .nonce = j->bytes, .nonce_len = NONCE_BYTES,
      .aad = j->aad, .aad_len = j->aad_len,
      .data = j->bytes + NONCE_BYTES, .data_len = data_len,
      .tag = j->bytes + NONCE_BYTES + data_len, .tag_len = TAG_BYTES,
  };
  return a;
}

/* Reads until `length` bytes, end of file or an error: pread may return short counts (signals, network mounts). */
static void run_read_open(struct job *j) {
  size_t total = 0;
  while (total < j->length) {
    ssize_t n = pread(j->fd, j->bytes + total, j->length - total, (off_t)(j->position + (int64_t)total));
    if (n < 0) {
      if (errno == EINTR) continue;
      j->err = errno;
      return;
    }
    if (n == 0) break;
    total += (size_t)n;
  }
  if (total < j->length) {
    j->result = (int64_t)total;
    return;
  }
  struct args a = job_args(j, j->length - SEALED_OVERHEAD);
  j->result = aead_run(&a, j->kind, false) ? (int64_t)j->length : -1;
}

static void execute(napi_env env, void *data) {
  run_read_open(data);
}

/* An error like node:fs's: `code` the errno name, `errno` negative, `syscall`. */
napi_value errno_error(napi_env env, int err, const char *syscall) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s, %s", uv_err_name(-err), uv_strerror(-err), syscall);
  napi_value code, msg, error, errno_value, syscall_value;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  return error;
}

static void complete(napi_env env, napi_status status, void *data) {
  struct job *j = data;
  napi_value outcome;
  bool ok = false;
  if (status != napi_ok) {
    napi_value code, msg;
    napi_create_string_utf8(env, "ERR_CANCELLED", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "the segment job was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &outcome);
  } else if (j->err != 0) {
    outcome = errno_error(env, j->err, "pread");
  } else {
    ok = true;
    napi_create_int64(env, j->result, &outcome);
  }
  if (ok) napi_resolve_deferred(env, j->deferred, outcome);
  else napi_reject_deferred(env, j->deferred, outcome);
  napi_delete_reference(env, j->buffer_ref);
  napi_delete_async_work(env, j->work);
  OPENSSL_cleanse(j->key, KEY_BYTES);
  free(j);
}

/*
 * readOpen(fd, position, buffer, sealedLength, key, aad[, cipher]) → Promise<number>: reads the sealed segment (nonce |
 * ciphertext | tag, as stored) into the start of the buffer and opens it in place. Resolves with sealedLength when
 * it authenticated, -1 when it did not (the data is zeroed), or the byte count when the file ended first (nothing
 * is opened); rejects with the read's errno as node:fs would.
 */
napi_value js_read_open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 || argc > 7) {
    throw_type(env, "expected (fd, position, buffer, sealedLength, key, aad[, cipher])");
    return NULL;
  }
  int kind = AEAD_AES_256_GCM;
  if (argc == 7 && !kind_of(env, argv[6], &kind)) return NULL;
  int32_t fd;
  int64_t position, length;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int64(env, argv[1], &position) != napi_ok || position < 0 ||
      napi_get_value_int64(env, argv[3], &length) != napi_ok || length < 0) {
    throw_type(env, "fd, position and length must be non-negative integers");
    return NULL;
  }
  unsigned char *bytes, *key, *aad;
  size_t bytes_len, key_len, aad_len;
  if (!bytes_of(env, argv[2], "buffer must be a Uint8Array", &bytes, &bytes_len) ||
      !bytes_of(env, argv[4], "key must be a Uint8Array", &key, &key_len) ||
      !bytes_of(env, argv[5], "aad must be a Uint8Array", &aad, &aad_len))
    return NULL;
  if (key_len != KEY_BYTES || aad_len > MAX_AAD || (size_t)length < SEALED_OVERHEAD ||
      (size_t)length > bytes_len || length > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "key must be 32 bytes, aad at most 64, and the sealed segment must fit the buffer");
    return NULL;
  }
  struct job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");
    return NULL;
  }
  j->fd = fd;
  j->position = position;
  j->bytes = bytes;
  j->length = (size_t)length;
  memcpy(j->key, key, KEY_BYTES);
  memcpy(j->aad, aad, aad_len);
  j->aad_len = aad_len;
  j->kind = kind;
  napi_value promise, name;
  napi_create_string_utf8(env, "ferry.aead.readOpen", NAPI_AUTO_LENGTH, &name);
  /* The reference keeps the buffer's memory alive while a pool thread reads into it. */
  if (napi_create_reference(env, argv[2], 1, &j->buffer_ref) != napi_ok) j->buffer_ref = NULL;
  if (j->buffer_ref == NULL || napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    /* Not reached in practice (out of memory); a promise made before the failure is left unsettled. */
    if (j->buffer_ref != NULL) napi_delete_reference(env, j->buffer_ref);
    OPENSSL_cleanse(j->key, KEY_BYTES);
    free(j);
    napi_throw_error(env, "ERR_AEAD_JOB", "could not start the segment job");
    return NULL;
  }
  return promise;
}

