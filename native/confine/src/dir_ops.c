/* Batched directory listing: one pool job reads up to `max` names and lstats each relative to
 * the directory fd (fstatat, AT_SYMLINK_NOFOLLOW), so a listing costs one hop per batch rather
 * than one per entry, and no name is ever re-resolved from the root. */
#include "confine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* GC of an unclosed handle: closing a DIR* is one quick syscall, fine on the JS thread. */
static void finalize_dir(napi_env env, void *data, void *hint) {
  confine_dir *d = data;
  if (d->dirp) closedir(d->dirp);
  free(d);
}

static void exec_opendir(job *j) {
  const char *sc;
  int fd = resolve_open(j->root, j->path, O_RDONLY | O_DIRECTORY, 0, true, &sc);
  if (fd < 0) return job_fail(j, -fd, sc);
  if (fstat(fd, &j->st) != 0) {
    job_fail(j, errno, "fstat");
    close(fd);
    return;
  }
  j->rpath = resolved_path_of(j->root, fd, &j->st);
  DIR *dirp = fdopendir(fd);
  if (!dirp) {
    job_fail(j, errno, "fdopendir");
    close(fd);
    return;
  }
  j->dir = calloc(1, sizeof(confine_dir));
  if (!j->dir) {
    closedir(dirp);
    return job_fail(j, ENOMEM, "opendir");
  }
  j->dir->dirp = dirp;
}

static napi_value done_opendir(napi_env env, job *j) {
  napi_value ext;
  confine_dir *d = j->dir;
  j->dir = NULL; /* ownership moves to the external */
  napi_create_external(env, d, finalize_dir, NULL, &ext);
  napi_value argv[] = {ext, path_or_null(env, j), stat_to_js(env, &j->st)};
  return make(env, MAKE_OPENED_DIR, 3, argv);
}

static void exec_readdir(job *j) {
  DIR *dirp = j->dir->dirp;
  j->entries = calloc(j->max, sizeof(dir_entry));
  if (!j->entries) return job_fail(j, ENOMEM, "readdir");
  while (j->n_entries < j->max) {
    errno = 0;
    struct dirent *e = readdir(dirp);
    if (!e) {
      if (errno) return job_fail(j, errno, "readdir");
      j->at_end = true;
      break;
    }
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    dir_entry *out = &j->entries[j->n_entries];
    if (fstatat(dirfd(dirp), e->d_name, &out->st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue; /* removed since readdir saw it */
      return job_fail(j, errno, "fstatat");
    }
    out->name = strdup(e->d_name);
    if (!out->name) return job_fail(j, ENOMEM, "readdir");
    j->n_entries++;
  }
}

static napi_value done_readdir(napi_env env, job *j) {
  napi_value arr;
  if (j->n_entries == 0 && j->at_end) {
    napi_get_null(env, &arr);
    return arr;
  }
  napi_create_array_with_length(env, j->n_entries, &arr);
  for (unsigned i = 0; i < j->n_entries; i++) {
    napi_value argv[2];
    napi_create_string_utf8(env, j->entries[i].name, NAPI_AUTO_LENGTH, &argv[0]);
    argv[1] = stat_to_js(env, &j->entries[i].st);
    napi_set_element(env, arr, i, make(env, MAKE_ENTRY, 2, argv));
  }
  return arr;
}

static void exec_closedir(job *j) {
  DIR *dirp = j->dir->dirp;
  j->dir->dirp = NULL;
  if (closedir(dirp) != 0) job_fail(j, errno, "closedir");
}

static napi_value done_void(napi_env env, job *j) { return js_undefined(env); }

/* Takes the handle for one job and pins it against GC; 0, or the errno to reject with
 * (EBADF once closed, EBUSY while another job uses it: a DIR* is not safe to share). */
static int claim_dir(napi_env env, napi_value ext, job *j) {
  void *data;
  if (napi_get_value_external(env, ext, &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a NativeDir");
    return -1;
  }
  confine_dir *d = data;
  if (!d->dirp || d->busy) return d->dirp ? EBUSY : EBADF;
  napi_create_reference(env, ext, 1, &j->dir_ref);
  d->busy = true;
  j->dir = d;
  return 0;
}

static napi_value queue_dir_job(napi_env env, job *j, napi_value ext, const char *syscall, const char *name) {
  int err = claim_dir(env, ext, j);
  if (err < 0) {
    free(j);
    return NULL;
  }
  if (err) {
    napi_value promise;
    napi_deferred deferred;
    napi_create_promise(env, &deferred, &promise);
    napi_reject_deferred(env, deferred, make_errno_error(env, err, syscall, NULL, NULL));
    free(j);
    return promise;
  }
  return job_queue(env, j, name);
}

napi_value js_opendir(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  job *j = job_new(exec_opendir, done_opendir);
  if (!j || !get_args(env, info, 2, argv) || !arg_int(env, argv[0], &j->root) ||
      !arg_string(env, argv[1], &j->path)) {
    free(j);
    return NULL;
  }
  return job_queue(env, j, "confine.opendir");
}

napi_value js_readdir(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  job *j = job_new(exec_readdir, done_readdir);
  if (!j || !get_args(env, info, 2, argv) || !arg_uint(env, argv[1], &j->max)) {
    free(j);
    return NULL;
  }
  if (j->max == 0) j->max = 1;
  if (j->max > 65536) j->max = 65536; /* bounds the batch's memory whatever the caller asks */
  return queue_dir_job(env, j, argv[0], "readdir", "confine.readdir");
}

napi_value js_closedir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  job *j = job_new(exec_closedir, done_void);
  if (!j || !get_args(env, info, 1, argv)) {
    free(j);
    return NULL;
  }
  return queue_dir_job(env, j, argv[0], "closedir", "confine.closedir");
}
