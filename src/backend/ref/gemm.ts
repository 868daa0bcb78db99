/**
 * Reference GEMMs (the specification the native kernels are tested against).
 * NT convention: C[m,n] = A[m,k] · B[n,k]ᵀ, both operands contiguous along k.
 */

export function sgemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  // Blocks of 2 rows × 4 columns: each loaded A and B value feeds several dot products, which makes
  // this plain loop 2-3× faster in V8. Sums run in float64 and are rounded once to float32 on store.
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = i * k, a1 = a0 + k;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = a[a0 + p], x1 = a[a1 + p];
        const y0 = b[b0 + p], y1 = b[b1 + p], y2 = b[b2 + p], y3 = b[b3 + p];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
      }
      const c0 = i * n + j, c1 = c0 + n;
      c[c0] = s00; c[c0 + 1] = s01; c[c0 + 2] = s02; c[c0 + 3] = s03;
      c[c1] = s10; c[c1 + 1] = s11; c[c1 + 2] = s12; c[c1 + 3] = s13;
    }
    for (; j < n; j++) {
      const bj = j * k;
      let s0 = 0, s1 = 0;
      for (let p = 0; p < k; p++) {
        const y = b[bj + p];
        s0 += a[a0 + p] * y;
        s1 += a[a1 + p] * y;
      }
      c[i * n + j] = s0;
      c[(i + 1) * n + j] = s1;
    }
  }
  for (; i < m; i++) {
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
      c[i * n + j] = s;
    }
  }
}

function transposedCopy(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

export function sgemmT(m: number, n: number, k: number, a: Float32Array, transA: number, b: Float32Array, transB: number,
  c: Float32Array): void {
  sgemm(m, n, k, transA ? transposedCopy(a, k, m) : a, transB ? transposedCopy(b, k, n) : b, c);
}

export function gemmI8(m: number, n: number, k: number, kBlock: number, a: Int8Array, b: Int8Array,
  scaleA: Float32Array, scaleB: Float32Array, c: Float32Array): void {
  const nkb = Math.ceil(k / kBlock) || 0;
  const fr = Math.fround;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0; // float32 accumulator of the scaled block sums, in block order
      for (let kb = 0; kb < nkb; kb++) {
        const k0 = kb * kBlock, k1 = Math.min(k, k0 + kBlock);
        let dot = 0; // int32: |dot| ≤ 128·128·kBlock stays exact in a double
        for (let p = k0; p < k1; p++) dot += a[i * k + p] * b[j * k + p];
        acc = fr(acc + fr(fr(scaleA[i * nkb + kb] * scaleB[j * nkb + kb]) * dot));
      }
      c[i * n + j] = acc;
    }
  }
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export function gemmB1(m: number, n: number, k: number, a: Uint32Array, b: Uint32Array, c: Int32Array): void {
  const words = (k + 31) >>> 5;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let diff = 0;
      for (let w = 0; w < words; w++) diff += popcount32(a[i * words + w] ^ b[j * words + w]);
      c[i * n + j] = k - 2 * diff;
    }
  }
}

export function packSigns(rows: number, k: number, x: Float32Array, out: Uint32Array): void {
  const words = (k + 31) >>> 5;
  out.fill(0, 0, rows * words);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      if (x[r * k + c] >= 0) out[r * words + (c >>> 5)] |= 1 << (c & 31);
    }
  }
}

export function signCodes(n: number, x: Float32Array, codes: Uint8Array, nan: Int32Array): void {
  nan[0] = 0;
  for (let i = 0; i < n; i++) {
    codes[i] = x[i] >= 0 ? 1 : 0;
    if (x[i] !== x[i]) nan[0] = 1;
  }
}

export function packPlanes(rows: number, k: number, bits: number, codes: Uint8Array, out: Uint32Array): void {
  const words = (k + 31) >>> 5;
  out.fill(0, 0, bits * rows * words);
  for (let j = 0; j < bits; j++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < k; c++) {
        if ((codes[r * k + c] >>> j) & 1) out[(j * rows + r) * words + (c >>> 5)] |= 1 << (c & 31);
      }
    }
  }
}

export function gemmBitplane(m: number, n: number, k: number, bits: number, planes: Uint32Array, b: Uint32Array, c: Int32Array): void {
  const words = (k + 31) >>> 5;
  for (let i = 0; i < m; i++) {
    for (let jn = 0; jn < n; jn++) {
      let acc = 0;
      for (let p = 0; p < bits; p++) {
        const row = (p * m + i) * words;
        let both = 0, ones = 0;
        for (let w = 0; w < words; w++) {
          const a = planes[row + w];
          both += popcount32(a & b[jn * words + w]);
          ones += popcount32(a);
        }
        acc += (2 * both - ones) * (1 << p);
      }
      c[i * n + jn] = acc;
    }
  }
}
