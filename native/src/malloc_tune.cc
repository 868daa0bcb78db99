// glibc allocator settings for the process that loads the addon (applied once, when it is loaded;
// FQT_MALLOC_TUNE=0 leaves the allocator alone). Typed-array backing stores come from malloc/calloc:
// with the defaults, every multi-MiB tensor of a training step is a fresh mmap whose pages fault in
// one by one on first write (≈ 45 000 faults in a ResNet-20 step, the kernels writing fresh outputs ran
// at ~1.5 GB/s), and freed memory goes straight back to the kernel. Here chunks below 32 MiB (every
// activation of the benchmark models) come from the heap and are reused, the heap grows in 16 MiB steps
// and up to 256 MiB of free heap top is kept: calloc then zeroes warm pages (~10× faster than faulting
// fresh ones). Peak RSS is unchanged in the step benchmark (the heap holds what the step holds alive).
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace fqt {
namespace {

bool tune_malloc() {
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD)
  const char* env = std::getenv("FQT_MALLOC_TUNE");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest value glibc accepts on 64-bit
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
  return true;
#else
  return false;
#endif
}

[[maybe_unused]] const bool g_malloc_tuned = tune_malloc();

}  // namespace
}  // namespace fqt
