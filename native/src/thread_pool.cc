// Persistent worker threads. A job is (fn, ntasks); tasks are claimed with an atomic counter, the
// caller works too and then waits for the workers that joined the job. Workers spin briefly before
// sleeping so that back-to-back kernel calls (one per layer) do not pay a futex wake-up each.
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace fqt {

namespace {

int default_threads() {
  if (const char* env = std::getenv("FQT_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return std::min(n, 256);
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

thread_local bool t_inside_task = false;

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop_workers(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> owner(run_mu_);
    if (n == size()) return;
    stop_workers();
    stopping_ = false;
    // The generation is read here, not in the new thread: a thread that starts late must still
    // see the first job posted after this point as new.
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, gen] { worker(i, gen); });
  }

  void run(int64_t ntasks, const std::function<void(int64_t, int)>& fn) {
    if (ntasks <= 0) return;
    // A second caller (another JS thread using the addon) while a job runs: run serially instead.
    std::unique_lock<std::mutex> owner(run_mu_, std::try_to_lock);
    if (ntasks == 1 || workers_.empty() || t_inside_task || !owner.owns_lock()) {
      const bool was = t_inside_task;
      t_inside_task = true;
      for (int64_t t = 0; t < ntasks; t++) fn(t, 0);
      t_inside_task = was;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      ntasks_ = ntasks;
      next_.store(0, std::memory_order_relaxed);
      busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    t_inside_task = true;
    drain(fn, 0);
    t_inside_task = false;
    while (busy_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  }

 private:
  void drain(const std::function<void(int64_t, int)>& fn, int thread) {
    for (;;) {
      int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= ntasks_) break;
      fn(t, thread);
    }
  }

  void worker(int index, uint64_t seen) {
    t_inside_task = true;
    for (;;) {
      // Spin a little (cheap when kernels come back to back), then sleep on the condition variable.
      for (int spin = 0; spin < 20000 && generation_.load(std::memory_order_acquire) == seen && !stopping_; spin++) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || generation_.load(std::memory_order_acquire) != seen; });
        if (stopping_) return;
        seen = generation_.load(std::memory_order_acquire);
      }
      drain(*fn_, index);
      busy_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // held by the thread whose job the workers are running
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int> busy_{0};
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t ntasks_ = 0;
  std::atomic<bool> stopping_{false};
};

Pool& pool() {
  // Never destroyed: joining threads from a static destructor at process exit can deadlock.
  static Pool* p = new Pool(default_threads());
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(std::max(1, std::min(n, 256))); }

void parallel_for(int64_t ntasks, const std::function<void(int64_t, int)>& fn) { pool().run(ntasks, fn); }

void parallel_range(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t tasks = (n + grain - 1) / grain;
  parallel_for(tasks, [&](int64_t t, int) { fn(t * grain, std::min(n, (t + 1) * grain)); });
}

}  // namespace fqt
