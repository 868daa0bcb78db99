// N-API entries of the transformer and low-precision-format kernels (same argument order as
// src/backend/transformer-kernels.ts and lowp-kernels.ts); binding.cc registers them through checked_function
// (args.h), so each call was checked against its line in signatures.cc before it reaches these accessors.
#include <napi.h>

#include <cstring>
#include <string>

#include "binding_util.h"
#include "transformer.h"

namespace fqt_napi {
namespace {

using namespace fqt;

Napi::Value done(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// 'gelu' → 0, 'silu' → 1, else −1 (a JS exception).
int act_code(const Napi::CallbackInfo& info) {
  const std::string op = info[0].As<Napi::String>().Utf8Value();
  const int code = op == "gelu" ? 0 : op == "silu" ? 1 : -1;
  if (code < 0) Napi::Error::New(info.Env(), "unknown activation " + op).ThrowAsJavaScriptException();
  return code;
}

Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  layernorm_forward(data<float>(info, 0), I(info, 1), I(info, 2), data<float>(info, 3), data<float>(info, 4), D(info, 5),
                    D(info, 6) != 0, data<float>(info, 7), data<float>(info, 8), data<float>(info, 9));
  return done(info);
}
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  layernorm_backward(data<float>(info, 0), data<float>(info, 1), I(info, 2), I(info, 3), data<float>(info, 4),
                     data<float>(info, 5), data<float>(info, 6), D(info, 7) != 0, data<float>(info, 8), data<float>(info, 9),
                     data<float>(info, 10));
  return done(info);
}
Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  softmax_forward(data<float>(info, 0), I(info, 1), I(info, 2), D(info, 3) != 0, data<float>(info, 4));
  return done(info);
}
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  softmax_backward(data<float>(info, 0), data<float>(info, 1), I(info, 2), I(info, 3), data<float>(info, 4));
  return done(info);
}
Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  const int op = act_code(info);
  size_t len = 0;
  const float* x = data<float>(info, 1, &len);
  if (op >= 0) activation_forward(op, x, data<float>(info, 2), static_cast<int64_t>(len));
  return done(info);
}
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  const int op = act_code(info);
  size_t len = 0;
  const float* x = data<float>(info, 1, &len);
  if (op >= 0) activation_backward(op, x, data<float>(info, 2), data<float>(info, 3), static_cast<int64_t>(len));
  return done(info);
}
Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  size_t n = 0;
  const int32_t* ids = data<int32_t>(info, 0, &n);
  embedding_forward(ids, static_cast<int64_t>(n), data<float>(info, 1), I(info, 2), data<float>(info, 3));
  return done(info);
}
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  size_t n = 0, tlen = 0;
  const int32_t* ids = data<int32_t>(info, 0, &n);
  float* table = data<float>(info, 3, &tlen);
  embedding_backward(ids, static_cast<int64_t>(n), data<float>(info, 1), I(info, 2), table, static_cast<int64_t>(tlen));
  return done(info);
}
Napi::Value SgemmBatched(const Napi::CallbackInfo& info) {
  sgemm_batched(I(info, 0), I(info, 1), I(info, 2), I(info, 3), data<float>(info, 4), I(info, 5) != 0, data<float>(info, 6),
                I(info, 7) != 0, data<float>(info, 8));
  return done(info);
}
Napi::Value HadamardTransform(const Napi::CallbackInfo& info) {
  const int64_t block = I(info, 3);
  if ((block & (block - 1)) != 0) {
    Napi::Error::New(info.Env(), "hadamardTransform: block " + std::to_string(block) + " is not a power of two").ThrowAsJavaScriptException();
    return done(info);
  }
  hadamard_transform(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), data<float>(info, 4), I(info, 5) != 0,
                     data<float>(info, 6));
  return done(info);
}
Napi::Value QuantizeMinifloat(const Napi::CallbackInfo& info) {
  // seed and stream are uint32 in JS (ToUint32 semantics via the int64 value modulo 2^32)
  quantize_minifloat(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), data<float>(info, 6),
                     static_cast<int>(I(info, 7)), I(info, 8) != 0, static_cast<uint32_t>(I(info, 9)),
                     static_cast<uint32_t>(I(info, 10)), data<uint8_t>(info, 11));
  return done(info);
}

const Entry kEntries[] = {
    {"layerNormForward", LayerNormForward}, {"layerNormBackward", LayerNormBackward},
    {"softmaxForward", SoftmaxForward},     {"softmaxBackward", SoftmaxBackward},
    {"activationForward", ActivationForward}, {"activationBackward", ActivationBackward},
    {"embeddingForward", EmbeddingForward}, {"embeddingBackward", EmbeddingBackward},
    {"sgemmBatched", SgemmBatched},         {"hadamardTransform", HadamardTransform},
    {"quantizeMinifloat", QuantizeMinifloat},
};

}  // namespace

const Entry* transformer_entries(size_t* count) {
  *count = sizeof(kEntries) / sizeof(kEntries[0]);
  return kEntries;
}

}  // namespace fqt_napi
