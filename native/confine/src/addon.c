/* Module entry: registers the confine functions and runs the load-time kernel probes. */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>

static napi_value js_has_openat2(napi_env env, napi_callback_info info) {
  napi_value v;
  napi_get_boolean(env, confine_has_openat2, &v);
  return v;
}

/* Process-wide: forces the component-by-component walk (for kernels < 5.6, and for tests). */
static napi_value js_set_degraded(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on;
  if (!get_args(env, info, 1, argv) || !arg_bool(env, argv[0], &on)) return NULL;
  confine_degraded = on;
  return js_undefined(env);
}

/* Per root: its calls run on the JS thread instead of the pool (local disks, where a pool round trip
 * costs more than the call); the caller clears the mark before it closes the descriptor. Returns false
 * (and marks nothing) for a descriptor number beyond the table: that root's calls stay on the pool. */
static napi_value js_set_inline(napi_env env, napi_callback_info info) {
  napi_value argv[2], v;
  int fd;
  bool on;
  if (!get_args(env, info, 2, argv) || !arg_int(env, argv[0], &fd) || !arg_bool(env, argv[1], &on)) return NULL;
  napi_get_boolean(env, set_inline_root(fd, on), &v);
  return v;
}

static napi_value js_is_degraded(napi_env env, napi_callback_info info) {
  napi_value v;
  napi_get_boolean(env, confine_degraded || !confine_has_openat2, &v);
  return v;
}

static napi_value js_landlock_uncovered(napi_env env, napi_callback_info info) {
  napi_value v;
  napi_create_uint32(env, landlock_skipped_threads, &v);
  return v;
}

/* A second descriptor for an open one (close-on-exec), which Node does not offer: each worker thread of
 * `serve --worker-mode threads` listens on its own copy of the main thread's listening socket, so a thread
 * that closes its server (it stops, or fails during its start) leaves the socket open for the others. */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1], v;
  int fd;
  if (!get_args(env, info, 1, argv) || !arg_int(env, argv[0], &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    napi_throw(env, make_errno_error(env, errno, "dup", NULL, NULL));
    return NULL;
  }
  napi_create_int32(env, copy, &v);
  return v;
}

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

NAPI_MODULE_INIT() {
  if (!init_makers(env)) {
    napi_throw_error(env, NULL, "confine: cannot set up its result builders");
    return NULL;
  }
  confine_has_openat2 = probe_openat2();
  probe_fchmodat2();
  napi_property_descriptor props[] = {
      FN("hasOpenat2", js_has_openat2), FN("setDegraded", js_set_degraded), FN("isDegraded", js_is_degraded),
      FN("openRoot", js_open_root),     FN("open", js_open),                FN("stat", js_stat),
      FN("realpath", js_realpath),      FN("mkdir", js_mkdir),              FN("rmdir", js_rmdir),
      FN("unlink", js_unlink),          FN("rename", js_rename),            FN("link", js_link),
      FN("symlink", js_symlink),        FN("readlink", js_readlink),        FN("chmod", js_chmod),
      FN("utimes", js_utimes),          FN("statfs", js_statfs),            FN("opendir", js_opendir),
      FN("readdir", js_readdir),        FN("closedir", js_closedir),        FN("landlock", js_landlock),
      FN("landlockUncoveredThreads", js_landlock_uncovered), FN("mallocTrim", js_malloc_trim), FN("setInline", js_set_inline),
      FN("dup", js_dup),                FN("readCached", js_read_cached),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
