// Direct fp32 convolution (conv_direct.cc): the fast path of conv2d_forward and of conv2d_backward's dW for
// every stride (conv_direct_applies), and of its dX for stride 1 with pad ≤ kernel size − 1
// (conv_direct_dx_applies; conv_direct_backward must get dx = nullptr otherwise).
#pragma once
#include "common.h"

namespace fqt {

bool conv_direct_applies(const ConvGeom& g);
bool conv_direct_dx_applies(const ConvGeom& g);
void conv_direct_forward(const ConvGeom& g, const float* x, const float* weight, float* y);
void conv_direct_backward(const ConvGeom& g, const float* x, const float* weight, const float* dy, float* dx, float* dw);

}  // namespace fqt
