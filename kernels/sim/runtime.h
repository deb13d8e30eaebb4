// ditto — SIMT simulator runtime: the public configuration (kernels/sim/control.h) plus the
// primitives the CUDA shim (kernels/sim/cuda_shim.h) calls from inside simulated kernels (detail).
// Plain C++, no CUDA types: it is included by host code that configures the simulator, by the
// shim, and by runtime.cpp. See kernels/sim/README.md.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/sim/control.h"

namespace ditto::sim {

namespace detail {

/// A type-erased launch: `thunk(ctx)` runs the kernel body for the current simulated thread.
struct LaunchSpec {
  unsigned grid[3];
  unsigned block[3];
  std::size_t dynamic_smem;
  void (*thunk)(void* ctx);
  void* ctx;
};
/// Runs a launch to completion on the workers; throws ditto::Error for a bad configuration or
/// when any diagnostic fired / any simulated thread threw (after all workers stopped).
void launch(const LaunchSpec& spec);

// ---- primitives called by the shim from inside kernels ----

/// Barrier kinds: plain __syncthreads and the predicate-reducing variants.
enum BarrierKind : int { kBarrierPlain = 0, kBarrierCount = 1, kBarrierAnd = 2, kBarrierOr = 3 };
/// __syncthreads*: waits for every thread of the block; returns the reduced predicate.
int barrier(int kind, int pred, const char* file, int line);

/// Warp-collective kinds.
enum WarpKind : int {
  kWarpSync = 0,
  kShflIdx,
  kShflUp,
  kShflDown,
  kShflXor,
  kBallot,
  kAny,
  kAll,
  kMatchAny,
  kMatchAll,
  kReduceAddU,
  kReduceMinU,
  kReduceMaxU,
  kReduceMinI,
  kReduceMaxI,
  kReduceAnd,
  kReduceOr,
  kReduceXor,
  kWarpKindCount
};
/// Waits until every lane named in `mask` reached a warp collective, checks they agree (same
/// kind, mask, width), and returns this lane's result. `value` holds `size` bytes (<= 8).
/// For kMatchAll the returned value is the mask in the low 32 bits and the predicate in bit 32.
std::uint64_t warp_collective(int kind, unsigned mask, std::uint64_t value, int size, int arg,
                              int width, const char* file, int line);
/// Lanes of the caller's warp that exist and have not exited.
unsigned active_mask();
/// Called before every atomic: a yield point under kRandom (and a cancellation point).
void atomic_point();
/// This block's dynamic shared memory (filled with 0xFF bytes before each block).
void* dynamic_smem();
/// Kernel-side assertion failure: aborts the launch with a ditto::Error (not the process).
[[noreturn]] void kernel_assert_fail(const char* expr, const char* file, int line,
                                     const char* func);
/// __trap(): aborts the launch with a ditto::Error.
[[noreturn]] void kernel_trap(const char* file, int line);

}  // namespace detail
}  // namespace ditto::sim
