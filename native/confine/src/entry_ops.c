/* Operations on a directory entry: the parent is resolved in the root (O_PATH|O_DIRECTORY) and
 * the *at call acts on the last name without ever following it, so a symlink there is an entry
 * like any other and the kernel never walks out of the root on our behalf. */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static napi_value done_void(napi_env env, job *j) { return js_undefined(env); }

static napi_value done_text(napi_env env, job *j) {
  napi_value v;
  napi_create_string_utf8(env, j->rpath, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* Resolves the parent of `path`; on failure records the error and returns -1. */
static int parent_of(job *j, const char *path, char **buf, const char **name) {
  const char *sc;
  int fd = resolve_parent(j->root, path, buf, name, &sc);
  if (fd < 0) job_fail(j, -fd, sc);
  return fd < 0 ? -1 : fd;
}

static void exec_mkdir(job *j) {
  char *buf;
  const char *name;
  int dfd = parent_of(j, j->path, &buf, &name);
  if (dfd < 0) return;
  if (mkdirat(dfd, name, j->mode) != 0) job_fail(j, errno, "mkdirat");
  close(dfd);
  free(buf);
}

static void exec_remove(job *j) {
  char *buf;
  const char *name;
  int dfd = parent_of(j, j->path, &buf, &name);
  if (dfd < 0) return;
  if (unlinkat(dfd, name, j->flags) != 0) job_fail(j, errno, j->flags ? "rmdir" : "unlink");
  close(dfd);
  free(buf);
}

static void exec_symlink(job *j) {
  char *buf;
  const char *name;
  int dfd = parent_of(j, j->path, &buf, &name);
  if (dfd < 0) return;
  /* the target text is stored verbatim; only this module ever interprets it, and in the root */
  if (symlinkat(j->path2, dfd, name) != 0) job_fail(j, errno, "symlinkat");
  close(dfd);
  free(buf);
}

static void exec_readlink(job *j) {
  char *buf;
  const char *name;
  int dfd = parent_of(j, j->path, &buf, &name);
  if (dfd < 0) return;
  char *text = malloc(PATH_MAX + 1);
  ssize_t n = text ? readlinkat(dfd, name, text, PATH_MAX) : -1;
  if (!text) {
    job_fail(j, ENOMEM, "readlinkat");
  } else if (n < 0) {
    job_fail(j, errno, "readlinkat");
    free(text);
  } else {
    text[n] = '\0';
    j->rpath = text;
  }
  close(dfd);
  free(buf);
}

/* rename and link: both names are resolved in the same root, so neither can reach outside it. */
static void exec_two_names(job *j) {
  char *buf1 = NULL, *buf2 = NULL;
  const char *name1, *name2;
  int d1 = parent_of(j, j->path, &buf1, &name1);
  if (d1 < 0) return;
  int d2 = parent_of(j, j->path2, &buf2, &name2);
  if (d2 >= 0) {
    if (j->follow) {
      if (linkat(d1, name1, d2, name2, 0) != 0) job_fail(j, errno, "linkat");
    } else if (renameat2(d1, name1, d2, name2, (unsigned)j->flags) != 0) {
      job_fail(j, errno, "renameat2");
    }
    close(d2);
    free(buf2);
  }
  close(d1);
  free(buf1);
}

static napi_value queue_path_op(napi_env env, napi_callback_info info, job_exec_fn exec, job_done_fn done,
                                int flags, const char *name) {
  napi_value argv[2];
  job *j = job_new(exec, done);
  if (!j || !get_args(env, info, 2, argv) || !arg_int(env, argv[0], &j->root) ||
      !arg_string(env, argv[1], &j->path)) {
    free(j);
    return NULL;
  }
  j->flags = flags;
  return job_queue(env, j, name);
}

napi_value js_rmdir(napi_env env, napi_callback_info info) {
  return queue_path_op(env, info, exec_remove, done_void, AT_REMOVEDIR, "confine.rmdir");
}

napi_value js_unlink(napi_env env, napi_callback_info info) {
  return queue_path_op(env, info, exec_remove, done_void, 0, "confine.unlink");
}

napi_value js_readlink(napi_env env, napi_callback_info info) {
  return queue_path_op(env, info, exec_readlink, done_text, 0, "confine.readlink");
}

napi_value js_mkdir(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  job *j = job_new(exec_mkdir, done_void);
  if (!j || !get_args(env, info, 3, argv) || !arg_int(env, argv[0], &j->root) ||
      !arg_string(env, argv[1], &j->path) || !arg_uint(env, argv[2], &j->mode)) {
    if (j) free(j->path);
    free(j);
    return NULL;
  }
  return job_queue(env, j, "confine.mkdir");
}

/* (root, a, b[, noReplace]): rename and link take from/to, symlink takes target/path. */
static napi_value queue_two_paths(napi_env env, napi_callback_info info, size_t argc, job_exec_fn exec,
                                  const char *name, bool is_link) {
  napi_value argv[4];
  bool no_replace = false;
  job *j = job_new(exec, done_void);
  if (!j || !get_args(env, info, argc, argv) || !arg_int(env, argv[0], &j->root) ||
      !arg_string(env, argv[1], &j->path) || !arg_string(env, argv[2], &j->path2) ||
      (argc == 4 && !arg_bool(env, argv[3], &no_replace))) {
    if (j) {
      free(j->path);
      free(j->path2);
    }
    free(j);
    return NULL;
  }
  if (exec == exec_symlink) { /* (root, target, path): errors should name the new entry, j->path */
    char *target = j->path;
    j->path = j->path2;
    j->path2 = target;
  }
  j->flags = no_replace ? RENAME_NOREPLACE : 0;
  j->follow = is_link; /* follow doubles as "is link" to keep the job record small */
  return job_queue(env, j, name);
}

napi_value js_rename(napi_env env, napi_callback_info info) {
  return queue_two_paths(env, info, 4, exec_two_names, "confine.rename", false);
}

napi_value js_link(napi_env env, napi_callback_info info) {
  return queue_two_paths(env, info, 3, exec_two_names, "confine.link", true);
}

napi_value js_symlink(napi_env env, napi_callback_info info) {
  return queue_two_paths(env, info, 3, exec_symlink, "confine.symlink", false);
}
