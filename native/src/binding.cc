// N-API glue: createBackend() returns an object with the Backend interface of
// src/backend/backend.ts (one function per kernel, same argument order); plus setIsa / info /
// setThreads for tests and the peak loops for `npm run bench`. Only typed arrays, numbers and op
// names cross; shapes were validated in ops/. Every function is registered through checked_function
// (args.h), which checks the call against the binding's signature line in signatures.cc first, so the
// accessors below may trust argument count, types and buffer lengths.
#include <napi.h>

#include <cstdlib>
#include <initializer_list>
#include <string>

#include "args.h"
#include "binding_util.h"
#include "signals.h"
#include "common.h"
#include "qconv.h"
#include "thread_pool.h"

namespace {

using fqt::Tier;
using fqt_napi::D;
using fqt_napi::data;
using fqt_napi::Entry;
using fqt_napi::I;

std::string g_isa_error;  // set when FQT_ISA names a tier this machine lacks

KERNEL(Sgemm) {
  fqt::sgemm(I(info, 0), I(info, 1), I(info, 2), data<float>(info, 3), data<float>(info, 4), data<float>(info, 5));
  return info.Env().Undefined();
}
KERNEL(SgemmT) {
  fqt::sgemm_t(I(info, 0), I(info, 1), I(info, 2), data<float>(info, 3), I(info, 4) != 0, data<float>(info, 5),
               I(info, 6) != 0, data<float>(info, 7));
  return info.Env().Undefined();
}
fqt::ConvGeom conv_geom(const Napi::CallbackInfo& info) {
  // (x, n, c, h, w, weight, oc, kh, kw, stride, pad, oh, ow, ...)
  return {I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 6), I(info, 7), I(info, 8), I(info, 9), I(info, 10),
          I(info, 11), I(info, 12)};
}
KERNEL(Conv2dForward) {
  fqt::conv2d_forward(conv_geom(info), data<float>(info, 0), data<float>(info, 5), data<float>(info, 13));
  return info.Env().Undefined();
}
KERNEL(Conv2dBackward) {
  size_t ndx = 0, ndw = 0;
  float* dx = data<float>(info, 14, &ndx);
  float* dw = data<float>(info, 15, &ndw);
  fqt::conv2d_backward(conv_geom(info), data<float>(info, 0), data<float>(info, 5), data<float>(info, 13),
                       ndx ? dx : nullptr, ndw ? dw : nullptr);
  return info.Env().Undefined();
}
KERNEL(GemmI8) {
  fqt::gemm_i8(I(info, 0), I(info, 1), I(info, 2), I(info, 3), data<int8_t>(info, 4), data<int8_t>(info, 5),
               data<float>(info, 6), data<float>(info, 7), data<float>(info, 8));
  return info.Env().Undefined();
}
KERNEL(GemmB1) {
  fqt::gemm_b1(I(info, 0), I(info, 1), I(info, 2), data<uint32_t>(info, 3), data<uint32_t>(info, 4),
               data<int32_t>(info, 5));
  return info.Env().Undefined();
}
KERNEL(CopyStrided) {
  size_t rank = 0;
  const int32_t* shape = data<int32_t>(info, 3, &rank);
  fqt::copy_strided(data<float>(info, 0), I(info, 1), data<int32_t>(info, 2), shape, static_cast<int>(rank),
                    data<float>(info, 4), I(info, 5), data<int32_t>(info, 6));
  return info.Env().Undefined();
}
KERNEL(Transpose) {
  fqt::transpose(I(info, 0), I(info, 1), I(info, 2), data<float>(info, 3), data<float>(info, 4));
  return info.Env().Undefined();
}
KERNEL(TransposeCodes) {
  fqt::transpose_bytes(I(info, 0), I(info, 1), I(info, 2), data<uint8_t>(info, 3), data<uint8_t>(info, 4));
  return info.Env().Undefined();
}
KERNEL(Im2col) {
  fqt::im2col(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), I(info, 6),
              I(info, 7), I(info, 8), I(info, 9), I(info, 10), data<float>(info, 11));
  return info.Env().Undefined();
}
KERNEL(Col2im) {
  fqt::col2im(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), I(info, 6),
              I(info, 7), I(info, 8), I(info, 9), I(info, 10), data<float>(info, 11));
  return info.Env().Undefined();
}
KERNEL(ReluMasked) {
  size_t len = 0;
  const float* x = data<float>(info, 0, &len);
  fqt::relu_masked(x, data<float>(info, 1), data<uint32_t>(info, 2), static_cast<int64_t>(len));
  return info.Env().Undefined();
}
KERNEL(PreluForward) {
  fqt::prelu_forward(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), data<float>(info, 4), data<float>(info, 5));
  return info.Env().Undefined();
}
KERNEL(PreluBackward) {
  fqt::prelu_backward(data<float>(info, 0), data<float>(info, 1), I(info, 2), I(info, 3), I(info, 4), data<float>(info, 5),
                      data<float>(info, 6), data<float>(info, 7));
  return info.Env().Undefined();
}
KERNEL(FirstNonFinite) {
  size_t len = 0;
  const float* x = data<float>(info, 0, &len);
  data<double>(info, 1)[0] = static_cast<double>(fqt::first_non_finite(x, static_cast<int64_t>(len)));
  return info.Env().Undefined();
}
KERNEL(Unary) {
  const std::string op = info[0].As<Napi::String>().Utf8Value();
  const int code = fqt::unary_op_code(op.c_str());
  if (code < 0) {
    Napi::Error::New(info.Env(), "unknown unary op " + op).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  size_t len = 0;
  const float* x = data<float>(info, 1, &len);
  fqt::unary(code, x, data<float>(info, 2), static_cast<int64_t>(len), D(info, 3), D(info, 4));
  return info.Env().Undefined();
}
KERNEL(Binary) {
  const std::string op = info[0].As<Napi::String>().Utf8Value();
  const int code = fqt::binary_op_code(op.c_str());
  if (code < 0) {
    Napi::Error::New(info.Env(), "unknown binary op " + op).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  size_t rank = 0, total = 0;
  const int32_t* shape = data<int32_t>(info, 5, &rank);
  float* out = data<float>(info, 6, &total);
  fqt::binary(code, data<float>(info, 1), data<int32_t>(info, 2), data<float>(info, 3), data<int32_t>(info, 4),
              shape, static_cast<int>(rank), out, static_cast<int64_t>(total));
  return info.Env().Undefined();
}
KERNEL(Reduce) {
  const std::string op = info[0].As<Napi::String>().Utf8Value();
  fqt::reduce(op == "max" ? 1 : 0, data<float>(info, 1), I(info, 2), I(info, 3), I(info, 4), data<float>(info, 5));
  return info.Env().Undefined();
}
KERNEL(ChannelMoments) {
  fqt::channel_moments(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), data<float>(info, 4),
                       data<float>(info, 5));
  return info.Env().Undefined();
}
KERNEL(BatchNormForward) {
  fqt::batchnorm_forward(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), data<float>(info, 4),
                         data<float>(info, 5), data<float>(info, 6), data<float>(info, 7), data<float>(info, 8));
  return info.Env().Undefined();
}
KERNEL(BatchNormBackward) {
  fqt::batchnorm_backward(data<float>(info, 0), data<float>(info, 1), I(info, 2), I(info, 3), I(info, 4),
                          data<float>(info, 5), data<float>(info, 6), data<float>(info, 7), data<float>(info, 8),
                          data<float>(info, 9), data<float>(info, 10));
  return info.Env().Undefined();
}
KERNEL(MaxPoolForward) {
  fqt::maxpool_forward(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), I(info, 6),
                       I(info, 7), I(info, 8), data<float>(info, 9), data<int32_t>(info, 10));
  return info.Env().Undefined();
}
KERNEL(MaxPoolBackward) {
  fqt::maxpool_backward(data<float>(info, 0), data<int32_t>(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5),
                        I(info, 6), data<float>(info, 7));
  return info.Env().Undefined();
}
KERNEL(AvgPoolForward) {
  fqt::avgpool_forward(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), I(info, 6),
                       I(info, 7), I(info, 8), data<float>(info, 9));
  return info.Env().Undefined();
}
KERNEL(AvgPoolBackward) {
  fqt::avgpool_backward(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), I(info, 6),
                        I(info, 7), I(info, 8), data<float>(info, 9));
  return info.Env().Undefined();
}
KERNEL(SgdUpdate) {
  size_t len = 0;
  float* w = data<float>(info, 0, &len);
  fqt::sgd_update(w, data<float>(info, 1), data<float>(info, 2), static_cast<int64_t>(len), D(info, 3), D(info, 4),
                  D(info, 5), D(info, 6) != 0, D(info, 7) != 0);
  return info.Env().Undefined();
}
KERNEL(AdamUpdate) {
  size_t len = 0;
  float* w = data<float>(info, 0, &len);
  fqt::adam_update(w, data<float>(info, 1), data<float>(info, 2), data<float>(info, 3), static_cast<int64_t>(len),
                   D(info, 4), D(info, 5), D(info, 6), D(info, 7), D(info, 8), D(info, 9) != 0, D(info, 10));
  return info.Env().Undefined();
}
KERNEL(DropoutMask) {
  size_t len = 0;
  float* out = data<float>(info, 3, &len);
  // seed and stream are uint32 in JS; ToUint32 semantics via the int64 value modulo 2^32
  fqt::dropout_mask(static_cast<uint32_t>(I(info, 0)), static_cast<uint32_t>(I(info, 1)), D(info, 2), out,
                    static_cast<int64_t>(len));
  return info.Env().Undefined();
}

// ---- bit packing, bit-plane GEMM and quantization kernels ----
bool is_int8_array(const Napi::CallbackInfo& info, size_t i) {
  napi_typedarray_type type = napi_uint8_array;
  napi_get_typedarray_info(info.Env(), info[i], &type, nullptr, nullptr, nullptr, nullptr);
  return type == napi_int8_array;
}
KERNEL(GemmBitplane) {
  fqt::gemm_bitplane(I(info, 0), I(info, 1), I(info, 2), I(info, 3), data<uint32_t>(info, 4), data<uint32_t>(info, 5),
                     data<int32_t>(info, 6));
  return info.Env().Undefined();
}
KERNEL(PackSigns) {
  fqt::pack_signs(I(info, 0), I(info, 1), data<float>(info, 2), data<uint32_t>(info, 3));
  return info.Env().Undefined();
}
KERNEL(SignCodes) {
  fqt::sign_codes(I(info, 0), data<float>(info, 1), data<uint8_t>(info, 2), data<int32_t>(info, 3));
  return info.Env().Undefined();
}
KERNEL(PackPlanes) {
  fqt::pack_planes(I(info, 0), I(info, 1), I(info, 2), data<uint8_t>(info, 3), data<uint32_t>(info, 4));
  return info.Env().Undefined();
}
KERNEL(QuantRange) {
  size_t nmin = 0, nmax = 0;
  float* mins = data<float>(info, 6, &nmin);
  float* maxs = data<float>(info, 7, &nmax);
  fqt::quant_range(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), mins,
                   static_cast<int64_t>(nmin), maxs, static_cast<int64_t>(nmax));
  return info.Env().Undefined();
}
KERNEL(QuantizeAffine) {
  // seed and stream are uint32 in JS (ToUint32 semantics via the int64 value modulo 2^32)
  fqt::quantize_affine(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5),
                       data<float>(info, 6), data<float>(info, 7), data<int32_t>(info, 8), D(info, 9), D(info, 10),
                       D(info, 11) != 0, static_cast<uint32_t>(I(info, 12)), static_cast<uint32_t>(I(info, 13)),
                       data<uint8_t>(info, 14));
  return info.Env().Undefined();
}
KERNEL(AffineParams) {
  size_t n = 0;
  const float* mins = data<float>(info, 2, &n);
  fqt::affine_params(I(info, 0), I(info, 1), mins, data<float>(info, 3), static_cast<int64_t>(n), data<float>(info, 4),
                     data<float>(info, 5), data<float>(info, 6), data<int32_t>(info, 7), data<int32_t>(info, 8));
  return info.Env().Undefined();
}
KERNEL(QuantRangePlanes) {
  size_t nmin = 0, nmax = 0;
  float* mins = data<float>(info, 7, &nmin);
  float* maxs = data<float>(info, 8, &nmax);
  fqt::quant_range_planes(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), I(info, 6), mins,
                          static_cast<int64_t>(nmin), maxs, static_cast<int64_t>(nmax));
  return info.Env().Undefined();
}
KERNEL(QuantizeAffinePlanes) {
  fqt::quantize_affine_planes(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5), I(info, 6),
                              data<float>(info, 7), data<float>(info, 8), data<int32_t>(info, 9), D(info, 10), D(info, 11),
                              D(info, 12) != 0, static_cast<uint32_t>(I(info, 13)), static_cast<uint32_t>(I(info, 14)),
                              data<uint8_t>(info, 15));
  return info.Env().Undefined();
}
KERNEL(DequantizeAffine) {
  fqt::dequantize_affine(data<uint8_t>(info, 0), is_int8_array(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4),
                         I(info, 5), data<float>(info, 6), data<float>(info, 7), data<int32_t>(info, 8),
                         data<float>(info, 9));
  return info.Env().Undefined();
}
KERNEL(CodesToI8) {
  fqt::codes_to_i8(data<uint8_t>(info, 0), I(info, 1), I(info, 2), I(info, 3), I(info, 4), I(info, 5),
                   data<int32_t>(info, 6), D(info, 7) != 0, data<int8_t>(info, 8));
  return info.Env().Undefined();
}
KERNEL(PackNibbles) {
  size_t n = 0;
  const uint8_t* codes = data<uint8_t>(info, 0, &n);
  fqt::pack_nibbles(codes, static_cast<int64_t>(n), data<uint8_t>(info, 1));
  return info.Env().Undefined();
}
KERNEL(UnpackNibbles) {
  size_t n = 0;
  uint8_t* out = data<uint8_t>(info, 1, &n);
  fqt::unpack_nibbles(data<uint8_t>(info, 0), static_cast<int64_t>(n), is_int8_array(info, 1), out);
  return info.Env().Undefined();
}
KERNEL(CodeBlockSums) {
  fqt::code_block_sums(I(info, 0), I(info, 1), I(info, 2), data<int8_t>(info, 3), data<int32_t>(info, 4));
  return info.Env().Undefined();
}
KERNEL(BlockHouseholder) {
  size_t ngroups = 0;
  const int32_t* sizes = data<int32_t>(info, 4, &ngroups);
  fqt::block_householder(data<float>(info, 0), I(info, 1), I(info, 2), data<int32_t>(info, 3), sizes,
                         static_cast<int64_t>(ngroups), data<float>(info, 5), D(info, 6) != 0, data<float>(info, 7));
  return info.Env().Undefined();
}
KERNEL(QuantizeBhqPlanes) {
  size_t ngroups = 0;
  const int32_t* sizes = data<int32_t>(info, 5, &ngroups);
  fqt::quantize_bhq_planes(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), data<int32_t>(info, 4), sizes,
                           static_cast<int64_t>(ngroups), data<float>(info, 6), I(info, 7), D(info, 8) != 0,
                           static_cast<uint32_t>(I(info, 9)), static_cast<uint32_t>(I(info, 10)), data<float>(info, 11),
                           data<float>(info, 12), data<float>(info, 13), data<int32_t>(info, 14), data<uint8_t>(info, 15));
  return info.Env().Undefined();
}

KERNEL(MomentSums) {
  fqt::moment_sums(data<float>(info, 0), I(info, 1), data<double>(info, 2));
  return info.Env().Undefined();
}
KERNEL(QuantizeLuq) {
  // seed and stream are uint32 in JS (ToUint32 semantics via the int64 value modulo 2^32)
  fqt::quantize_luq(data<float>(info, 0), I(info, 1), data<float>(info, 2)[0], I(info, 3), static_cast<uint32_t>(I(info, 4)),
                    static_cast<uint32_t>(I(info, 5)), data<int8_t>(info, 6));
  return info.Env().Undefined();
}
KERNEL(QuantizeLuqPlanes) {
  fqt::quantize_luq_planes(data<float>(info, 0), I(info, 1), I(info, 2), I(info, 3), data<float>(info, 4)[0], I(info, 5),
                           static_cast<uint32_t>(I(info, 6)), static_cast<uint32_t>(I(info, 7)), data<int8_t>(info, 8));
  return info.Env().Undefined();
}
// A quantized operand of the fused convs: codes (Int8Array or Uint8Array) at i, then offset, scale, zero point.
fqt::qconv::Operand q_operand(const Napi::CallbackInfo& info, size_t i) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* ptr = nullptr;
  napi_value buffer;
  napi_get_typedarray_info(info.Env(), info[i], &type, &length, &ptr, &buffer, &offset);
  size_t groups = 0;
  const float* off = data<float>(info, i + 1, &groups);
  return {static_cast<const uint8_t*>(ptr), type == napi_int8_array, off, data<float>(info, i + 2), data<int32_t>(info, i + 3),
          static_cast<int64_t>(groups)};
}
fqt::ConvGeom q_geom(const Napi::CallbackInfo& info) {
  const int32_t* v = data<int32_t>(info, 0);  // [n, c, h, w, oc, kh, kw, stride, pad, oh, ow]
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]};
}
KERNEL(QconvForward) {
  fqt::qconv_forward(q_geom(info), q_operand(info, 1), q_operand(info, 5), data<float>(info, 9));
  return info.Env().Undefined();
}
KERNEL(QconvGradInput) {
  size_t ngroups = 0;
  const int32_t* sizes = data<int32_t>(info, 11, &ngroups);
  const fqt::BhqGroups bhq{data<int32_t>(info, 10), sizes, static_cast<int64_t>(ngroups), data<float>(info, 12)};
  fqt::qconv_grad_input(q_geom(info), q_operand(info, 1), q_operand(info, 5), bhq, data<float>(info, 9));
  return info.Env().Undefined();
}
KERNEL(QconvGradWeight) {
  fqt::qconv_grad_weight(q_geom(info), q_operand(info, 1), q_operand(info, 5), data<float>(info, 9));
  return info.Env().Undefined();
}

const Entry kKernels[] = {
    {"sgemm", Sgemm}, {"sgemmT", SgemmT}, {"conv2dForward", Conv2dForward}, {"conv2dBackward", Conv2dBackward}, {"gemmI8", GemmI8}, {"gemmB1", GemmB1}, {"copyStrided", CopyStrided},
    {"transpose", Transpose}, {"transposeCodes", TransposeCodes}, {"im2col", Im2col}, {"col2im", Col2im}, {"unary", Unary}, {"reluMasked", ReluMasked}, {"preluForward", PreluForward}, {"preluBackward", PreluBackward}, {"firstNonFinite", FirstNonFinite}, {"binary", Binary},
    {"reduce", Reduce}, {"channelMoments", ChannelMoments}, {"batchNormForward", BatchNormForward},
    {"batchNormBackward", BatchNormBackward}, {"maxPoolForward", MaxPoolForward},
    {"maxPoolBackward", MaxPoolBackward}, {"avgPoolForward", AvgPoolForward},
    {"avgPoolBackward", AvgPoolBackward}, {"sgdUpdate", SgdUpdate}, {"adamUpdate", AdamUpdate},
    {"dropoutMask", DropoutMask},
    {"gemmBitplane", GemmBitplane}, {"packSigns", PackSigns}, {"signCodes", SignCodes}, {"packPlanes", PackPlanes},
    {"affineParams", AffineParams}, {"quantRange", QuantRange}, {"quantizeAffine", QuantizeAffine}, {"quantRangePlanes", QuantRangePlanes}, {"quantizeAffinePlanes", QuantizeAffinePlanes}, {"dequantizeAffine", DequantizeAffine},
    {"codesToI8", CodesToI8}, {"codeBlockSums", CodeBlockSums}, {"packNibbles", PackNibbles}, {"unpackNibbles", UnpackNibbles}, {"blockHouseholder", BlockHouseholder},
    {"quantizeBhqPlanes", QuantizeBhqPlanes},
    {"momentSums", MomentSums}, {"quantizeLuq", QuantizeLuq}, {"quantizeLuqPlanes", QuantizeLuqPlanes},
    {"qconvForward", QconvForward}, {"qconvGradInput", QconvGradInput}, {"qconvGradWeight", QconvGradWeight},
};

std::string describe() {
  const Tier t = fqt::active_tier();
  const char* detail = t == Tier::Amx      ? "AMX-INT8 + AVX-512"
                       : t == Tier::Avx512 ? (fqt::cpu().avx512vnni ? "AVX-512 + VNNI" : "AVX-512")
                       : t == Tier::Avx2   ? "AVX2 + FMA"
                                           : "scalar C++";
  return std::string("native C++ (") + fqt::tier_name(t) + ": " + detail + ", " +
         std::to_string(fqt::num_threads()) + " threads)";
}

Napi::Value CreateBackend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!g_isa_error.empty()) {
    Napi::Error::New(env, g_isa_error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object b = Napi::Object::New(env);
  b.Set("name", "native");
  b.Set("description", describe());
  Napi::Object names = Napi::Object::New(env);
  // Every binding through its signature check (args.h); false when one has no signature (the error is pending).
  auto add = [&](const Entry& e) {
    const Napi::Function f = fqt::checked_function(env, e.name, e.fn);
    if (f.IsEmpty()) return false;
    b.Set(e.name, f);
    names.Set(e.name, true);
    return true;
  };
  for (const Entry& e : kKernels)
    if (!add(e)) return env.Undefined();
  // The tables of binding_bconv.cc and transformer_binding.cc.
  for (const Entry* (*table)(size_t*) : {fqt_napi::bconv_entries, fqt_napi::transformer_entries}) {
    size_t n = 0;
    const Entry* entries = table(&n);
    for (size_t i = 0; i < n; i++)
      if (!add(entries[i])) return env.Undefined();
  }
  Napi::ObjectReference* keep = new Napi::ObjectReference(Napi::Persistent(names));  // lives as long as the addon
  b.Set("supports", Napi::Function::New(env, [keep](const Napi::CallbackInfo& ci) -> Napi::Value {
          return Napi::Boolean::New(ci.Env(), ci.Length() > 0 && keep->Value().Has(ci[0]));
        }));
  return b;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Tier t;
  if (!fqt::tier_from_name(name.c_str(), &t)) {
    Napi::Error::New(info.Env(), "unknown ISA tier '" + name + "' (scalar|avx2|avx512|amx)").ThrowAsJavaScriptException();
  } else if (!fqt::set_active_tier(t)) {
    Napi::Error::New(info.Env(), "this CPU lacks the ISA tier '" + name + "'").ThrowAsJavaScriptException();
  }
  return info.Env().Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  fqt::set_num_threads(static_cast<int>(I(info, 0)));
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array tiers = Napi::Array::New(env);
  uint32_t n = 0;
  for (int i = 0; i <= 3; i++) {
    if (fqt::tier_available(static_cast<Tier>(i))) tiers.Set(n++, fqt::tier_name(static_cast<Tier>(i)));
  }
  o.Set("tiers", tiers);
  o.Set("active", fqt::tier_name(fqt::active_tier()));
  o.Set("threads", fqt::num_threads());
  o.Set("description", describe());
  const fqt::CpuFeatures& f = fqt::cpu();
  Napi::Object feats = Napi::Object::New(env);
  feats.Set("avx2", f.avx2); feats.Set("fma", f.fma); feats.Set("popcnt", f.popcnt);
  feats.Set("avx512f", f.avx512f); feats.Set("avx512bw", f.avx512bw); feats.Set("avx512vl", f.avx512vl);
  feats.Set("avx512dq", f.avx512dq); feats.Set("avx512vnni", f.avx512vnni);
  feats.Set("avx512vpopcntdq", f.avx512vpopcntdq); feats.Set("amxTile", f.amx_tile);
  feats.Set("amxInt8", f.amx_int8); feats.Set("amxPermitted", f.amx_permitted);
  o.Set("features", feats);
  if (!g_isa_error.empty()) o.Set("isaError", g_isa_error);
  o.Set("signatures", fqt::signature_table(env));
  return o;
}

// peak(kind, tier, seconds) → operations per second; kind: fma | int8 | int8exact | popcount
Napi::Value Peak(const Napi::CallbackInfo& info) {
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  const std::string tier = info[1].As<Napi::String>().Utf8Value();
  Tier t;
  if (!fqt::tier_from_name(tier.c_str(), &t) || !fqt::tier_available(t)) {
    Napi::Error::New(info.Env(), "ISA tier not available: " + tier).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  const double s = D(info, 2);
  double r = 0;
  if (kind == "fma") r = fqt::peak_fma_flops(t, s);
  else if (kind == "int8") r = fqt::peak_int8_ops(t, s);
  else if (kind == "int8exact") r = fqt::peak_int8_exact_ops(t, s);
  else if (kind == "popcount") r = fqt::peak_popcount_ops(t, s);
  return Napi::Number::New(info.Env(), r);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (const char* isa = std::getenv("FQT_ISA")) {
    Tier t;
    if (*isa == '\0') {
    } else if (!fqt::tier_from_name(isa, &t)) {
      g_isa_error = std::string("FQT_ISA must be scalar|avx2|avx512|amx, got '") + isa + "'";
    } else if (!fqt::set_active_tier(t)) {
      g_isa_error = std::string("FQT_ISA=") + isa + " but this CPU (or OS) lacks that ISA tier (best: " +
                    fqt::tier_name(fqt::best_tier()) + ")";
    }
  }
  const Entry entries[] = {{"createBackend", CreateBackend}, {"setIsa", SetIsa}, {"setThreads", SetThreads}, {"info", Info}, {"peak", Peak}, {"stopSignals", fqt::StopSignals}};
  for (const Entry& e : entries) exports.Set(e.name, fqt::checked_function(env, e.name, e.fn));
  return exports;
}

}  // namespace

NODE_API_MODULE(fqt_native, Init)
