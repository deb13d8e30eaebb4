// ditto — CPU thread count used by the CPU kernels (OpenMP parallel regions).
#pragma once

namespace ditto {

/// Sets how many threads CPU kernels use: 1 <= n <= max_num_threads() (throws ditto::Error
/// otherwise). Deterministic results never depend on it; Fast-mode results may.
void set_num_threads(int n);
/// The largest accepted thread count: 4 x the hardware threads, and at most OpenMP's
/// omp_get_thread_limit(). (OMP_NUM_THREADS above it is clamped to it.)
int max_num_threads();
/// The OpenMP wait policy ditto recommends, applied to the running program: call it first thing
/// in main(argc, argv). When neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, it sets
/// GOMP_SPINCOUNT=10000 (idle threads spin ~10^4 iterations, then sleep) and re-executes the
/// program with the same arguments, because libgomp reads its wait policy only when it loads.
/// libgomp's default (300000 spins) collapses on a shared machine -- measured 12.3 s instead of
/// 2.3 s for the same 2-thread run under load -- while 10000 costs nothing on an idle one
/// (README, "Threads"). Returns only when nothing was changed (already set, or exec failed).
/// The `ditto` program and the test runner call it; an embedder may.
void apply_wait_policy(int argc, char** argv);

/// Current CPU thread count (default: the hardware concurrency, or OMP_NUM_THREADS if set).
int get_num_threads();

}  // namespace ditto
