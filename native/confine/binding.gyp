# Builds the confine addon: kernel-enforced path confinement (openat2 RESOLVE_IN_ROOT) and Landlock, plus
# malloc_trim for the idle GC (src/memory.c).
# Plain C against node_api.h only, so it needs no V8 headers and no C++ toolchain features.
{
  "targets": [
    {
      "target_name": "confine",
      "sources": [
        "src/addon.c",
        "src/job.c",
        "src/errnames.c",
        "src/resolve.c",
        "src/entry_ops.c",
        "src/object_ops.c",
        "src/dir_ops.c",
        "src/landlock.c",
        "src/landlock_threads.c",
        "src/memory.c",
        "src/read_cached.c"
      ],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
