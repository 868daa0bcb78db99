// Helpers shared by the N-API glue files (binding.cc, binding_bconv.cc, transformer_binding.cc): typed-array
// pointers, numeric arguments, and the kernel table entry type. Only typed arrays, numbers and op names cross (DESIGN.md "Backends").
#pragma once
#include <napi.h>

#include <cstdint>

namespace fqt_napi {

// Data pointer of a typed array (already offset by byteOffset).
template <class T>
T* data(const Napi::CallbackInfo& info, size_t i, size_t* len = nullptr) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* ptr = nullptr;
  napi_value buffer;
  napi_get_typedarray_info(info.Env(), info[i], &type, &length, &ptr, &buffer, &offset);
  if (len) *len = length;
  return static_cast<T*>(ptr);
}
// Like data(), but nullptr for an empty array (optional operands such as "no scale").
template <class T>
T* data_or_null(const Napi::CallbackInfo& info, size_t i) {
  size_t len = 0;
  T* p = data<T>(info, i, &len);
  return len > 0 ? p : nullptr;
}
inline int64_t I(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
inline double D(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

struct Entry {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

// The binary conv kernels (binding_bconv.cc) and the transformer / low-precision kernels (transformer_binding.cc):
// tables of `*count` entries.
const Entry* bconv_entries(size_t* count);
const Entry* transformer_entries(size_t* count);

}  // namespace fqt_napi

#define KERNEL(name) Napi::Value name(const Napi::CallbackInfo& info)
