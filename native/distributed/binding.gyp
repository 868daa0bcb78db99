# The gloo addon (fqt_dist.node) of data-parallel training: built by scripts/build-native.mjs only when gloo's
# headers and library are present (Debian: libgloo-dev), separately from the kernel addon so that a missing or
# broken gloo never costs the kernels. Its only source is distributed.cc.
{
  "targets": [
    {
      "target_name": "fqt_dist",
      "sources": ["distributed.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "libraries": ["-lgloo"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"]
    }
  ]
}
