{
  "targets": [
    {
      "target_name": "torch_native",
      "sources": [
        "native/addon.cc",
        "native/allocator.cc",
        "native/cpu_block_cache.cc",
        "native/handle.cc",
        "native/tensor.cc",
        "native/creation.cc",
        "native/ops_pointwise.cc",
        "native/ops_reduce.cc",
        "native/ops_shape.cc",
        "native/ops_nn.cc",
        "native/attention_cpu.cc",
        "native/blas.cc",
        "native/autograd.cc",
        "native/op_profile.cc",
        "native/optim.cc",
        "native/adamw_cpu.cc",
        "native/device.cc",
        "native/distributed.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.mjs include)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "<!@(node scripts/find-libtorch.mjs defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": ["<!@(node scripts/find-libtorch.mjs ldflags)", "<!@(node scripts/find-libtorch.mjs libs)"]
    }
  ]
}
