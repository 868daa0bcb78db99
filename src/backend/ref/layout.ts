/** Reference data-movement kernels: transposes and the im2col / col2im pair for convolution. */

export function transpose(batch: number, rows: number, cols: number, x: Float32Array | Int8Array | Uint8Array,
  out: Float32Array | Int8Array | Uint8Array): void {
  const plane = rows * cols;
  for (let bt = 0; bt < batch; bt++) {
    const o = bt * plane;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) out[o + j * rows + i] = x[o + i * cols + j];
    }
  }
}

export const transposeCodes: (batch: number, rows: number, cols: number, x: Int8Array | Uint8Array, out: Int8Array | Uint8Array) => void = transpose;

/**
 * Calls f(col, src) for every element of the im2col matrix [n·oh·ow, c·kh·kw] in order: col its index, src the
 * index in x [n, c, h, w] it copies, or -1 for zero padding.
 */
function forEachTap(n: number, c: number, h: number, w: number, kh: number, kw: number, stride: number, pad: number,
  oh: number, ow: number, f: (col: number, src: number) => void): void {
  const rowLen = c * kh * kw;
  for (let s = 0; s < n; s++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const row = ((s * oh + oy) * ow + ox) * rowLen;
        for (let ch = 0; ch < c; ch++) {
          const plane = (s * c + ch) * h * w;
          for (let i = 0; i < kh; i++) {
            const y = oy * stride - pad + i;
            const col = row + (ch * kh + i) * kw;
            for (let j = 0; j < kw; j++) {
              const xx = ox * stride - pad + j;
              f(col + j, y >= 0 && y < h && xx >= 0 && xx < w ? plane + y * w + xx : -1);
            }
          }
        }
      }
    }
  }
}

export function im2col(x: Float32Array, n: number, c: number, h: number, w: number, kh: number, kw: number,
  stride: number, pad: number, oh: number, ow: number, out: Float32Array): void {
  forEachTap(n, c, h, w, kh, kw, stride, pad, oh, ow, (col, src) => { out[col] = src < 0 ? 0 : x[src]; });
}

export function col2im(cols: Float32Array, n: number, c: number, h: number, w: number, kh: number, kw: number,
  stride: number, pad: number, oh: number, ow: number, out: Float32Array): void {
  out.fill(0);
  forEachTap(n, c, h, w, kh, kw, stride, pad, oh, ow, (col, src) => { if (src >= 0) out[src] += cols[col]; });
}

/**
 * The odometer walk of the strided kernels: visits `shape` in row-major order one innermost row at a time (the last
 * axis is the inner loop, an odometer carries the rest), calling row(ia, ib, inner, o) with the row's start offsets
 * in two strided operands, its length and its row-major start o. Rank 0 is one row of length 1; an empty shape
 * visits nothing.
 */
export function forEachRow(shape: Int32Array, aStrides: Int32Array, a0: number, bStrides: Int32Array, b0: number,
  row: (ia: number, ib: number, inner: number, o: number) => void): void {
  const rank = shape.length;
  let total = 1;
  for (let d = 0; d < rank; d++) total *= shape[d];
  if (total === 0) return;
  const last = rank - 1, inner = rank === 0 ? 1 : shape[last];
  const idx = new Int32Array(rank);
  let ia = a0, ib = b0;
  for (let o = 0; o < total; o += inner) {
    row(ia, ib, inner, o);
    for (let d = last - 1; d >= 0; d--) {
      idx[d]++;
      ia += aStrides[d];
      ib += bStrides[d];
      if (idx[d] < shape[d]) break;
      ia -= aStrides[d] * shape[d];
      ib -= bStrides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

export function copyStrided(src: Float32Array, srcOffset: number, srcStrides: Int32Array, shape: Int32Array,
  dst: Float32Array, dstOffset: number, dstStrides: Int32Array): void {
  const last = shape.length - 1, ss = srcStrides[last] ?? 0, ds = dstStrides[last] ?? 0;
  forEachRow(shape, srcStrides, srcOffset, dstStrides, dstOffset, (si, di, inner) => {
    for (let j = 0; j < inner; j++) dst[di + j * ds] = src[si + j * ss];
  });
}
