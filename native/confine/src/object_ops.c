/* Operations on the object a path resolves to: the whole path is opened in the root (O_PATH
 * unless the caller wants an I/O fd) and the work happens on that fd, never on a path string
 * the kernel would walk again. */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; the first to honour AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW */
#endif

static bool has_fchmodat2;

bool probe_fchmodat2(void) {
  /* EBADF proves the call exists without touching anything */
  has_fchmodat2 = syscall(SYS_fchmodat2, -1, "", 0, AT_EMPTY_PATH) != 0 && errno == EBADF;
  return has_fchmodat2;
}

static napi_value done_fd(napi_env env, job *j) {
  napi_value argv[3];
  napi_create_int32(env, j->fd, &argv[0]);
  argv[1] = path_or_null(env, j);
  argv[2] = stat_to_js(env, &j->st);
  return make(env, MAKE_OPENED, 3, argv);
}

static napi_value done_root(napi_env env, job *j) {
  napi_value v;
  napi_create_int32(env, j->fd, &v);
  return v;
}

static napi_value done_stat(napi_env env, job *j) {
  napi_value argv[] = {stat_to_js(env, &j->st), path_or_null(env, j)};
  return make(env, MAKE_STAT_RESULT, 2, argv);
}

static napi_value done_text(napi_env env, job *j) {
  napi_value v;
  napi_create_string_utf8(env, j->rpath, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value done_void(napi_env env, job *j) { return js_undefined(env); }

static napi_value done_statfs(napi_env env, job *j) {
  napi_value o, v;
  napi_create_object(env, &o);
#define SET(key, field)                                \
  napi_create_double(env, (double)j->sfs.field, &v); \
  napi_set_named_property(env, o, key, v)
  SET("bsize", f_bsize);
  SET("blocks", f_blocks);
  SET("bfree", f_bfree);
  SET("bavail", f_bavail);
  SET("files", f_files);
  SET("ffree", f_ffree);
  SET("namemax", f_namelen);
  SET("type", f_type);
#undef SET
  return o;
}

/* Opens the path's object O_PATH; on failure records the error and returns -1. */
static int open_object(job *j, bool follow) {
  const char *sc;
  int fd = resolve_open(j->root, j->path, O_PATH, 0, follow, &sc);
  if (fd < 0) job_fail(j, -fd, sc);
  return fd < 0 ? -1 : fd;
}

static void exec_open_root(job *j) {
  /* the admin-configured home: trusted, so a plain open; absolute only, never cwd-relative */
  if (j->path[0] != '/') return job_fail(j, EINVAL, "open");
  j->fd = open(j->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (j->fd < 0) job_fail(j, errno, "open");
}

static void exec_open(job *j) {
  const char *sc;
  /* O_NONBLOCK so a FIFO (or a device) cannot park a pool thread in open(); refused below */
  int fd = resolve_open(j->root, j->path, j->flags | O_NONBLOCK | O_NOCTTY, j->mode, true, &sc);
  if (fd == -ENXIO) { /* FIFO without a reader, socket, absent device: all not regular */
    j->message = "not a regular file or directory";
    return job_fail(j, EINVAL, sc);
  }
  if (fd < 0) return job_fail(j, -fd, sc);
  if (fstat(fd, &j->st) != 0) {
    job_fail(j, errno, "fstat");
  } else if (!S_ISREG(j->st.st_mode) && !S_ISDIR(j->st.st_mode)) {
    j->message = "not a regular file or directory";
    job_fail(j, EINVAL, sc);
  } else if (!(j->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, j->flags) != 0) {
    /* F_SETFL only takes the status flags (O_APPEND...) from j->flags: this just drops O_NONBLOCK */
    job_fail(j, errno, "fcntl");
  }
  if (j->err) {
    close(fd);
    return;
  }
  j->fd = fd;
  j->rpath = resolved_path_of(j->root, fd, &j->st);
}

static void exec_stat(job *j) {
  int fd = open_object(j, j->follow);
  if (fd < 0) return;
  if (fstat(fd, &j->st) != 0)
    job_fail(j, errno, "fstat");
  else if (!j->skip_path)
    j->rpath = resolved_path_of(j->root, fd, &j->st);
  close(fd);
}

static void exec_realpath(job *j) {
  int fd = open_object(j, true);
  if (fd < 0) return;
  j->rpath = resolved_path(j->root, fd);
  if (!j->rpath) { /* deleted meanwhile, or (bind-mount oddity) not below the root */
    struct stat st;
    job_fail(j, fstat(fd, &st) == 0 && st.st_nlink > 0 ? EXDEV : ENOENT, "realpath");
  }
  close(fd);
}

static void exec_chmod(job *j) {
  int fd = open_object(j, j->follow);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    job_fail(j, errno, "fstat");
  } else if (S_ISLNK(st.st_mode)) {
    job_fail(j, EOPNOTSUPP, "fchmodat"); /* Linux has no mode on symlinks */
  } else if (has_fchmodat2) {
    if (syscall(SYS_fchmodat2, fd, "", j->mode, AT_EMPTY_PATH) != 0) job_fail(j, errno, "fchmodat2");
  } else {
    /* fchmod() refuses O_PATH fds; the /proc magic link names exactly this object */
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    if (chmod(link, j->mode) != 0) job_fail(j, errno, "chmod");
  }
  close(fd);
}

static struct timespec to_timespec(double seconds) {
  double whole = floor(seconds);
  struct timespec ts = {.tv_sec = (time_t)whole, .tv_nsec = (long)((seconds - whole) * 1e9)};
  if (ts.tv_nsec > 999999999) ts.tv_nsec = 999999999;
  return ts;
}

static void exec_utimes(job *j) {
  struct timespec times[2] = {to_timespec(j->atime), to_timespec(j->mtime)};
  if (j->follow) {
    int fd = open_object(j, true);
    if (fd < 0) return;
    int rc = utimensat(fd, "", times, AT_EMPTY_PATH);
    if (rc != 0 && errno == EINVAL) { /* older kernels lack AT_EMPTY_PATH here: the magic link names the object */
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      rc = utimensat(AT_FDCWD, link, times, 0);
    }
    if (rc != 0) job_fail(j, errno, "utimensat");
    close(fd);
    return;
  }
  char *buf;
  const char *name, *sc;
  int dfd = resolve_parent(j->root, j->path, &buf, &name, &sc);
  if (dfd < 0) return job_fail(j, -dfd, sc);
  if (utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW) != 0) job_fail(j, errno, "utimensat");
  close(dfd);
  free(buf);
}

static void exec_statfs(job *j) {
  int fd = open_object(j, true);
  if (fd < 0) return;
  if (fstatfs(fd, &j->sfs) != 0) job_fail(j, errno, "fstatfs");
  close(fd);
}

/*
 * Reads (root, path) and then the listed extra arguments: i=int, u=unsigned, b=bool, d=double; a last 'p' is
 * optional: false when the caller wants no resolved path (default true).
 */
static napi_value queue(napi_env env, napi_callback_info info, const char *extra, job_exec_fn exec,
                        job_done_fn done, const char *name) {
  napi_value argv[6];
  size_t argc = 2 + strlen(extra);
  size_t required = argc - (strchr(extra, 'p') ? 1 : 0);
  job *j = job_new(exec, done);
  if (!j) return NULL;
  bool ok = get_args_of(env, info, argc, required, argv) && arg_int(env, argv[0], &j->root) &&
            arg_string(env, argv[1], &j->path);
  double *next_double = &j->atime;
  for (size_t i = 0; ok && extra[i]; i++) {
    napi_value v = argv[2 + i];
    switch (extra[i]) {
      case 'i':
        ok = arg_int(env, v, &j->flags);
        break;
      case 'u':
        ok = arg_uint(env, v, &j->mode);
        break;
      case 'b':
        ok = arg_bool(env, v, &j->follow);
        break;
      case 'd':
        ok = arg_double(env, v, next_double);
        next_double = &j->mtime;
        break;
      case 'p': {
        napi_valuetype type;
        bool with_path = true;
        ok = napi_typeof(env, v, &type) == napi_ok &&
             (type == napi_undefined || arg_bool(env, v, &with_path));
        j->skip_path = !with_path;
        break;
      }
    }
  }
  if (!ok) {
    free(j->path);
    free(j);
    return NULL;
  }
  return job_queue(env, j, name);
}

napi_value js_open_root(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  job *j = job_new(exec_open_root, done_root);
  if (!j || !get_args(env, info, 1, argv) || !arg_string(env, argv[0], &j->path)) {
    free(j);
    return NULL;
  }
  return job_queue(env, j, "confine.openRoot");
}

napi_value js_open(napi_env env, napi_callback_info info) {
  return queue(env, info, "iu", exec_open, done_fd, "confine.open");
}

napi_value js_stat(napi_env env, napi_callback_info info) {
  return queue(env, info, "bp", exec_stat, done_stat, "confine.stat");
}

napi_value js_realpath(napi_env env, napi_callback_info info) {
  return queue(env, info, "", exec_realpath, done_text, "confine.realpath");
}

napi_value js_chmod(napi_env env, napi_callback_info info) {
  return queue(env, info, "ub", exec_chmod, done_void, "confine.chmod");
}

napi_value js_utimes(napi_env env, napi_callback_info info) {
  return queue(env, info, "ddb", exec_utimes, done_void, "confine.utimes");
}

napi_value js_statfs(napi_env env, napi_callback_info info) {
  return queue(env, info, "", exec_statfs, done_statfs, "confine.statfs");
}
