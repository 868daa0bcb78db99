// A small persistent thread pool. parallel_for hands out task indices [0, ntasks) dynamically; the
// work split never depends on the thread count (callers choose tasks from the problem size only),
// so integer kernels give identical results for any FQT_THREADS.
#pragma once
#include <cstdint>
#include <functional>

namespace fqt {

int num_threads();
void set_num_threads(int n);  // n ≥ 1; takes effect for the next parallel_for

// Runs fn(task) for every task in [0, ntasks), on the pool and the calling thread. fn receives the
// index of the executing thread in [0, num_threads()) as its second argument (for scratch buffers).
// Nested calls from inside a task run serially on the caller.
void parallel_for(int64_t ntasks, const std::function<void(int64_t task, int thread)>& fn);

// Convenience: split [0, n) into chunks of `grain` (the last one shorter) and run fn(begin, end).
void parallel_range(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace fqt
