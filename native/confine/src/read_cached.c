/* A positional read of what the page cache already holds, on the calling thread: preadv2 with RWF_NOWAIT.
 * A download from a local disk reads on the JS thread when its data is cached (a disk's hot files), which saves a
 * thread-pool hand-over and two wake-ups per read batch; anything it would have to wait for (a cold page, a lock)
 * is left to the pool. tmpfs cannot answer RWF_NOWAIT: src/vfs/local/cached-reads.ts reads it plainly while no
 * swap is on. */
#include "confine.h"

#include <errno.h>
#include <sys/uio.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/* More buffers than a read batch has (read-queue.ts caps the batch's bytes, and a READ is one buffer). */
#define MAX_IOV 256

/* readCached(fd, buffers, position): the bytes read (0 at the end of the file, fewer than asked when only part is
 * cached), -1 when none is cached (EAGAIN), -2 when the file system cannot tell (EOPNOTSUPP: tmpfs here). */
napi_value js_read_cached(napi_env env, napi_callback_info info) {
  napi_value argv[3], v;
  int fd;
  int64_t position;
  uint32_t count;
  bool is_array;
  if (!get_args(env, info, 3, argv) || !arg_int(env, argv[0], &fd)) return NULL;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0 || count > MAX_IOV ||
      napi_get_value_int64(env, argv[2], &position) != napi_ok || position < 0) {
    napi_throw_type_error(env, NULL, "readCached(fd, buffers[1..256], position >= 0)");
    return NULL;
  }
  struct iovec iov[MAX_IOV];
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    void *data;
    size_t length;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        napi_get_buffer_info(env, element, &data, &length) != napi_ok) {
      napi_throw_type_error(env, NULL, "readCached: every buffer must be a Buffer");
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = length;
  }
  ssize_t got;
  do got = preadv2(fd, iov, (int)count, (off_t)position, RWF_NOWAIT);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EOPNOTSUPP) {
      napi_create_int32(env, errno == EAGAIN ? -1 : -2, &v);
      return v;
    }
    napi_throw(env, make_errno_error(env, errno, "preadv2", NULL, NULL));
    return NULL;
  }
  napi_create_double(env, (double)got, &v);
  return v;
}
