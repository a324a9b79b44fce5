/* Process memory: gives the C heap's free pages back to the system (glibc keeps them otherwise). */
#include "confine.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

/*
 * A transfer's buffers are allocated and freed through malloc; glibc keeps the freed memory in its arenas
 * (~45 MB per worker after a few 256 MiB transfers) unless it is trimmed. The idle GC (src/cli/idle-gc.ts)
 * calls this after it has freed them. Returns whether anything was released; false where there is no glibc.
 */
napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  napi_value v;
#ifdef __GLIBC__
  napi_get_boolean(env, malloc_trim(0) == 1, &v);
#else
  napi_get_boolean(env, false, &v);
#endif
  return v;
}
