# Builds the aead addon: AES-256-GCM sealing and opening in place, for encrypted storage's segments, and the
# OpenPGP SEIPD sealing thread of encrypt folders (src/seipd.c), encrypted storage's segment thread (src/segseal.c)
# and the uploads' SHA-256 thread (src/sha256.c).
# Plain C against node_api.h and the OpenSSL that Node itself carries (its headers ship with Node's; the
# symbols resolve against the node binary at load time), so both sides of a container use one OpenSSL.
{
  "targets": [
    {
      "target_name": "aead",
      "sources": ["src/aead.c", "src/io.c", "src/ring.c", "src/seipd.c", "src/segseal.c", "src/sha256.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
