/** Max, average and global average pooling over NCHW tensors. */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { convOutSize } from './conv.js';
import { mean } from './reduce.js';
import { empty } from './util.js';

function geometry(op: string, x: Tensor, k: number, stride: number, pad: number): [number, number, number, number, number] {
  check(x.rank === 4, () => `${op}: input must be [n, c, h, w], got ${fmtShape(x.shape)}`);
  check(Number.isInteger(k) && k >= 1 && Number.isInteger(stride) && stride >= 1 && Number.isInteger(pad) && pad >= 0 && 2 * pad <= k,
    () => `${op}: kernel ${k}, stride ${stride}, padding ${pad} are invalid (padding may be at most half the kernel)`);
  const [n, c, h, w] = x.shape;
  const oh = convOutSize(h, k, stride, pad), ow = convOutSize(w, k, stride, pad);
  check(oh > 0 && ow > 0, () => `${op}: a ${k}×${k} window does not fit input ${fmtShape(x.shape)}`);
  return [n * c, h, w, oh, ow];
}

export function maxPool2d(x: Tensor, k: number, stride = k, pad = 0): Tensor {
  const [planes, h, w, oh, ow] = geometry('maxPool2d', x, k, stride, pad);
  const out = empty([x.shape[0], x.shape[1], oh, ow]);
  const argmax = new Int32Array(out.size);
  backend().maxPoolForward(x.data, planes, h, w, k, stride, pad, oh, ow, out.data, argmax);
  const xShape = x.shape; // not x: the backward needs only argmax
  return record(out, 'maxPool2d', [x], (g) => {
    const dx = empty(xShape);
    backend().maxPoolBackward(g.data, argmax, planes, h, w, oh, ow, dx.data);
    return [dx];
  });
}

export function avgPool2d(x: Tensor, k: number, stride = k, pad = 0): Tensor {
  const [planes, h, w, oh, ow] = geometry('avgPool2d', x, k, stride, pad);
  const out = empty([x.shape[0], x.shape[1], oh, ow]);
  backend().avgPoolForward(x.data, planes, h, w, k, stride, pad, oh, ow, out.data);
  const xShape = x.shape;
  return record(out, 'avgPool2d', [x], (g) => {
    const dx = empty(xShape);
    backend().avgPoolBackward(g.data, planes, h, w, k, stride, pad, oh, ow, dx.data);
    return [dx];
  });
}

/** [n, c, h, w] → [n, c]. */
export function globalAvgPool(x: Tensor): Tensor {
  check(x.rank === 4, () => `globalAvgPool: input must be [n, c, h, w], got ${fmtShape(x.shape)}`);
  return mean(x, [2, 3]);
}
