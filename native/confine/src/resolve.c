/* In-root path resolution. With openat2, RESOLVE_IN_ROOT makes the kernel treat the root fd as
 * '/' for absolute paths, '..' and symlink targets, atomically (no check-then-use window).
 * Without it (degraded mode), we walk one component at a time with O_NOFOLLOW and refuse
 * every symlink and '..', which is coarser but keeps the same guarantee. */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

bool confine_degraded = false;
bool confine_has_openat2 = false;

static long sys_openat2(int dirfd, const char *path, struct open_how *how) {
  return syscall(SYS_openat2, dirfd, path, how, sizeof *how);
}

bool probe_openat2(void) {
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
  long fd = sys_openat2(AT_FDCWD, "/", &how);
  if (fd >= 0) close((int)fd);
  /* ENOSYS on < 5.6; anything else means the call exists (seccomp may also say EPERM: treat as absent). */
  return fd >= 0;
}

static int open_openat2(int root, const char *path, int oflags, unsigned mode, bool follow) {
  struct open_how how = {
      .flags = (unsigned)(oflags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)),
      /* mode must be 0 unless something may be created, or openat2 says EINVAL */
      .mode = (oflags & (O_CREAT | __O_TMPFILE)) ? mode : 0,
      /* NO_MAGICLINKS: /proc/self/fd/N-style links inside a root must not teleport out of it */
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  for (;;) {
    long fd = sys_openat2(root, *path ? path : ".", &how);
    /* EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry. */
    if (fd < 0 && errno == EAGAIN) continue;
    return fd < 0 ? -errno : (int)fd;
  }
}

/* Degraded walk: each directory component is opened O_PATH|O_NOFOLLOW and must be a real
 * directory; the last one is opened with the caller's flags plus O_NOFOLLOW. */
static int open_walk(int root, const char *path, int oflags, unsigned mode, bool follow) {
  char *copy = strdup(path);
  if (!copy) return -ENOMEM;
  int cur = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0) {
    free(copy);
    return -errno;
  }
  char *save = NULL;
  char *comp = strtok_r(copy, "/", &save);
  int result = 0;
  while (comp) {
    char *next = strtok_r(NULL, "/", &save);
    if (strcmp(comp, ".") == 0) {
      comp = next;
      continue;
    }
    if (strcmp(comp, "..") == 0) {
      result = -EPERM;
      break;
    }
    if (!next) break; /* comp is the last component */
    int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      result = -errno;
      break;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
      result = (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) ? -ELOOP : -ENOTDIR;
      close(fd);
      break;
    }
    close(cur);
    cur = fd;
    comp = next;
  }
  if (result == 0) {
    const char *last = comp ? comp : ".";
    int fd = openat(cur, last, oflags | O_NOFOLLOW | O_CLOEXEC, mode);
    struct stat lst;
    if (fd < 0 && errno == ENOTDIR && follow && fstatat(cur, last, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(lst.st_mode)) {
      result = -ELOOP; /* O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR; the refusal is ELOOP */
    } else if (fd < 0) {
      result = -errno;
    } else if (follow && (oflags & O_PATH)) {
      /* O_PATH|O_NOFOLLOW succeeds on a symlink; following one is exactly what we refuse here */
      struct stat st;
      if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
        close(fd);
        result = -ELOOP;
      } else {
        result = fd;
      }
    } else {
      result = fd;
    }
  }
  close(cur);
  free(copy);
  return result;
}

int resolve_open(int root, const char *path, int oflags, unsigned mode, bool follow, const char **syscall) {
  if (confine_degraded || !confine_has_openat2) {
    *syscall = "openat";
    return open_walk(root, path, oflags, mode, follow);
  }
  *syscall = "openat2";
  return open_openat2(root, path, oflags, mode, follow);
}

int resolve_parent(int root, const char *path, char **buf, const char **name, const char **syscall) {
  size_t len = strlen(path);
  char *copy = malloc(len + 2);
  if (!copy) return -ENOMEM;
  memcpy(copy, path, len + 1);
  while (len > 1 && copy[len - 1] == '/') copy[--len] = '\0'; /* "a/b/" names b */
  char *slash = strrchr(copy, '/');
  const char *parent;
  if (!slash) {
    *name = copy;
    parent = ".";
  } else {
    *slash = '\0';
    *name = slash + 1;
    parent = slash == copy ? "/" : copy;
  }
  /* The root itself, '.' and '..' are not entries one can create, remove or rename. */
  if (**name == '\0' || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) {
    free(copy);
    *syscall = "resolve";
    return -EINVAL;
  }
  int fd = resolve_open(root, parent, O_PATH | O_DIRECTORY, 0, true, syscall);
  if (fd < 0) {
    free(copy);
    return fd;
  }
  *buf = copy;
  return fd;
}

static char *fd_path(int fd) {
  char link[64];
  char target[PATH_MAX + 1];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, PATH_MAX);
  if (n < 0) return NULL;
  target[n] = '\0';
  return strdup(target);
}

char *resolved_path(int root, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return NULL;
  return resolved_path_of(root, fd, &st);
}

char *resolved_path_of(int root, int fd, const struct stat *st) {
  /* a deleted object's link text ends in " (deleted)", which a real name could also end in */
  if (st->st_nlink == 0) return NULL;
  char *base = fd_path(root);
  char *full = fd_path(fd);
  char *out = NULL;
  if (base && full && base[0] == '/' && full[0] == '/') {
    size_t blen = strcmp(base, "/") == 0 ? 0 : strlen(base);
    if (strncmp(full, base, blen) == 0 && (full[blen] == '/' || full[blen] == '\0'))
      out = strdup(full[blen] ? full + blen : "/");
  }
  free(base);
  free(full);
  return out;
}
