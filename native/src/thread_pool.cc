// Persistent worker threads. A job is (fn, ntasks); tasks are claimed by CAS on one word holding the job's
// generation and the next task index, the caller works too and then waits only until every claimed task
// has finished (not for idle workers to check in). Workers spin briefly before sleeping so that
// back-to-back kernel calls (one per layer) do not pay a futex wake-up each.
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
    const uint32_t gen = generation(state_.load(std::memory_order_acquire));
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, gen] { worker(i, gen); });
  }

  void run(int64_t ntasks, const std::function<void(int64_t, int)>& fn) {
    if (ntasks <= 0) return;
    // A second caller (another JS thread using the addon) while a job runs: run serially instead.
    std::unique_lock<std::mutex> owner(run_mu_, std::try_to_lock);
    if (ntasks == 1 || ntasks >= kClosed || workers_.empty() || t_inside_task || !owner.owns_lock()) {
      const bool was = t_inside_task;
      t_inside_task = true;
      for (int64_t t = 0; t < ntasks; t++) fn(t, 0);
      t_inside_task = was;
      return;
    }
    // Post: close the next generation (nothing claimable), publish the job, open it. A worker that read
    // an older generation cannot claim from this job (its CAS fails), and one that sees the open state
    // also sees fn_ and ntasks_ of this job.
    const uint32_t gen = generation(state_.load(std::memory_order_relaxed)) + 1;
    state_.store(pack(gen, kClosed), std::memory_order_release);
    fn_.store(&fn, std::memory_order_relaxed);
    ntasks_.store(ntasks, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      state_.store(pack(gen, 0), std::memory_order_release);
    }
    cv_.notify_all();
    t_inside_task = true;
    done_.fetch_add(drain(gen, ntasks, &fn, 0), std::memory_order_acq_rel);
    t_inside_task = false;
    // Wait for the tasks other threads claimed, not for every worker to show up: on a shared machine a
    // worker may not be scheduled for milliseconds, and one that arrives after the last claim just leaves.
    for (int spin = 0; done_.load(std::memory_order_acquire) < ntasks; spin++) {
      if (spin < 64) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  // state_ = generation (high 32 bits) | next unclaimed task (low 32 bits); kClosed while a job is posted.
  static constexpr int64_t kClosed = 0xffffffff;
  static uint64_t pack(uint32_t gen, int64_t next) { return (static_cast<uint64_t>(gen) << 32) | static_cast<uint64_t>(next); }
  static uint32_t generation(uint64_t s) { return static_cast<uint32_t>(s >> 32); }
  static int64_t next_of(uint64_t s) { return static_cast<int64_t>(s & 0xffffffffu); }

  // Runs tasks of job `gen` until none is left; returns how many this thread ran.
  int64_t drain(uint32_t gen, int64_t ntasks, const std::function<void(int64_t, int)>* fn, int thread) {
    int64_t ran = 0;
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (generation(s) != gen || next_of(s) >= ntasks) return ran;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      (*fn)(next_of(s), thread);  // only after a successful claim: fn is this job's
      ran++;
      s = state_.load(std::memory_order_acquire);
    }
  }

  bool job_open(uint32_t seen) const {
    const uint64_t s = state_.load(std::memory_order_acquire);
    return generation(s) != seen && next_of(s) != kClosed;
  }

  void worker(int index, uint32_t seen) {
    t_inside_task = true;
    for (;;) {
      // Spin a little (cheap when kernels come back to back), then sleep on the condition variable.
      for (int spin = 0; spin < 20000 && !job_open(seen) && !stopping_; spin++) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || job_open(seen); });
        if (stopping_) return;
      }
      const uint32_t gen = generation(state_.load(std::memory_order_acquire));
      seen = gen;
      // fn_ / ntasks_ belong to `gen` unless a newer job was posted since, and then every claim fails.
      const int64_t ran = drain(gen, ntasks_.load(std::memory_order_relaxed), fn_.load(std::memory_order_relaxed), index);
      if (ran > 0) done_.fetch_add(ran, std::memory_order_acq_rel);
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
  std::atomic<uint64_t> state_{0};
  std::atomic<const std::function<void(int64_t, int)>*> fn_{nullptr};
  std::atomic<int64_t> ntasks_{0};
  std::atomic<int64_t> done_{0};
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
