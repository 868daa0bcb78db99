/**
 * Quantized convolution at conv level: a binary layer (sign X × sign W) runs on packed bits (bconv.ts); otherwise,
 * when every pass of the layer has a conv-level runner (fused.ts: the int8 implicit-GEMM kernels, or the fp32 fused
 * conv on dequantized operands), the conv runs there and keeps X's codes, never a batch-sized column matrix;
 * otherwise qconv2d returns null and ops/conv.ts runs im2col + qgemm on rows (linear.ts), the general path for
 * quantizers that cannot quantize a conv input (stochastic X, row groups, ...).
 */
import type { ConvGeometry } from '../../ops/conv.js';
import type { Tensor } from '../../tensor/tensor.js';
import { binaryConv2d } from './bconv.js';
import { fusedLayer, fusedPlansFor } from './fused.js';
import type { QGemmConfig } from './layer.js';

/** y[n, oc, oh, ow] = conv(x, w) with the layer's quantizers on the fused passes, or null (then the rows path). */
export function qconv2d(x: Tensor, w: Tensor, cfg: QGemmConfig, g: ConvGeometry): Tensor | null {
  if (cfg.hadamard) return null; // the Hadamard transforms act on im2col rows (hadamard.ts)
  const binary = binaryConv2d(x, w, cfg, g);
  if (binary !== null) return binary;
  const oc = w.shape[0];
  const plans = fusedPlansFor(cfg, g.c * g.kh * g.kw, oc, g.oh * g.ow);
  if (plans === null) return null;
  const geometry = { ...g, n: x.shape[0], oc };
  return fusedLayer(x, w, cfg, geometry, plans, [geometry.n, oc, g.oh, g.ow]);
}
