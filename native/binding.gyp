{
  "targets": [
    {
      "target_name": "fqt_native",
      "sources": [
        "src/binding.cc",
        "src/binding_bconv.cc",
        "src/args.cc",
        "src/args_parse.cc",
        "src/signatures.cc",
        "src/signals.cc",
        "src/cpu_features.cc",
        "src/thread_pool.cc",
        "src/sgemm.cc",
        "src/gemm_i8.cc",
        "src/gemm_i8_amx.cc",
        "src/gemm_b1.cc",
        "src/gemm_b1_lanes.cc",
        "src/qconv.cc",
        "src/qconv_pack.cc",
        "src/qconv_passes.cc",
        "src/qconv_gw.cc",
        "src/qconv_util.cc",
        "src/bitpack.cc",
        "src/bconv_pack.cc",
        "src/bconv_fwd.cc",
        "src/bconv_gi.cc",
        "src/bconv_gw.cc",
        "src/quant.cc",
        "src/quant_planes.cc",
        "src/quant_prep.cc",
        "src/quant_bhq.cc",
        "src/quant_params.cc",
        "src/quant_log.cc",
        "src/layout.cc",
        "src/conv.cc",
        "src/conv_direct.cc",
        "src/malloc_tune.cc",
        "src/elementwise.cc",
        "src/norm.cc",
        "src/pool.cc",
        "src/optim.cc",
        "src/peak.cc",
        "src/transformer.cc",
        "src/lowp.cc",
        "src/transformer_binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags": ["-O3", "-fno-strict-aliasing"],
      "cflags_cc": [
        "-std=c++17", "-O3",
        "-ffp-contract=off",
        "-fno-math-errno",
        "-Wall", "-Wno-unused-function", "-Wno-maybe-uninitialized",
        # GCC 12 warns inside its own AVX-512 headers (the _mm512_undefined_*() placeholders of unpack, shuffle,
        # extract and reduce intrinsics) wherever they are inlined: a compiler false positive, not our code.
        "-Wno-uninitialized",
        # Internal lambdas returning AVX vectors get a note that their ABI differs without -mavx; they never cross
        # a translation unit.
        "-Wno-psabi"
      ],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off"]
          }
        }]
      ]
    }
  ]
}
