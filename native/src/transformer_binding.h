// The N-API entries of transformer_binding.cc, listed for binding.cc's backend object.
#pragma once
#include <napi.h>

#include <cstddef>

namespace fqt {
struct TransformerEntry {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};
extern const TransformerEntry kTransformerKernels[];
extern const size_t kTransformerKernelCount;
}  // namespace fqt
