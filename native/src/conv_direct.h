// Direct fp32 convolution of stride-1 layers (conv_direct.cc): the fast path of conv2d_forward /
// conv2d_backward when conv_direct_applies(g) (stride 1, pad ≤ kernel size − 1).
#pragma once
#include "common.h"

namespace fqt {

bool conv_direct_applies(const ConvGeom& g);
void conv_direct_forward(const ConvGeom& g, const float* x, const float* weight, float* y);
void conv_direct_backward(const ConvGeom& g, const float* x, const float* weight, const float* dy, float* dx, float* dw);

}  // namespace fqt
