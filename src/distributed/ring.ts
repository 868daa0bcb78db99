/**
 * Bytes one rank sends in gloo's ring all-reduce (gloo/allreduce.cc, `ring`): the buffer is cut into
 * numSegments = roundUp(max(⌈total/maxSegment⌉, 2·size), size) segments of segmentBytes (a whole number of
 * elements); reduce-scatter and all-gather each send numSegments − numSegments/size of them, the ones past the
 * end of the buffer being short or empty. For large buffers that is the textbook 2·(size − 1)/size · total.
 */

/** gloo's default maximum segment (AllreduceOptionsImpl::kMaxSegmentSize). */
export const GLOO_MAX_SEGMENT_BYTES = 1 << 20;

const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Bytes `rank` sends during one ring all-reduce of `elements` elements of `elementBytes` bytes over `size` ranks. */
export function ringBytesSent(elements: number, elementBytes: number, size: number, rank: number, maxSegmentBytes = GLOO_MAX_SEGMENT_BYTES): number {
  const total = elements * elementBytes;
  if (size <= 1 || total === 0) return 0;
  const maxSeg = elementBytes * Math.max(1, Math.floor(maxSegmentBytes / elementBytes));
  const numSegments = roundUp(Math.max(Math.ceil(total / maxSeg), 2 * size), size);
  const perRank = numSegments / size;
  const segmentBytes = roundUp(Math.ceil(total / numSegments), elementBytes);
  const span = numSegments * segmentBytes;
  let sent = 0;
  for (let i = 0; i < numSegments - perRank; i++) {
    // reduce-scatter sends from segment (rank + 1)·perRank + i, all-gather from rank·perRank + i (mod numSegments)
    for (const first of [(rank + 1) * perRank, rank * perRank]) {
      const offset = ((first + i) * segmentBytes) % span;
      sent += Math.max(0, Math.min(segmentBytes, total - offset));
    }
  }
  return sent;
}
