// ditto — CPU thread count used by the CPU kernels (OpenMP parallel regions).
#pragma once

namespace ditto {

/// Sets how many threads CPU kernels use (n >= 1; throws ditto::Error otherwise). Deterministic
/// results never depend on it; Fast-mode results may.
void set_num_threads(int n);
/// Current CPU thread count (default: the hardware concurrency, or OMP_NUM_THREADS if set).
int get_num_threads();

}  // namespace ditto
