// One signature per N-API binding (grammar: src/backend/signatures.ts). The kernel lines are the same strings
// as KERNEL_SIGNATURES there (test/backend/args.test.ts compares them); a new binding adds one line here.
#include "args.h"

namespace fqt {

#define G "min(rowMod,cdiv(rows,rowDiv))*cdiv(cols,colDiv)"
#define GROUPS "rows:int cols:int rowDiv:pos rowMod:pos colDiv:pos"
// The same groups on the rows view [n·hw, c] of NCHW planes.
#define GP "min(rowMod,cdiv(n*hw,rowDiv))*cdiv(c,colDiv)"
#define PGROUPS "n:int c:int hw:int rowDiv:pos rowMod:pos colDiv:pos"
#define CONV "kh:pos kw:pos stride:pos pad:int oh:int ow:int {kh<=h+2*pad} {kw<=w+2*pad} {oh==(h+2*pad-kh)/stride+1} {ow==(w+2*pad-kw)/stride+1}"
#define POOL "k:pos stride:pos pad:int oh:int ow:int {2*pad<=k} {k<=h+2*pad} {oh==(h+2*pad-k)/stride+1} {ow==(w+2*pad-k)/stride+1}"
// Fused quantized convs: geo = [n, c, h, w, oc, kh, kw, stride, pad, oh, ow] (qconv-kernels.ts); kernels of at most
// 64 taps per axis (the valid-tap masks are 64-bit); a group count of 1 means one group, else one per sample / channel.
#define QGEO "{#geo==11} @in(geo,0,2147483648) {geo[5]>=1} {geo[6]>=1} {geo[5]<=64} {geo[6]<=64} {geo[7]>=1} " \
  "{geo[5]<=geo[2]+2*geo[8]} {geo[6]<=geo[3]+2*geo[8]} {geo[9]==(geo[2]+2*geo[8]-geo[5])/geo[7]+1} {geo[10]==(geo[3]+2*geo[8]-geo[6])/geo[7]+1}"
#define QX "geo[0]*geo[1]*geo[2]*geo[3]"
#define QW "geo[4]*geo[1]*geo[5]*geo[6]"
#define QY "geo[0]*geo[4]*geo[9]*geo[10]"
#define UNARY "neg|exp|log|sqrt|abs|square|relu|step|scale|addScalar|powScalar|clamp|insideMask"
// Binary convs (bconv-kernels.ts), geo as QGEO: packed sign rows of X and W, and dY's quantizer q (8 integers) with
// its per-group parameters.
#define BX "geo[0]*cdiv(geo[1]*geo[2]*geo[3],32)"
#define BW "geo[4]*cdiv(geo[1]*geo[5]*geo[6],32)"
#define BQ "q:i32[8] offset:f32 qscale:f32[#offset] inv:f32[#offset] zeroPoint:i32[#offset] {q[0]>=1} {q[1]>=1} {q[2]>=1} {q[3]>=1} " \
  "{q[3]<=8} {q[4]>=0} {q[4]<=1} {q[7]>=0} {q[7]<=1} {#offset>=min(q[1],cdiv(geo[0]*geo[9]*geo[10],q[0]))*cdiv(geo[4],q[2])}"

const SignatureEntry kSignatures[] = {
    {"sgemm", "m:int n:int k:int a:f32[m*k] b:f32[n*k] c:f32[m*n]"},
    {"sgemmT", "m:int n:int k:int a:f32[m*k] transA:0..1 b:f32[n*k] transB:0..1 c:f32[m*n]"},
    {"copyStrided", "src:f32 srcOffset:int srcStrides:i32 shape:i32 dst:f32 dstOffset:int dstStrides:i32 "
                    "{#srcStrides==#shape} {#dstStrides==#shape} @view(src,srcOffset,srcStrides,shape) @view(dst,dstOffset,dstStrides,shape)"},
    {"transpose", "batch:int rows:int cols:int x:f32[batch*rows*cols] out:f32[batch*rows*cols]"},
    {"transposeCodes", "batch:int rows:int cols:int x:codes[batch*rows*cols] out:codes[batch*rows*cols]"},
    {"im2col", "x:f32[n*c*h*w] n:int c:int h:int w:int " CONV " out:f32[n*oh*ow*c*kh*kw]"},
    {"col2im", "cols:f32[n*oh*ow*c*kh*kw] n:int c:int h:int w:int " CONV " out:f32[n*c*h*w]"},
    {"conv2dForward", "x:f32[n*c*h*w] n:int c:int h:int w:int weight:f32[oc*c*kh*kw] oc:int " CONV " y:f32[n*oc*oh*ow]"},
    {"conv2dBackward", "x:f32 n:int c:int h:int w:int weight:f32 oc:int " CONV " dy:f32[n*oc*oh*ow] dx:f32?[n*c*h*w] dw:f32?[oc*c*kh*kw] "
                       "{#dw==0||#x>=n*c*h*w} {#dx==0||#weight>=oc*c*kh*kw}"},
    {"unary", "op:" UNARY " x:f32 out:f32[#x] p0:num p1:num"},
    {"reluMasked", "x:f32 out:f32[#x] mask:u32[cdiv(#x,32)]"},
    {"preluForward", "x:f32[n*c*hw] n:int c:int hw:int a:f32[c] y:f32[n*c*hw]"},
    {"preluBackward", "g:f32[n*c*hw] x:f32[n*c*hw] n:int c:int hw:int a:f32[c] dx:f32[n*c*hw] da:f32[c]"},
    {"firstNonFinite", "x:f32 out:f64[1]"},
    {"binary", "op:add|sub|mul|div|max|min|eq a:f32 aStrides:i32 b:f32 bStrides:i32 outShape:i32 out:f32 "
               "{#aStrides==#outShape} {#bStrides==#outShape} {#out==prod(outShape)} @view(a,0,aStrides,outShape) @view(b,0,bStrides,outShape)"},
    {"reduce", "op:sum|max x:f32[outer*len*inner] outer:int len:int inner:int out:f32[outer*inner]"},
    {"channelMoments", "x:f32[n*c*hw] n:int c:int hw:int mean:f32[c] variance:f32[c]"},
    {"batchNormForward", "x:f32[n*c*hw] n:int c:int hw:int mean:f32[c] invStd:f32[c] gamma:f32[c] beta:f32[c] out:f32[n*c*hw]"},
    {"batchNormBackward", "x:f32[n*c*hw] dy:f32[n*c*hw] n:int c:int hw:int mean:f32[c] invStd:f32[c] gamma:f32[c] "
                          "dx:f32[n*c*hw] dgamma:f32[c] dbeta:f32[c]"},
    {"maxPoolForward", "x:f32[planes*h*w] planes:int h:int w:int " POOL " out:f32[planes*oh*ow] argmax:i32[planes*oh*ow]"},
    {"maxPoolBackward", "dy:f32[planes*oh*ow] argmax:i32[planes*oh*ow] planes:int h:int w:int oh:int ow:int dx:f32[planes*h*w] "
                        "@in(argmax,0,planes*h*w)"},
    {"avgPoolForward", "x:f32[planes*h*w] planes:int h:int w:int " POOL " out:f32[planes*oh*ow]"},
    {"avgPoolBackward", "dy:f32[planes*oh*ow] planes:int h:int w:int " POOL " dx:f32[planes*h*w]"},
    {"dropoutMask", "seed:u32 stream:u32 p:num out:f32"},
    {"sgdUpdate", "w:f32 g:f32[#w] buf:f32[#w] lr:num momentum:num weightDecay:num nesterov:num first:num"},
    {"adamUpdate", "w:f32 g:f32[#w] m:f32[#w] v:f32[#w] lr:num beta1:num beta2:num eps:num weightDecay:num decoupled:num step:num"},
    {"gemmI8", "m:int n:int k:int kBlock:pos a:i8[m*k] b:i8[n*k] scaleA:f32[m*cdiv(k,kBlock)] scaleB:f32[n*cdiv(k,kBlock)] c:f32[m*n]"},
    {"gemmB1", "m:int n:int k:int a:u32[m*cdiv(k,32)] b:u32[n*cdiv(k,32)] c:i32[m*n]"},
    {"packSigns", "rows:int k:int x:f32[rows*k] out:u32[rows*cdiv(k,32)]"},
    {"signCodes", "n:int x:f32[n] codes:u8[n] nan:i32[1]"},
    {"packPlanes", "rows:int k:int bits:1..8 codes:u8[rows*k] out:u32[bits*rows*cdiv(k,32)]"},
    {"gemmBitplane", "m:int n:int k:int bits:1..8 planes:u32[bits*m*cdiv(k,32)] b:u32[n*cdiv(k,32)] c:i32[m*n]"},
    {"quantRange", "x:f32[rows*cols] " GROUPS " mins:f32[" G "] maxs:f32[" G "]"},
    {"quantizeAffine", "x:f32[rows*cols] " GROUPS " offset:f32[" G "] inv:f32[" G "] zeroPoint:i32[" G "] qmin:num(-128..255) "
                       "qmax:num(-128..255) stochastic:num seed:u32 stream:u32 codes:codes[rows*cols]"},
    {"affineParams", "format:0..2 bits:1..8 mins:f32 maxs:f32[#mins] offset:f32[#mins] scale:f32[#mins] inv:f32[#mins] zeroPoint:i32[#mins] "
                     "unaligned:i32[1]"},
    {"quantRangePlanes", "x:f32[n*c*hw] " PGROUPS " mins:f32[" GP "] maxs:f32[" GP "]"},
    {"quantizeAffinePlanes", "x:f32[n*c*hw] " PGROUPS " offset:f32[" GP "] inv:f32[" GP "] zeroPoint:i32[" GP "] qmin:num(-128..255) "
                             "qmax:num(-128..255) stochastic:num seed:u32 stream:u32 codes:codes[n*c*hw]"},
    {"dequantizeAffine", "codes:codes[rows*cols] " GROUPS " offset:f32[" G "] scale:f32[" G "] zeroPoint:i32[" G "] out:f32[rows*cols]"},
    {"codesToI8", "codes:codes[rows*cols] " GROUPS " shift:i32[" G "] transpose:0..1 out:i8[rows*cols]"},
    {"packNibbles", "codes:codes out:u8[cdiv(#codes,2)]"},
    {"unpackNibbles", "packed:u8 out:codes {cdiv(#out,2)<=#packed}"},
    {"codeBlockSums", "m:int k:int kBlock:pos a:i8[m*k] out:i32[m*cdiv(k,kBlock)]"},
    {"blockHouseholder", "x:f32[n*d] n:int d:int order:i32[n] groupSizes:i32 rowScale:f32[n] inverse:0..1 out:f32[n*d] "
                         "@in(order,0,n) @in(groupSizes,1,n+1) {sum(groupSizes)==n}"},
    {"quantizeBhqPlanes", "x:f32[n*c*hw] n:int c:int hw:int order:i32[n] groupSizes:i32 rowScale:f32[n] bits:1..8 stochastic:num "
                          "seed:u32 stream:u32 offset:f32[n] scale:f32[n] inv:f32[n] zeroPoint:i32[n] codes:u8[n*c*hw] "
                          "@in(order,0,n) @in(groupSizes,1,n+1) {sum(groupSizes)==n}"},
    {"momentSums", "x:f32[n] n:int out:f64[4]"},
    {"quantizeLuq", "x:f32[n] n:int alpha:f32[1] kmax:0..6 seed:u32 stream:u32 codes:i8[n]"},
    {"quantizeLuqPlanes", "x:f32[n*c*hw] n:int c:int hw:int alpha:f32[1] kmax:0..6 seed:u32 stream:u32 codes:i8[n*c*hw]"},
    {"qconvForward", "geo:i32[11] x:codes[" QX "] xOffset:f32 xScale:f32[#xOffset] xZero:i32[#xOffset] w:codes[" QW "] "
                     "wOffset:f32 wScale:f32[#wOffset] wZero:i32[#wOffset] y:f32[" QY "] " QGEO " {#xOffset==1||#xOffset>=geo[0]||geo[0]==0} "
                     "{#wOffset==1||#wOffset>=geo[4]}"},
    {"qconvGradInput", "geo:i32[11] dy:codes[" QY "] dyOffset:f32 dyScale:f32[#dyOffset] dyZero:i32[#dyOffset] w:codes[" QW "] "
                       "wOffset:f32 wScale:f32[#wOffset] wZero:i32[#wOffset] dx:f32[" QX "] order:i32 groupSizes:i32 rowScale:f32[#order] " QGEO " "
                       "{#dyOffset==1||#dyOffset>=geo[0]||geo[0]==0} {#wOffset==1||#wOffset>=geo[4]} {#order==0||#order==geo[0]} "
                       "@in(order,0,geo[0]) @in(groupSizes,1,geo[0]+1) {sum(groupSizes)==#order}"},
    {"qconvGradWeight", "geo:i32[11] dy:codes[" QY "] dyOffset:f32 dyScale:f32[#dyOffset] dyZero:i32[#dyOffset] x:codes[" QX "] "
                        "xOffset:f32 xScale:f32[#xOffset] xZero:i32[#xOffset] dw:f32[" QW "] " QGEO " {#dyOffset==1||#dyOffset>=geo[4]||geo[0]==0} "
                        "{#xOffset==1||#xOffset>=geo[0]||geo[0]==0}"},
    {"packSignsClip", "rows:int k:int x:f32[rows*k] clip:num signs:u32[rows*cdiv(k,32)] mask:u32[rows*cdiv(k,32)] nan:i32[1]"},
    {"unpackSigns", "rows:int k:int signs:u32[rows*cdiv(k,32)] out:f32[rows*k]"},
    {"maskBits", "rows:int k:int g:f32[rows*k] mask:u32[rows*cdiv(k,32)] out:f32[rows*k]"},
    {"sampleChannelRange", "n:int c:int hw:int x:f32[n*c*hw] mins:f32[n*c] maxs:f32[n*c]"},
    {"binaryConvForward", "geo:i32[11] xSigns:u32[" BX "] wSigns:u32[" BW "] scale:f32?[geo[4]] y:f32[" QY "] " QGEO},
    {"binaryConvScaleGrad", "geo:i32[11] xSigns:u32[" BX "] wSigns:u32[" BW "] dy:f32[" QY "] da:f32[geo[4]] mins:f32?[geo[0]*geo[4]] "
                            "maxs:f32?[geo[0]*geo[4]] {#mins==#maxs} " QGEO},
    {"binaryConvGradInput", "geo:i32[11] dy:f32[" QY "] scale:f32?[geo[4]] " BQ " wSigns:u32[" BW "] xMask:u32?[" BX "] dx:f32[" QX "] " QGEO},
    {"binaryConvGradWeight", "geo:i32[11] dy:f32[" QY "] scale:f32?[geo[4]] " BQ " xSigns:u32[" BX "] dw:f32[" QW "] " QGEO},
    // transformer_binding.cc
    {"layerNormForward", "x:f32[rows*cols] rows:int cols:int gamma:f32[cols] beta:f32[cols] eps:num rms:0..1 out:f32[rows*cols] mean:f32[rows] rstd:f32[rows]"},
    {"layerNormBackward", "x:f32[rows*cols] dy:f32[rows*cols] rows:int cols:int gamma:f32[cols] mean:f32[rows] rstd:f32[rows] rms:0..1 dx:f32[rows*cols] dgamma:f32[cols] dbeta:f32[cols]"},
    {"softmaxForward", "x:f32[rows*cols] rows:int cols:int causal:0..1 out:f32[rows*cols] {rows==0||cols>=1}"},
    {"softmaxBackward", "y:f32[rows*cols] dy:f32[rows*cols] rows:int cols:int dx:f32[rows*cols]"},
    {"activationForward", "op:gelu|silu x:f32 out:f32[#x]"},
    {"activationBackward", "op:gelu|silu x:f32 dy:f32[#x] dx:f32[#x]"},
    {"embeddingForward", "ids:i32 table:f32 dim:pos out:f32[#ids*dim] @in(ids,0,#table/dim)"},
    {"embeddingBackward", "ids:i32 dy:f32[#ids*dim] dim:pos dtable:f32 @in(ids,0,#dtable/dim)"},
    {"sgemmBatched", "batch:int m:int n:int k:int a:f32[batch*m*k] transA:0..1 b:f32[batch*n*k] transB:0..1 c:f32[batch*m*n]"},
    {"hadamardTransform", "x:f32[rows*cols] rows:int cols:int block:1..65536 signs:f32[cols] inverse:0..1 out:f32[rows*cols]"},
    {"quantizeMinifloat", "x:f32[rows*cols] rows:int cols:int rowDiv:pos rowMod:pos colDiv:pos inv:f32[min(rowMod,cdiv(rows,rowDiv))*cdiv(cols,colDiv)] format:0..1 stochastic:num seed:u32 stream:u32 codes:codes[rows*cols]"},
    // The addon's own entry points (ADDON_SIGNATURES in src/backend/signatures.ts).
    {"createBackend", ""},
    {"info", ""},
    {"setIsa", "tier:str"},
    {"setThreads", "n:1..1024"},
    {"peak", "kind:fma|int8|int8exact|popcount tier:str seconds:num(0..60)"},
    {"stopSignals", "action:install|poll|uninstall"},
};
const size_t kSignatureCount = sizeof(kSignatures) / sizeof(kSignatures[0]);

}  // namespace fqt
