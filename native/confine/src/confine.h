/* Shared declarations of the confine addon: the job record every async operation uses,
 * in-root resolution helpers and the per-operation entry points registered in addon.c. */
#ifndef CONFINE_H
#define CONFINE_H

#include <node_api.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/statfs.h>

/* One batched listing handle; the JS side only ever sees it as an opaque external. */
typedef struct confine_dir {
  void *dirp;        /* DIR*, NULL once closed */
  bool busy;         /* a readdir/closedir job is running: refuse overlapping use */
} confine_dir;

typedef struct dir_entry {
  char *name;
  struct stat st;
} dir_entry;

typedef struct job job;
typedef void (*job_exec_fn)(job *j);                     /* runs on the libuv pool (or inline) */
typedef napi_value (*job_done_fn)(napi_env env, job *j); /* builds the result on the JS thread */

/* Everything an operation needs in and out; one shape for all keeps the async plumbing in one place. */
struct job {
  napi_async_work work;
  napi_deferred deferred;
  job_exec_fn exec;
  job_done_fn done;
  /* inputs */
  int root; /* -1 for jobs without one (openRoot, directory handles) */
  char *path;
  char *path2;
  int flags;
  unsigned mode;
  bool follow;
  bool skip_path; /* stat: the caller does not want the resolved path (two readlinks of /proc saved) */
  double atime, mtime;
  unsigned max;
  confine_dir *dir;
  napi_ref dir_ref; /* keeps the external alive while a job uses it */
  /* outputs */
  int err;             /* positive errno, 0 on success */
  const char *syscall; /* the call that failed, for error.syscall */
  const char *message; /* optional override of strerror for our own refusals */
  int fd;
  struct stat st;
  char *rpath;         /* resolved path or text result */
  bool has_rpath;
  struct statfs sfs;
  dir_entry *entries;
  unsigned n_entries;
  bool at_end;
};

/* job.c */
job *job_new(job_exec_fn exec, job_done_fn done);
napi_value job_queue(napi_env env, job *j, const char *name);
/* Marks a root descriptor's calls to run on the calling thread; false for a number out of range. */
bool set_inline_root(int fd, bool on);
void job_fail(job *j, int err, const char *syscall);
napi_value make_errno_error(napi_env env, int err, const char *syscall, const char *message, const char *path);
napi_value stat_to_js(napi_env env, const struct stat *st);
/* The result objects, each built by a JS literal (see job.c); init_makers runs once at module load. */
typedef enum { MAKE_STAT, MAKE_STAT_RESULT, MAKE_OPENED, MAKE_OPENED_DIR, MAKE_ENTRY, MAKER_COUNT } maker;
bool init_makers(napi_env env);
napi_value make(napi_env env, maker which, size_t argc, const napi_value *argv);
napi_value path_or_null(napi_env env, job *j);
napi_value js_undefined(napi_env env);
bool arg_int(napi_env env, napi_value v, int *out);
bool arg_uint(napi_env env, napi_value v, unsigned *out);
bool arg_double(napi_env env, napi_value v, double *out);
bool arg_bool(napi_env env, napi_value v, bool *out);
bool arg_string(napi_env env, napi_value v, char **out);
bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
/* `capacity` arguments read (those not given as undefined), at least `required` of them given. */
bool get_args_of(napi_env env, napi_callback_info info, size_t capacity, size_t required, napi_value *argv);

/* errnames.c */
const char *errno_name(int err);

/* resolve.c */
extern bool confine_degraded;
extern bool confine_has_openat2;
bool probe_openat2(void);
/* Opens `path` inside `root`; follow decides the last component. Returns fd or -errno. */
int resolve_open(int root, const char *path, int oflags, unsigned mode, bool follow, const char **syscall);
/* Opens the parent of `path` as O_PATH|O_DIRECTORY and points *name at the last component
 * (stored in *buf, which the caller frees). Returns fd or -errno. */
int resolve_parent(int root, const char *path, char **buf, const char **name, const char **syscall);
/* Where fd really is relative to root ('/'-prefixed), or NULL when outside or deleted. */
char *resolved_path(int root, int fd);
/* The same for an fd the caller has just fstat'ed (`st`): one system call fewer. */
char *resolved_path_of(int root, int fd, const struct stat *st);

/* entry_ops.c, object_ops.c, dir_ops.c, landlock.c: JS entry points */
napi_value js_mkdir(napi_env env, napi_callback_info info);
napi_value js_rmdir(napi_env env, napi_callback_info info);
napi_value js_unlink(napi_env env, napi_callback_info info);
napi_value js_rename(napi_env env, napi_callback_info info);
napi_value js_link(napi_env env, napi_callback_info info);
napi_value js_symlink(napi_env env, napi_callback_info info);
napi_value js_readlink(napi_env env, napi_callback_info info);
napi_value js_open_root(napi_env env, napi_callback_info info);
napi_value js_open(napi_env env, napi_callback_info info);
napi_value js_stat(napi_env env, napi_callback_info info);
napi_value js_realpath(napi_env env, napi_callback_info info);
napi_value js_chmod(napi_env env, napi_callback_info info);
napi_value js_utimes(napi_env env, napi_callback_info info);
napi_value js_statfs(napi_env env, napi_callback_info info);
napi_value js_opendir(napi_env env, napi_callback_info info);
napi_value js_readdir(napi_env env, napi_callback_info info);
napi_value js_closedir(napi_env env, napi_callback_info info);
napi_value js_landlock(napi_env env, napi_callback_info info);
extern unsigned landlock_skipped_threads; /* threads the last landlock() could not reach */
bool probe_fchmodat2(void);
napi_value js_malloc_trim(napi_env env, napi_callback_info info); /* memory.c */

/* read_cached.c */
napi_value js_read_cached(napi_env env, napi_callback_info info);

#endif
