/* Landlock: after this call the process may touch only the listed trees (kernel-enforced, cannot
 * be undone). Every thread is covered: by the kernel with TSYNC (ABI 8+), else by a signal
 * broadcast (landlock_threads.c). Synchronous: it is quick and must not race our own jobs. */
#include "confine.h"
#include "landlock_threads.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The build machine's uapi headers may predate the rights below; the values are kernel ABI. */
#define LL_TRUNCATE (1ULL << 14)     /* ABI 3 */
#define LL_IOCTL_DEV (1ULL << 15)    /* ABI 5 */
#define LL_TSYNC (1U << 3)           /* ABI 8: apply to every thread of the process */
#define LL_ABI_TSYNC 8

#define LL_FILE_READ (LANDLOCK_ACCESS_FS_READ_FILE)
#define LL_FILE_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE | LL_TRUNCATE)
#define LL_DIR_READ (LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_DIR_WRITE                                                                             \
  (LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR | \
   LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER)
/* rights that only make sense on a directory: adding them to a rule on a file is EINVAL */
#define LL_DIR_ONLY (LL_DIR_READ | LL_DIR_WRITE)

unsigned landlock_skipped_threads;

static uint64_t handled_for_abi(int abi) {
  uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_BLOCK << 1) - 1; /* ABI 1: bits 0..12 */
  if (abi >= 2) all |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) all |= LL_TRUNCATE;
  if (abi >= 5) all |= LL_IOCTL_DEV;
  return all;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  napi_throw(env, make_errno_error(env, err, syscall, NULL, path));
  return NULL;
}

/* Adds one rule; returns 0 or an errno (the path is opened O_PATH just to name it). */
/* access: "rw", "ro", or "rx" (read and execute: programs a command rule may run). */
static int add_rule(int ruleset, const char *path, const char *mode, uint64_t handled, const char **sc) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    *sc = "open";
    return errno;
  }
  struct stat st;
  uint64_t access = LL_FILE_READ | LL_DIR_READ;
  if (strcmp(mode, "rw") == 0) access |= LL_FILE_WRITE | LL_DIR_WRITE;
  else if (strcmp(mode, "rx") == 0) access |= LANDLOCK_ACCESS_FS_EXECUTE;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= ~(uint64_t)LL_DIR_ONLY;
  struct landlock_path_beneath_attr attr = {.allowed_access = access & handled, .parent_fd = fd};
  int rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
  int err = rc ? errno : 0;
  close(fd);
  *sc = "landlock_add_rule";
  return err;
}

/* landlock(rules: {path, access: 'rw'|'ro'|'rx'}[]): number (ABI applied, 0 = no Landlock) */
napi_value js_landlock(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!get_args(env, info, 1, argv)) return NULL;
  bool is_array = false;
  napi_is_array(env, argv[0], &is_array);
  if (!is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "rules must be an array");
    return NULL;
  }
  int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi <= 0) { /* ENOSYS (no Landlock built) or EOPNOTSUPP (disabled at boot) */
    napi_create_int32(env, 0, &result);
    return result;
  }
  uint64_t handled = handled_for_abi(abi);
  struct landlock_ruleset_attr rattr = {.handled_access_fs = handled};
  int ruleset = (int)syscall(SYS_landlock_create_ruleset, &rattr, sizeof rattr, 0);
  if (ruleset < 0) return throw_errno(env, errno, "landlock_create_ruleset", NULL);

  uint32_t n = 0;
  napi_get_array_length(env, argv[0], &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value rule, v;
    char *path = NULL, *access = NULL;
    napi_get_element(env, argv[0], i, &rule);
    bool ok = napi_get_named_property(env, rule, "path", &v) == napi_ok && arg_string(env, v, &path) &&
              napi_get_named_property(env, rule, "access", &v) == napi_ok && arg_string(env, v, &access);
    if (ok && strcmp(access, "rw") != 0 && strcmp(access, "ro") != 0 && strcmp(access, "rx") != 0) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "access must be 'rw', 'ro' or 'rx'");
      ok = false;
    }
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!ok && !pending) napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "a rule is { path, access }");
    const char *sc = NULL;
    int err = ok ? add_rule(ruleset, path, access, handled, &sc) : 0;
    if (err) throw_errno(env, err, sc, path);
    free(path);
    free(access);
    if (!ok || err) {
      close(ruleset);
      return NULL;
    }
  }

  /* An unprivileged process may only restrict itself once it can never regain privileges. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    close(ruleset);
    return throw_errno(env, errno, "prctl", NULL);
  }
  unsigned flags = 0, skipped = 0;
  if (abi >= LL_ABI_TSYNC) {
    flags = LL_TSYNC; /* the kernel restricts every thread atomically */
  } else {
    int err = restrict_all_threads(ruleset, &skipped);
    if (err) {
      close(ruleset);
      return throw_errno(env, err, "landlock_restrict_self", NULL);
    }
  }
  int rc = (int)syscall(SYS_landlock_restrict_self, ruleset, flags);
  int err = errno;
  close(ruleset);
  if (rc != 0) return throw_errno(env, err, "landlock_restrict_self", NULL);
  landlock_skipped_threads = skipped;
  napi_create_int32(env, abi, &result);
  return result;
}
