/* The async plumbing: a call runs in a napi async work item on the libuv pool, or on the calling
 * thread for a root marked inline, and settles a Promise; failures become Node-shaped errors
 * (code, errno, syscall). */
#include "confine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

job *job_new(job_exec_fn exec, job_done_fn done) {
  job *j = calloc(1, sizeof(job));
  if (!j) return NULL;
  j->exec = exec;
  j->done = done;
  j->fd = -1;
  j->root = -1;
  return j;
}

/* Roots whose metadata calls run on the calling thread (setInline): a bit per descriptor number.
 * Only the JS thread reads and writes it, so it needs no lock. */
#define INLINE_ROOTS_MAX 65536
static unsigned char inline_roots[INLINE_ROOTS_MAX / 8];

bool set_inline_root(int fd, bool on) {
  if (fd < 0 || fd >= INLINE_ROOTS_MAX) return false;
  if (on)
    inline_roots[fd / 8] |= (unsigned char)(1u << (fd % 8));
  else
    inline_roots[fd / 8] &= (unsigned char)~(1u << (fd % 8));
  return true;
}

static bool is_inline_root(int fd) {
  return fd >= 0 && fd < INLINE_ROOTS_MAX && (inline_roots[fd / 8] & (1u << (fd % 8))) != 0;
}

void job_fail(job *j, int err, const char *syscall) {
  j->err = err;
  j->syscall = syscall;
}

static void job_free(napi_env env, job *j) {
  if (j->dir_ref) napi_delete_reference(env, j->dir_ref);
  for (unsigned i = 0; i < j->n_entries; i++) free(j->entries[i].name);
  free(j->entries);
  free(j->path);
  free(j->path2);
  free(j->rpath);
  free(j);
}

static void on_execute(napi_env env, void *data) {
  job *j = data;
  j->exec(j);
}

/*
 * A lookup's answer (missing, exists, not a directory) is an outcome callers expect, not a fault: its error is
 * built without a stack trace. V8 captures one at construction, and from an inline call deep in a request's
 * awaits that cost ~10 µs per missing name (every new upload's name is one); src/errors.ts maps the same three
 * codes to FerryErrors without a stack. Other failures keep the caller's frames.
 */
static void create_error(napi_env env, napi_value msg, bool stackless, napi_value *error) {
  napi_value global, ctor, limit = NULL, zero;
  bool muted = stackless && napi_get_global(env, &global) == napi_ok &&
               napi_get_named_property(env, global, "Error", &ctor) == napi_ok &&
               napi_get_named_property(env, ctor, "stackTraceLimit", &limit) == napi_ok &&
               napi_create_int32(env, 0, &zero) == napi_ok &&
               napi_set_named_property(env, ctor, "stackTraceLimit", zero) == napi_ok;
  napi_create_error(env, NULL, msg, error);
  if (muted) napi_set_named_property(env, ctor, "stackTraceLimit", limit);
}

napi_value make_errno_error(napi_env env, int err, const char *syscall, const char *message,
                            const char *path) {
  char text[1024];
  char sbuf[256];
  const char *code = errno_name(err);
  char tmp[256];
  /* GNU strerror_r may return a static string; copy it so the first letter can be lowered as Node does */
  snprintf(sbuf, sizeof sbuf, "%s", message ? message : strerror_r(err, tmp, sizeof tmp));
  if (!message && sbuf[0] >= 'A' && sbuf[0] <= 'Z') sbuf[0] += 'a' - 'A';
  const char *why = sbuf;
  if (path)
    snprintf(text, sizeof text, "%s: %s, %s '%s'", code, why, syscall, path);
  else
    snprintf(text, sizeof text, "%s: %s, %s", code, why, syscall);
  napi_value msg, error, v;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  create_error(env, msg, err == ENOENT || err == EEXIST || err == ENOTDIR, &error);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "code", v);
  napi_create_int32(env, -err, &v); /* negative, as Node's fs errors carry it */
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "path", v);
  }
  return error;
}

static void settle(napi_env env, job *j) {
  if (j->dir) j->dir->busy = false;
  if (j->err) {
    napi_reject_deferred(env, j->deferred, make_errno_error(env, j->err, j->syscall, j->message, j->path));
  } else {
    napi_value result = j->done(env, j);
    napi_resolve_deferred(env, j->deferred, result);
  }
}

static void on_complete(napi_env env, napi_status status, void *data) {
  job *j = data;
  if (status != napi_ok && !j->err) job_fail(j, ECANCELED, "async");
  settle(env, j);
  napi_delete_async_work(env, j->work);
  job_free(env, j);
}

napi_value job_queue(napi_env env, job *j, const char *name) {
  napi_value promise, resource_name;
  napi_create_promise(env, &j->deferred, &promise);
  /* A pool round trip (a futex wake, a thread switch, an eventfd write and an epoll wake-up) costs more
   * than a stat or an open on a local disk's cached metadata; the promise still settles later. */
  if (is_inline_root(j->root)) {
    j->exec(j);
    settle(env, j);
    job_free(env, j);
    return promise;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_async_work(env, NULL, resource_name, on_execute, on_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_reject_deferred(env, j->deferred, make_errno_error(env, ENOMEM, "queue", NULL, NULL));
    job_free(env, j);
  }
  return promise;
}

napi_value js_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/*
 * Results are built by small JS functions (object literals) compiled once per environment, not property by
 * property: each napi_set_named_property interns its key and walks V8's slow property path (a map transition
 * per key), ~4 µs for a stat record, as much as the system calls of a stat; a call into a literal is well
 * under one. The script is a constant of this file.
 */
static const char MAKERS_SOURCE[] =
    "[(mode, size, uid, gid, nlink, atimeMs, mtimeMs, ino, dev) =>"
    " ({ mode, size, uid, gid, nlink, atimeMs, mtimeMs, ino, dev }),"
    " (stat, path) => ({ stat, path }),"
    " (fd, path, stat) => ({ fd, path, stat }),"
    " (dir, path, stat) => ({ dir, path, stat }),"
    " (name, stat) => ({ name, stat })]";

typedef struct makers {
  napi_ref fn[MAKER_COUNT];
} makers;

static void free_makers(napi_env env, void *data, void *hint) {
  makers *m = data;
  for (int i = 0; i < MAKER_COUNT; i++)
    if (m->fn[i]) napi_delete_reference(env, m->fn[i]);
  free(m);
}

bool init_makers(napi_env env) {
  napi_value source, list, fn;
  makers *m = calloc(1, sizeof(makers));
  if (!m) return false;
  bool ok = napi_create_string_utf8(env, MAKERS_SOURCE, NAPI_AUTO_LENGTH, &source) == napi_ok &&
            napi_run_script(env, source, &list) == napi_ok;
  for (uint32_t i = 0; ok && i < MAKER_COUNT; i++)
    ok = napi_get_element(env, list, i, &fn) == napi_ok && napi_create_reference(env, fn, 1, &m->fn[i]) == napi_ok;
  if (ok && napi_set_instance_data(env, m, free_makers, NULL) == napi_ok) return true;
  free_makers(env, m, NULL);
  return false;
}

napi_value make(napi_env env, maker which, size_t argc, const napi_value *argv) {
  makers *m = NULL;
  napi_value fn, recv, result = NULL;
  napi_get_undefined(env, &recv);
  /* JS cannot run in an environment that is shutting down (a worker thread terminated mid-call): undefined */
  if (napi_get_instance_data(env, (void **)&m) != napi_ok || !m ||
      napi_get_reference_value(env, m->fn[which], &fn) != napi_ok ||
      napi_call_function(env, recv, fn, argc, argv, &result) != napi_ok || !result)
    return recv;
  return result;
}

static napi_value number(napi_env env, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  return v;
}

napi_value stat_to_js(napi_env env, const struct stat *st) {
  napi_value argv[] = {
      number(env, st->st_mode),
      number(env, (double)st->st_size),
      number(env, st->st_uid),
      number(env, st->st_gid),
      number(env, (double)st->st_nlink),
      number(env, st->st_atim.tv_sec * 1e3 + st->st_atim.tv_nsec / 1e6),
      number(env, st->st_mtim.tv_sec * 1e3 + st->st_mtim.tv_nsec / 1e6),
      number(env, (double)st->st_ino),
      number(env, (double)st->st_dev),
  };
  return make(env, MAKE_STAT, sizeof argv / sizeof argv[0], argv);
}

napi_value path_or_null(napi_env env, job *j) {
  napi_value v;
  if (j->rpath)
    napi_create_string_utf8(env, j->rpath, NAPI_AUTO_LENGTH, &v);
  else
    napi_get_null(env, &v);
  return v;
}

/* Argument readers throw a TypeError themselves and return false, so callers just return NULL. */
static bool type_error(napi_env env, const char *what) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
  return false;
}

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  return get_args_of(env, info, want, want, argv);
}

bool get_args_of(napi_env env, napi_callback_info info, size_t capacity, size_t required, napi_value *argv) {
  /* arguments not given read as undefined */
  size_t argc = capacity;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < required) return type_error(env, "missing arguments");
  return true;
}

bool arg_int(napi_env env, napi_value v, int *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) return type_error(env, "expected an integer");
  return true;
}

bool arg_uint(napi_env env, napi_value v, unsigned *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) return type_error(env, "expected an unsigned integer");
  return true;
}

bool arg_double(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) return type_error(env, "expected a number");
  return true;
}

bool arg_bool(napi_env env, napi_value v, bool *out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) return type_error(env, "expected a boolean");
  return true;
}

bool arg_string(napi_env env, napi_value v, char **out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return type_error(env, "expected a string");
  char *s = malloc(len + 1);
  if (!s) return type_error(env, "out of memory");
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) { /* an embedded NUL would silently truncate the path */
    free(s);
    return type_error(env, "path contains a NUL byte");
  }
  *out = s;
  return true;
}
