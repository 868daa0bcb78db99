/**
 * Reference GEMMs (the specification the native kernels are tested against).
 * NT convention: C[m,n] = A[m,k] · B[n,k]ᵀ, both operands contiguous along k.
 */

export function sgemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void {
  // Four dot products share each load of an A row (a plain loop would be 2-3× slower in V8);
  // the sums run in float64 and are rounded once to float32 when stored.
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < k; p++) {
        const av = a[ai + p];
        s0 += av * b[b0 + p];
        s1 += av * b[b1 + p];
        s2 += av * b[b2 + p];
        s3 += av * b[b3 + p];
      }
      const ci = i * n + j;
      c[ci] = s0; c[ci + 1] = s1; c[ci + 2] = s2; c[ci + 3] = s3;
    }
    for (; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
      c[i * n + j] = s;
    }
  }
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
