/* Without LANDLOCK_RESTRICT_SELF_TSYNC (Landlock ABI < 8, e.g. Linux 6.18) landlock_restrict_self()
 * covers only the calling thread and threads it starts later. Node already runs V8 platform
 * threads and, once any async I/O happened, the libuv pool, which would keep full access.
 * So, like glibc's setxid broadcast, every sibling is signalled and restricts itself in the
 * handler (prctl and landlock_restrict_self are plain syscalls, safe in a signal handler). */
#include "landlock_threads.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 4096
#define PASSES 8         /* a sibling may start threads while we work: list again until none is new */
#define WAIT_MS 2000     /* a thread must answer within this; then we fail closed */

static int broadcast_ruleset = -1;
static pid_t answered[MAX_THREADS];
static atomic_uint slots, done;
static atomic_int failure;

static void on_signal(int sig) {
  int saved = errno;
  long rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (rc == 0) rc = syscall(SYS_landlock_restrict_self, broadcast_ruleset, 0);
  if (rc != 0) atomic_store(&failure, errno);
  unsigned slot = atomic_fetch_add(&slots, 1);
  if (slot < MAX_THREADS) answered[slot] = (pid_t)syscall(SYS_gettid);
  atomic_fetch_add(&done, 1);
  errno = saved;
}

static bool has_answered(pid_t tid) {
  unsigned n = atomic_load(&done);
  for (unsigned i = 0; i < n && i < MAX_THREADS; i++)
    if (answered[i] == tid) return true;
  return false;
}

/* A thread that blocks the signal would never answer (Node's SIGUSR1 watchdog blocks all). */
static bool blocks_signal(pid_t tid, int sig) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
  FILE *f = fopen(path, "re");
  if (!f) return true; /* gone already */
  unsigned long long mask = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "SigBlk: %llx", &mask) == 1) break;
  fclose(f);
  return (mask >> (sig - 1)) & 1;
}

static int wait_for(unsigned target) {
  struct timespec tick = {0, 1000000};
  for (int ms = 0; ms < WAIT_MS; ms++) {
    if (atomic_load(&done) >= target) return 0;
    nanosleep(&tick, NULL);
  }
  return ETIMEDOUT;
}

int restrict_all_threads(int ruleset, unsigned *skipped) {
  int sig = SIGRTMIN + 6;
  struct sigaction action = {.sa_handler = on_signal, .sa_flags = SA_RESTART}, previous;
  sigfillset(&action.sa_mask);
  if (sigaction(sig, NULL, &previous) != 0) return errno;
  if (previous.sa_handler != SIG_DFL) return EBUSY; /* someone else owns this signal */
  broadcast_ruleset = ruleset;
  atomic_store(&slots, 0);
  atomic_store(&done, 0);
  atomic_store(&failure, 0);
  if (sigaction(sig, &action, NULL) != 0) return errno;

  pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
  unsigned sent = 0;
  int err = 0;
  *skipped = 0;
  for (int pass = 0; pass < PASSES && !err; pass++) {
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) {
      err = errno;
      break;
    }
    unsigned sent_before = sent, skipped_now = 0;
    struct dirent *e;
    while ((e = readdir(tasks))) {
      pid_t tid = (pid_t)atoi(e->d_name);
      if (tid <= 0 || tid == self || has_answered(tid)) continue;
      if (blocks_signal(tid, sig)) {
        skipped_now++;
        continue;
      }
      if (syscall(SYS_tgkill, pid, tid, sig) == 0) sent++;
    }
    closedir(tasks);
    *skipped = skipped_now;
    if (sent >= MAX_THREADS) err = E2BIG;
    if (!err) err = wait_for(sent);
    if (sent == sent_before) break; /* every thread we can reach has answered */
  }
  if (!err) err = atomic_load(&failure);
  /* after a timeout a late signal may still arrive: ignoring it beats the default (termination) */
  sigaction(sig, err ? &(struct sigaction){.sa_handler = SIG_IGN} : &previous, NULL);
  return err;
}
