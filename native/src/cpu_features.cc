// CPU feature detection (cpuid + xgetbv) and the active ISA tier. FQT_ISA forces a tier; asking for
// one the machine lacks is an error reported by binding.cc. AMX additionally needs the kernel's
// permission to use the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, Linux ≥ 5.16).
#include "common.h"

#include <cstring>
#if FQT_X86
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace fqt {

namespace {

#if FQT_X86
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool request_amx_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  unsigned long bitmask = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &bitmask) != 0) return false;
  return (bitmask & (1ul << kXfeatureXtiledata)) != 0;
#else
  return false;
#endif
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if FQT_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  __get_cpuid(1, &a, &b, &c, &d);
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  f.fma = (c >> 12) & 1;
  f.popcnt = (c >> 23) & 1;
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  f.os_ymm = osxsave && avx && (xcr0 & 0x6) == 0x6;
  f.os_zmm = f.os_ymm && (xcr0 & 0xe0) == 0xe0;
  const bool os_tiles = (xcr0 & (3ull << 17)) == (3ull << 17);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = f.os_ymm && ((b >> 5) & 1);
    f.avx512f = f.os_zmm && ((b >> 16) & 1);
    f.avx512dq = f.os_zmm && ((b >> 17) & 1);
    f.avx512bw = f.os_zmm && ((b >> 30) & 1);
    f.avx512vl = f.os_zmm && ((b >> 31) & 1);
    f.avx512vnni = f.os_zmm && ((c >> 11) & 1);
    f.avx512vpopcntdq = f.os_zmm && ((c >> 14) & 1);
    f.amx_tile = os_tiles && ((d >> 24) & 1);
    f.amx_int8 = os_tiles && ((d >> 25) & 1);
    if (f.amx_tile && f.amx_int8) f.amx_permitted = request_amx_permission();
  }
#endif
  return f;
}

bool g_active_set = false;
Tier g_active = Tier::Scalar;

}  // namespace

const CpuFeatures& cpu() {
  static const CpuFeatures f = detect();
  return f;
}

const char* tier_name(Tier t) {
  switch (t) {
    case Tier::Scalar: return "scalar";
    case Tier::Avx2: return "avx2";
    case Tier::Avx512: return "avx512";
    case Tier::Amx: return "amx";
  }
  return "?";
}

bool tier_from_name(const char* name, Tier* out) {
  for (int i = 0; i <= 3; i++) {
    if (std::strcmp(name, tier_name(static_cast<Tier>(i))) == 0) {
      *out = static_cast<Tier>(i);
      return true;
    }
  }
  return false;
}

bool tier_available(Tier t) {
  const CpuFeatures& f = cpu();
  const bool avx2 = f.avx2 && f.fma && f.popcnt;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (t) {
    case Tier::Scalar: return true;
    case Tier::Avx2: return avx2;
    case Tier::Avx512: return avx512;
    case Tier::Amx: return avx512 && f.amx_tile && f.amx_int8 && f.amx_permitted;
  }
  return false;
}

Tier best_tier() {
  for (int i = 3; i > 0; i--) {
    if (tier_available(static_cast<Tier>(i))) return static_cast<Tier>(i);
  }
  return Tier::Scalar;
}

Tier active_tier() {
  if (!g_active_set) {
    g_active = best_tier();  // binding.cc applies FQT_ISA through set_active_tier at load
    g_active_set = true;
  }
  return g_active;
}

bool set_active_tier(Tier t) {
  if (!tier_available(t)) return false;
  g_active = t;
  g_active_set = true;
  return true;
}

}  // namespace fqt
