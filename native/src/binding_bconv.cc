// N-API glue of the fused binary conv kernels (src/backend/bconv-kernels.ts, native/src/bconv.h): same argument
// order as the TypeScript interface; empty optional arrays (scale, mask) arrive as nullptr.
#include <napi.h>

#include "bconv.h"
#include "binding_util.h"

namespace fqt_napi {
namespace {

fqt::DyQuant dy_quant_arg(const Napi::CallbackInfo& info, size_t i, int64_t oc) {
  // (q, offset, qscale, inv, zeroPoint)
  return fqt::dy_quant(data<int32_t>(info, i), oc, data<float>(info, i + 1), data<float>(info, i + 2),
                       data<float>(info, i + 3), data<int32_t>(info, i + 4));
}

KERNEL(PackSignsClip) {
  fqt::pack_signs_clip(I(info, 0), I(info, 1), data<float>(info, 2), static_cast<float>(D(info, 3)), data<uint32_t>(info, 4),
                       data<uint32_t>(info, 5), data<int32_t>(info, 6));
  return info.Env().Undefined();
}
KERNEL(UnpackSigns) {
  fqt::unpack_signs(I(info, 0), I(info, 1), data<uint32_t>(info, 2), data<float>(info, 3));
  return info.Env().Undefined();
}
KERNEL(MaskBits) {
  fqt::mask_bits(I(info, 0), I(info, 1), data<float>(info, 2), data<uint32_t>(info, 3), data<float>(info, 4));
  return info.Env().Undefined();
}
KERNEL(SampleChannelRange) {
  fqt::sample_channel_range(I(info, 0), I(info, 1), I(info, 2), data<float>(info, 3), data<float>(info, 4),
                            data<float>(info, 5));
  return info.Env().Undefined();
}
KERNEL(BinaryConvForward) {
  const fqt::BGeom g(data<int32_t>(info, 0));
  fqt::binary_conv_forward(g, data<uint32_t>(info, 1), data<uint32_t>(info, 2), data_or_null<float>(info, 3),
                           data<float>(info, 4));
  return info.Env().Undefined();
}
KERNEL(BinaryConvScaleGrad) {
  const fqt::BGeom g(data<int32_t>(info, 0));
  fqt::binary_conv_scale_grad(g, data<uint32_t>(info, 1), data<uint32_t>(info, 2), data<float>(info, 3),
                              data<float>(info, 4), data_or_null<float>(info, 5), data_or_null<float>(info, 6));
  return info.Env().Undefined();
}
KERNEL(BinaryConvGradInput) {
  const fqt::BGeom g(data<int32_t>(info, 0));
  fqt::binary_conv_grad_input(g, data<float>(info, 1), data_or_null<float>(info, 2), dy_quant_arg(info, 3, g.oc),
                              data<uint32_t>(info, 8), data_or_null<uint32_t>(info, 9), data<float>(info, 10));
  return info.Env().Undefined();
}
KERNEL(BinaryConvGradWeight) {
  const fqt::BGeom g(data<int32_t>(info, 0));
  fqt::binary_conv_grad_weight(g, data<float>(info, 1), data_or_null<float>(info, 2), dy_quant_arg(info, 3, g.oc),
                               data<uint32_t>(info, 8), data<float>(info, 9));
  return info.Env().Undefined();
}

const Entry kEntries[] = {
    {"packSignsClip", PackSignsClip}, {"unpackSigns", UnpackSigns}, {"maskBits", MaskBits},
    {"sampleChannelRange", SampleChannelRange}, {"binaryConvForward", BinaryConvForward},
    {"binaryConvScaleGrad", BinaryConvScaleGrad}, {"binaryConvGradInput", BinaryConvGradInput},
    {"binaryConvGradWeight", BinaryConvGradWeight},
};

}  // namespace

const Entry* bconv_entries(size_t* count) {
  *count = sizeof(kEntries) / sizeof(kEntries[0]);
  return kEntries;
}

}  // namespace fqt_napi
