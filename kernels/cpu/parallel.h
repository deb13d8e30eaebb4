// ditto — the OpenMP work split shared by the CPU kernels (reduce, conv, index). Kept in one place
// because every deterministic CPU kernel relies on the same property: work is split along whole
// output items, never inside one item's arithmetic, so the thread count cannot change a bit.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/level.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/threads.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {

/// Below this many elements of work a kernel runs on one thread (a parallel region costs more).
constexpr std::int64_t kParallelMinElems = std::int64_t{1} << 15;

/// The thread count for `work` elements: 1 below kParallelMinElems, else get_num_threads().
inline int threads_for(std::int64_t work) {
  return work < kParallelMinElems ? 1 : std::max(1, get_num_threads());
}

/// Runs fn(lo, hi) on a static contiguous split of [0, total) over up to `threads` threads
/// (the team OpenMP actually gives may be smaller; the split follows the real team size).
template <class F>
void parallel_ranges(std::int64_t total, int threads, F&& fn) {
  if (total <= 0) return;
#if defined(_OPENMP)
  if (threads > 1 && total > 1) {
#pragma omp parallel num_threads(static_cast<int>(std::min<std::int64_t>(threads, total)))
    {
      const std::int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
      const std::int64_t lo = total * tid / nt, hi = total * (tid + 1) / nt;
      if (lo < hi) fn(lo, hi);
    }
    return;
  }
#endif
  fn(0, total);
}

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
