/*
 * A thread fed through a ring: the JS thread copies bytes in (never blocking: it learns how much was taken), the
 * thread consumes them in order and reports back through a threadsafe function only when a writer waits for
 * room, when a flush was asked for, and when it is done. Shared by the OpenPGP sealing thread (seipd.c), encrypted
 * storage's segment thread (segseal.c) and the SHA-256 thread of uploads (sha256.c), which only say what a piece
 * of input, a flush and the end do.
 */
#ifndef FERRY_RING_H
#define FERRY_RING_H
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum { RING_EV_SPACE = 1, RING_EV_FLUSHED = 2, RING_EV_DONE = 3 };

struct ring_thread;

struct ring_ops {
  /* On the thread: bytes in order. Sets rt->err (an errno) to stop. */
  void (*consume)(struct ring_thread *rt, const unsigned char *bytes, size_t n);
  /* On the thread, when a flush was asked for and everything pushed was consumed (optional). Sets rt->err to stop. */
  void (*flush)(struct ring_thread *rt);
  /* On the thread, once everything pushed was consumed and the owner asked to finish. */
  void (*finish)(struct ring_thread *rt);
  /* On the JS thread: the third argument of the done report (the first two are the kind and the error). */
  napi_value (*result)(napi_env env, struct ring_thread *rt);
  /* On the JS thread, when both owners are gone: frees `rt->state`. */
  void (*destroy)(void *state);
  /* The syscall named by an error report. */
  const char *syscall;
  /* The thread's name (at most 15 bytes): what `top -H` and /proc/<pid>/task/<tid>/comm show, and tests count. */
  const char *thread_name;
};

struct ring_thread {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  napi_threadsafe_function tsfn;
  const struct ring_ops *ops;
  void *state;
  atomic_int *running;
  /* Shared under mu. */
  unsigned char *ring;
  size_t cap, head, len;
  bool finishing, aborting, stopped, space_wanted, flush_wanted;
  /* Set by the thread before it reports done; read by the JS thread after (the report orders them). */
  int err;
  /* Owners left (the JS handle, the thread's reports); freed at zero, on the JS thread. */
  int owners;
  bool no_thread;
};

/*
 * Starts the thread with a ring of `cap` bytes, counted in `*running` (at most `max` at once). `on_event` is the
 * JS callback (kind, error, result). On failure (`max` reached, no memory, no thread) returns NULL with
 * `*failure` saying why, throws nothing, and `state` stays the caller's.
 */
struct ring_thread *ring_start(napi_env env, napi_value on_event, const struct ring_ops *ops, void *state,
                               size_t cap, atomic_int *running, int max, const char **failure);
/* The owner lets go: a thread still running is stopped; everything is freed once the thread has gone too. */
void ring_drop(struct ring_thread *rt);
/* The JS handle for a started ring thread (an external whose collection aborts the thread), or NULL. */
napi_value ring_handle(napi_env env, struct ring_thread *rt);
/* The ring thread behind a handle, or NULL with a TypeError thrown. */
struct ring_thread *ring_of(napi_env env, napi_value handle);
/* Copies up to n bytes in; how many were taken, or -1 once the thread stopped or was told to finish. */
int64_t ring_push(struct ring_thread *rt, const unsigned char *data, size_t n);
/* {<name>: value, maxThreads: max}: a kind of ring thread's limits, for its wrapper and tests. */
napi_value ring_limits(napi_env env, const char *name, int64_t value, int32_t max);
/* RING_EV_FLUSHED, RING_EV_DONE (finish) or 0 (abort). */
void ring_request(struct ring_thread *rt, int what);
/*
 * The JS side of every ring thread that is fed plain bytes (seipd.c, segseal.c): push(handle, data) → how many
 * bytes the ring took (copied; the rest waits for event 1) or -1 once the thread stopped; flush(handle) → event 2
 * once every byte pushed so far is consumed (and the kind's flush ran); finish(handle) → the kind's finish, then
 * event 3; abort(handle) → the thread stops at once, then event 3.
 */
napi_value js_ring_push(napi_env env, napi_callback_info info);
napi_value js_ring_flush(napi_env env, napi_callback_info info);
napi_value js_ring_finish(napi_env env, napi_callback_info info);
napi_value js_ring_abort(napi_env env, napi_callback_info info);
/* Frees the rings kept for reuse (ring.c's pool); returns how many bytes. ringPoolTrim() → that count. */
size_t ring_pool_trim(void);
napi_value js_ring_pool_trim(napi_env env, napi_callback_info info);
/* ringPoolBytes() → the bytes of rings kept for reuse now. */
napi_value js_ring_pool_bytes(napi_env env, napi_callback_info info);
#endif
