/*
 * The ring thread of ring.h. The JS thread is the only producer and the thread the only consumer: the bytes
 * between head and head + len belong to the consumer, the rest of the ring to the producer, and only the counters
 * are shared under the mutex, so neither copies while holding it.
 */
/* pthread_setname_np. */
#define _GNU_SOURCE
#include "ring.h"
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "aead.h"

/* The consumer sleeps until this share of the ring is filled (or a flush or the end is asked for). */
#define WAKE_FRACTION 8

/*
 * Rings of finished threads, kept for the next thread of the same size. Why: a ring is megabytes, above glibc's
 * mmap threshold, so each new one was fresh pages that the kernel faults in one at a time while the first pass
 * fills them, and gives back at free: ~520 page faults for every upload past its first MiB (its SHA-256 ring),
 * 40 % of a 4 MiB upload's CPU on a VM where a fault costs ~20 µs (docs/PERFORMANCE.md). A kept ring is wiped
 * when it comes back, as a freed one was; ring_pool_trim gives them all back (the idle GC calls it).
 */
#define POOL_SLOTS 8
#define POOL_BYTES ((size_t)16 << 20)
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  unsigned char *ring;
  size_t cap;
} pool[POOL_SLOTS];
static size_t pool_bytes;

static unsigned char *ring_alloc(size_t cap) {
  unsigned char *ring = NULL;
  pthread_mutex_lock(&pool_mu);
  for (int i = 0; i < POOL_SLOTS && ring == NULL; i++) {
    if (pool[i].ring != NULL && pool[i].cap == cap) {
      ring = pool[i].ring;
      pool[i].ring = NULL;
      pool_bytes -= cap;
    }
  }
  pthread_mutex_unlock(&pool_mu);
  return ring != NULL ? ring : malloc(cap);
}

static void ring_free(unsigned char *ring, size_t cap) {
  OPENSSL_cleanse(ring, cap);
  pthread_mutex_lock(&pool_mu);
  for (int i = 0; i < POOL_SLOTS && ring != NULL; i++) {
    if (pool[i].ring == NULL && pool_bytes + cap <= POOL_BYTES) {
      pool[i].ring = ring;
      pool[i].cap = cap;
      pool_bytes += cap;
      ring = NULL;
    }
  }
  pthread_mutex_unlock(&pool_mu);
  free(ring);
}

size_t ring_pool_trim(void) {
  size_t freed = 0;
  pthread_mutex_lock(&pool_mu);
  for (int i = 0; i < POOL_SLOTS; i++) {
    if (pool[i].ring == NULL) continue;
    free(pool[i].ring);
    freed += pool[i].cap;
    pool[i].ring = NULL;
  }
  pool_bytes = 0;
  pthread_mutex_unlock(&pool_mu);
  return freed;
}

static void notify(struct ring_thread *rt, int event) {
  napi_call_threadsafe_function(rt->tsfn, (void *)(intptr_t)event, napi_tsfn_nonblocking);
}

static void *run(void *arg) {
  struct ring_thread *rt = arg;
  pthread_mutex_lock(&rt->mu);
  for (;;) {
    /* Checked on every pass, before any wait: a writer that found the ring full is woken once half is free. */
    if (rt->space_wanted && rt->cap - rt->len >= rt->cap / 2) {
      rt->space_wanted = false;
      notify(rt, RING_EV_SPACE);
    }
    if (rt->aborting) break;
    /* Woken only once a batch waits, not at every push: each wake-up is a futex call from the pushing thread
     * (and, on a VM, an interrupt to the other CPU); native/aead/README.md has the measurement. */
    if (rt->len > 0 && (rt->len >= rt->cap / WAKE_FRACTION || rt->flush_wanted || rt->finishing)) {
      size_t start = rt->head;
      size_t n = rt->len < rt->cap - start ? rt->len : rt->cap - start;
      pthread_mutex_unlock(&rt->mu);
      rt->ops->consume(rt, rt->ring + start, n);
      pthread_mutex_lock(&rt->mu);
      rt->head = (start + n) % rt->cap;
      rt->len -= n;
      if (rt->err != 0) break;
      continue;
    }
    if (rt->flush_wanted) {
      rt->flush_wanted = false;
      if (rt->ops->flush != NULL) {
        pthread_mutex_unlock(&rt->mu);
        rt->ops->flush(rt);
        pthread_mutex_lock(&rt->mu);
        /* A failed flush stops the thread: its done report carries the error to the waiting sync. */
        if (rt->err != 0) break;
      }
      notify(rt, RING_EV_FLUSHED);
    }
    if (rt->finishing) {
      pthread_mutex_unlock(&rt->mu);
      rt->ops->finish(rt);
      pthread_mutex_lock(&rt->mu);
      break;
    }
    /* Every condition is checked again after waking, so spurious wake-ups are harmless. */
    pthread_cond_wait(&rt->cv, &rt->mu);
  }
  rt->stopped = true;
  pthread_mutex_unlock(&rt->mu);
  notify(rt, RING_EV_DONE);
  napi_release_threadsafe_function(rt->tsfn, napi_tsfn_release);
  return NULL;
}

static void release(struct ring_thread *rt) {
  if (--rt->owners > 0) return;
  pthread_mutex_destroy(&rt->mu);
  pthread_cond_destroy(&rt->cv);
  if (rt->state != NULL) rt->ops->destroy(rt->state);
  if (rt->ring != NULL) ring_free(rt->ring, rt->cap);
  free(rt);
}

/*
 * The thread's last report has run: join it (it is leaving) and drop its share. Its ring goes back now, not when
 * the JS handle is collected (a GC later, after the next uploads had taken fresh rings): the thread has stopped, so
 * a push, which runs on this same JS thread, finds `stopped` and touches the ring no more.
 */
static void thread_finalized(napi_env env, void *data, void *hint) {
  struct ring_thread *rt = data;
  if (!rt->no_thread) pthread_join(rt->thread, NULL);
  if (rt->stopped && rt->ring != NULL) {
    ring_free(rt->ring, rt->cap);
    rt->ring = NULL;
  }
  atomic_fetch_sub(rt->running, 1);
  release(rt);
}

void ring_drop(struct ring_thread *rt) {
  ring_request(rt, 0);
  release(rt);
}

/* The JS handle was collected: stop a thread still running (its owner forgot to finish) and drop the share. */
static void handle_finalized(napi_env env, void *data, void *hint) { ring_drop(data); }

/* Calls onEvent(kind, error, result) on the JS thread: error an Error like node:fs's, or null. */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  if (env == NULL || callback == NULL) return;
  struct ring_thread *rt = context;
  int event = (int)(intptr_t)data;
  napi_value argv[3], undefined;
  napi_get_undefined(env, &undefined);
  napi_create_int32(env, event, &argv[0]);
  if (event == RING_EV_DONE && rt->err != 0) argv[1] = errno_error(env, rt->err, rt->ops->syscall);
  else napi_get_null(env, &argv[1]);
  if (event == RING_EV_DONE) argv[2] = rt->ops->result(env, rt);
  else napi_get_undefined(env, &argv[2]);
  napi_call_function(env, undefined, callback, 3, argv, NULL);
}

struct ring_thread *ring_start(napi_env env, napi_value on_event, const struct ring_ops *ops, void *state,
                               size_t cap, atomic_int *running, int max, const char **failure) {
  if (atomic_fetch_add(running, 1) >= max) {
    atomic_fetch_sub(running, 1);
    *failure = "too many threads at work already";
    return NULL;
  }
  struct ring_thread *rt = calloc(1, sizeof *rt);
  unsigned char *ring = rt != NULL ? ring_alloc(cap) : NULL;
  if (ring == NULL) {
    free(rt);
    atomic_fetch_sub(running, 1);
    *failure = "out of memory";
    return NULL;
  }
  rt->ring = ring;
  rt->cap = cap;
  rt->ops = ops;
  rt->running = running;
  pthread_mutex_init(&rt->mu, NULL);
  pthread_cond_init(&rt->cv, NULL);
  napi_value name;
  napi_create_string_utf8(env, "ferry.ring", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, on_event, NULL, name, 0, 1, rt, thread_finalized, rt, call_js,
                                      &rt->tsfn) != napi_ok) {
    /* No state yet: release frees only the ring thread's own parts. */
    rt->owners = 1;
    atomic_fetch_sub(running, 1);
    release(rt);
    *failure = "could not set up the thread's reports";
    return NULL;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  rt->owners = 2;
  rt->state = state;
  int started = pthread_create(&rt->thread, &attr, run, rt);
  pthread_attr_destroy(&attr);
  if (started != 0) {
    /* No thread: the reports' finalizer frees the ring thread once this release has drained; the state stays. */
    rt->state = NULL;
    rt->no_thread = true;
    rt->owners = 1;
    napi_release_threadsafe_function(rt->tsfn, napi_tsfn_abort);
    *failure = "could not start a thread";
    return NULL;
  }
  /* Named here, not by the thread itself: the name is there once the start returns. */
  if (ops->thread_name != NULL) pthread_setname_np(rt->thread, ops->thread_name);
  return rt;
}

napi_value ring_handle(napi_env env, struct ring_thread *rt) {
  napi_value handle;
  if (napi_create_external(env, rt, handle_finalized, NULL, &handle) != napi_ok) {
    handle_finalized(env, rt, NULL);
    napi_throw_error(env, "ERR_RING_HANDLE", "could not make the thread's handle");
    return NULL;
  }
  return handle;
}

struct ring_thread *ring_of(napi_env env, napi_value handle) {
  void *data = NULL;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == NULL) {
    throw_type(env, "expected a handle");
    return NULL;
  }
  return data;
}

int64_t ring_push(struct ring_thread *rt, const unsigned char *data, size_t n) {
  pthread_mutex_lock(&rt->mu);
  if (rt->stopped || rt->finishing || rt->aborting) {
    pthread_mutex_unlock(&rt->mu);
    return -1;
  }
  size_t free_bytes = rt->cap - rt->len;
  size_t tail = (rt->head + rt->len) % rt->cap;
  pthread_mutex_unlock(&rt->mu);
  /* Only this thread adds to the ring: the free space stays free while it is filled without the lock. */
  size_t k = n < free_bytes ? n : free_bytes;
  size_t first = k < rt->cap - tail ? k : rt->cap - tail;
  memcpy(rt->ring + tail, data, first);
  memcpy(rt->ring, data + first, k - first);
  pthread_mutex_lock(&rt->mu);
  rt->len += k;
  if (k < n) rt->space_wanted = true;
  /* A writer left waiting for room must be heard even below the threshold: the consumer may have emptied the ring
   * and gone to sleep between the two locked sections above, and only it reports the room back. */
  if (k < n || rt->len >= rt->cap / WAKE_FRACTION) pthread_cond_signal(&rt->cv);
  pthread_mutex_unlock(&rt->mu);
  return (int64_t)k;
}

void ring_request(struct ring_thread *rt, int what) {
  pthread_mutex_lock(&rt->mu);
  if (what == RING_EV_FLUSHED) rt->flush_wanted = true;
  else if (what == RING_EV_DONE) rt->finishing = true;
  else rt->aborting = true;
  pthread_cond_signal(&rt->cv);
  pthread_mutex_unlock(&rt->mu);
}

napi_value ring_limits(napi_env env, const char *name, int64_t value, int32_t max) {
  napi_value limits, first, threads;
  napi_create_object(env, &limits);
  napi_create_int64(env, value, &first);
  napi_create_int32(env, max, &threads);
  napi_set_named_property(env, limits, name, first);
  napi_set_named_property(env, limits, "maxThreads", threads);
  return limits;
}

napi_value js_ring_pool_trim(napi_env env, napi_callback_info info) {
  napi_value freed;
  napi_create_double(env, (double)ring_pool_trim(), &freed);
  return freed;
}

napi_value js_ring_pool_bytes(napi_env env, napi_callback_info info) {
  napi_value held;
  pthread_mutex_lock(&pool_mu);
  napi_create_double(env, (double)pool_bytes, &held);
  pthread_mutex_unlock(&pool_mu);
  return held;
}

napi_value js_ring_push(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  if (!args_of(env, info, 2, argv, "expected (handle, data)")) return NULL;
  struct ring_thread *rt = ring_of(env, argv[0]);
  unsigned char *data;
  size_t n;
  if (rt == NULL || !bytes_of(env, argv[1], "data must be a Uint8Array", &data, &n)) return NULL;
  napi_create_int64(env, ring_push(rt, data, n), &result);
  return result;
}

static napi_value request(napi_env env, napi_callback_info info, int what) {
  napi_value argv[1];
  if (!args_of(env, info, 1, argv, "expected (handle)")) return NULL;
  struct ring_thread *rt = ring_of(env, argv[0]);
  if (rt != NULL) ring_request(rt, what);
  return NULL;
}

napi_value js_ring_flush(napi_env env, napi_callback_info info) { return request(env, info, RING_EV_FLUSHED); }
napi_value js_ring_finish(napi_env env, napi_callback_info info) { return request(env, info, RING_EV_DONE); }
napi_value js_ring_abort(napi_env env, napi_callback_info info) { return request(env, info, 0); }
