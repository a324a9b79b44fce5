/* Enforcing a Landlock ruleset on sibling threads when the kernel cannot (no TSYNC). */
#ifndef LANDLOCK_THREADS_H
#define LANDLOCK_THREADS_H

#include <stdbool.h>

/* Restricts every other thread of the process to `ruleset` (not the caller: it needs /proc
 * until the end). Returns 0 or an errno; *skipped counts threads blocking the signal. */
int restrict_all_threads(int ruleset, unsigned *skipped);

#endif
