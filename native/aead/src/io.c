/*
 * readOpen, readOpenMany: segments' file read and their opening as one job on libuv's thread pool.
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
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>
#include "aead.h"

/* The associated data of a segment is a 16-byte file id, an 8-byte index and a flag; a little room beyond. */
#define MAX_AAD 64
/* Segments one readOpenMany job reads: a 1 MiB read spans 17 (the caller splits longer runs). */
#define MAX_SEGMENTS 32

struct segment {
  unsigned char *bytes;
  /* The sealed length to read. */
  size_t length;
  unsigned char aad[MAX_AAD];
  size_t aad_len;
  napi_ref ref;
  /* sealed length when it authenticated, -1 when it did not (data zeroed), else the bytes read (file ended). */
  int64_t result;
};

struct job {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  /* Where the first segment starts; the others follow it on disk. */
  int64_t position;
  unsigned char key[KEY_BYTES];
  int kind;
  /* readOpenMany resolves with an array, readOpen with its one segment's result. */
  bool many;
  /* errno of a failed read (0 when none). */
  int err;
  int count;
  struct segment segments[];
};

static struct args segment_args(struct job *j, struct segment *s) {
  size_t data_len = s->length - SEALED_OVERHEAD;
  struct args a = {
      .key = j->key, .key_len = KEY_BYTES,
      .nonce = s->bytes, .nonce_len = NONCE_BYTES,
      .aad = s->aad, .aad_len = s->aad_len,
      .data = s->bytes + NONCE_BYTES, .data_len = data_len,
      .tag = s->bytes + NONCE_BYTES + data_len, .tag_len = TAG_BYTES,
  };
  return a;
}

/*
 * Reads every segment with as few preadv calls as the kernel allows (short counts: signals, network mounts),
 * until the end of file or an error, then opens each one read whole.
 */
static void run_read_open(struct job *j) {
  struct iovec iov[MAX_SEGMENTS];
  size_t total = 0, wanted = 0;
  for (int i = 0; i < j->count; i++) wanted += j->segments[i].length;
  while (total < wanted) {
    /* The iovecs of what is still to read: whole segments after a partly read one. */
    int n = 0;
    size_t skip = total;
    for (int i = 0; i < j->count; i++) {
      struct segment *s = &j->segments[i];
      if (skip >= s->length) {
        skip -= s->length;
        continue;
      }
      iov[n].iov_base = s->bytes + skip;
      iov[n].iov_len = s->length - skip;
      skip = 0;
      n++;
    }
    ssize_t got = preadv(j->fd, iov, n, (off_t)(j->position + (int64_t)total));
    if (got < 0) {
      if (errno == EINTR) continue;
      j->err = errno;
      return;
    }
    if (got == 0) break;
    total += (size_t)got;
  }
  size_t left = total;
  for (int i = 0; i < j->count; i++) {
    struct segment *s = &j->segments[i];
    if (left < s->length) {
      s->result = (int64_t)left;
      left = 0;
      continue;
    }
    left -= s->length;
    struct args a = segment_args(j, s);
    s->result = aead_run(&a, j->kind, false) ? (int64_t)s->length : -1;
  }
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
  } else if (j->many) {
    ok = true;
    napi_create_array_with_length(env, (size_t)j->count, &outcome);
    for (int i = 0; i < j->count; i++) {
      napi_value result;
      napi_create_int64(env, j->segments[i].result, &result);
      napi_set_element(env, outcome, (uint32_t)i, result);
    }
  } else {
    ok = true;
    napi_create_int64(env, j->segments[0].result, &outcome);
  }
  if (ok) napi_resolve_deferred(env, j->deferred, outcome);
  else napi_reject_deferred(env, j->deferred, outcome);
  for (int i = 0; i < j->count; i++) {
    if (j->segments[i].ref != NULL) napi_delete_reference(env, j->segments[i].ref);
  }
  napi_delete_async_work(env, j->work);
  OPENSSL_cleanse(j->key, KEY_BYTES);
  free(j);
}

static void discard(napi_env env, struct job *j) {
  /* Made but never queued: the work item would outlive the job otherwise. */
  if (j->work != NULL) napi_delete_async_work(env, j->work);
  for (int i = 0; i < j->count; i++) {
    if (j->segments[i].ref != NULL) napi_delete_reference(env, j->segments[i].ref);
  }
  OPENSSL_cleanse(j->key, KEY_BYTES);
  free(j);
}

/* fd, position, key and cipher of a job's call: false (an error thrown) when they are not what they must be. */
static bool common_args(napi_env env, napi_value fd_v, napi_value position_v, napi_value key_v, napi_value *kind_v,
                        int32_t *fd, int64_t *position, unsigned char **key, int *kind) {
  size_t key_len;
  if (napi_get_value_int32(env, fd_v, fd) != napi_ok || *fd < 0 ||
      napi_get_value_int64(env, position_v, position) != napi_ok || *position < 0) {
    throw_type(env, "fd, position and length must be non-negative integers");
    return false;
  }
  if (!bytes_of(env, key_v, "key must be a Uint8Array", key, &key_len)) return false;
  if (key_len != KEY_BYTES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "key must be 32 bytes");
    return false;
  }
  *kind = AEAD_AES_256_GCM;
  return kind_v == NULL || kind_of(env, *kind_v, kind);
}

/* Segment `s` of a job: `buffer` to read `length` sealed bytes into, opened with `aad`. */
static bool segment_args_of(napi_env env, napi_value buffer, napi_value length_v, napi_value aad_v,
                            struct segment *s) {
  int64_t length;
  unsigned char *aad;
  size_t bytes_len, aad_len;
  if (napi_get_value_int64(env, length_v, &length) != napi_ok || length < 0) {
    throw_type(env, "fd, position and length must be non-negative integers");
    return false;
  }
  if (!bytes_of(env, buffer, "buffer must be a Uint8Array", &s->bytes, &bytes_len) ||
      !bytes_of(env, aad_v, "aad must be a Uint8Array", &aad, &aad_len))
    return false;
  if (aad_len > MAX_AAD || (size_t)length < SEALED_OVERHEAD || (size_t)length > bytes_len || length > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "key must be 32 bytes, aad at most 64, and the sealed segment must fit the buffer");
    return false;
  }
  s->length = (size_t)length;
  memcpy(s->aad, aad, aad_len);
  s->aad_len = aad_len;
  /* The reference keeps the buffer's memory alive while a pool thread reads into it. */
  return napi_create_reference(env, buffer, 1, &s->ref) == napi_ok;
}

static napi_value queue(napi_env env, struct job *j) {
  napi_value promise, name;
  napi_create_string_utf8(env, "ferry.aead.readOpen", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    /* Not reached in practice (out of memory); a promise made before the failure is left unsettled. */
    discard(env, j);
    napi_throw_error(env, "ERR_AEAD_JOB", "could not start the segment job");
    return NULL;
  }
  return promise;
}

static struct job *new_job(napi_env env, int count) {
  struct job *j = calloc(1, sizeof *j + (size_t)count * sizeof(struct segment));
  if (j == NULL) napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "out of memory");
  return j;
}

/*
 * readOpen(fd, position, buffer, sealedLength, key, aad[, cipher]) → Promise<number>: reads the sealed segment
 * (nonce | ciphertext | tag, as stored) into the start of the buffer and opens it in place. Resolves with
 * sealedLength when it authenticated, -1 when it did not (the data is zeroed), or the byte count when the file
 * ended first (nothing is opened); rejects with the read's errno as node:fs would.
 */
napi_value js_read_open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 || argc > 7) {
    throw_type(env, "expected (fd, position, buffer, sealedLength, key, aad[, cipher])");
    return NULL;
  }
  int32_t fd;
  int64_t position;
  unsigned char *key;
  int kind;
  if (!common_args(env, argv[0], argv[1], argv[4], argc == 7 ? &argv[6] : NULL, &fd, &position, &key, &kind))
    return NULL;
  struct job *j = new_job(env, 1);
  if (j == NULL) return NULL;
  j->count = 1;
  if (!segment_args_of(env, argv[2], argv[3], argv[5], &j->segments[0])) {
    discard(env, j);
    return NULL;
  }
  j->fd = fd;
  j->position = position;
  j->kind = kind;
  memcpy(j->key, key, KEY_BYTES);
  return queue(env, j);
}

/*
 * readOpenMany(fd, position, buffers, sealedLengths, key, aads, cipher) → Promise<number[]>: readOpen for
 * consecutive segments stored from `position` on, one buffer each, in one job (one preadv, then each opened):
 * a read spanning several segments costs one thread-pool round trip instead of one per segment. Resolves with
 * each segment's result as readOpen's.
 */
napi_value js_read_open_many(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!args_of(env, info, 7, argv, "expected (fd, position, buffers, sealedLengths, key, aads, cipher)")) return NULL;
  int32_t fd;
  int64_t position;
  unsigned char *key;
  int kind;
  if (!common_args(env, argv[0], argv[1], argv[4], &argv[6], &fd, &position, &key, &kind)) return NULL;
  uint32_t count = 0, lengths = 0, aads = 0;
  bool arrays = false;
  napi_is_array(env, argv[2], &arrays);
  if (!arrays || napi_get_array_length(env, argv[2], &count) != napi_ok ||
      napi_get_array_length(env, argv[3], &lengths) != napi_ok ||
      napi_get_array_length(env, argv[5], &aads) != napi_ok || count == 0 || count > MAX_SEGMENTS ||
      lengths != count || aads != count) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "buffers, sealedLengths and aads must be arrays of one length, 1 to 32");
    return NULL;
  }
  struct job *j = new_job(env, (int)count);
  if (j == NULL) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value buffer, length, aad;
    napi_get_element(env, argv[2], i, &buffer);
    napi_get_element(env, argv[3], i, &length);
    napi_get_element(env, argv[5], i, &aad);
    j->count = (int)i + 1;
    if (!segment_args_of(env, buffer, length, aad, &j->segments[i])) {
      discard(env, j);
      return NULL;
    }
  }
  j->fd = fd;
  j->position = position;
  j->kind = kind;
  j->many = true;
  memcpy(j->key, key, KEY_BYTES);
  return queue(env, j);
}
