// Per-thread, 64-byte aligned, growable scratch memory for packing buffers.
#pragma once
#include <cstdint>
#include <cstdlib>

namespace fqt {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(ptr_); }

  // At least `bytes` bytes, 64-byte aligned; contents are not preserved across growth.
  void* get(size_t bytes) {
    if (bytes > cap_) {
      std::free(ptr_);
      cap_ = (bytes + 4095) & ~size_t(4095);
      ptr_ = std::aligned_alloc(64, cap_);
    }
    return ptr_;
  }
  template <class T>
  T* as(size_t count) { return static_cast<T*>(get(count * sizeof(T))); }

 private:
  void* ptr_ = nullptr;
  size_t cap_ = 0;
};

// Slot `slot` of the calling thread's scratch (kernels use distinct slots for distinct buffers).
inline Scratch& thread_scratch(int slot) {
  static thread_local Scratch s[4];
  return s[slot];
}

}  // namespace fqt
