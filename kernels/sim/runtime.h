// ditto — SIMT simulator runtime: schedule/worker configuration (public) and the primitives the
// CUDA shim (kernels/sim/cuda_shim.h) calls from inside simulated kernels (detail).
// Plain C++, no CUDA types: it is included by host code that configures the simulator, by the
// shim, and by runtime.cpp. See kernels/sim/README.md.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ditto::sim {

/// How the simulator orders work inside a launch.
enum class Order : std::uint8_t {
  /// Blocks in linear order (x fastest); inside a block, threads run in index order, each until
  /// it blocks (barrier, warp collective, exit). Atomics are not yield points.
  kInOrder,
  /// Block order is a seeded shuffle; at every yield point (barrier, warp collective, atomic,
  /// exit) the next runnable thread of the block is drawn at random from a seeded stream.
  kRandom,
};

/// The simulator's schedule. With one worker, (order, seed) reproduces every launch exactly.
struct Schedule {
  Order order = Order::kRandom;
  std::uint64_t seed = 0;
};

/// Sets the schedule for subsequent launches and restarts the launch counter, so the same
/// sequence of launches after the same set_schedule() replays the same schedules.
/// Default: kRandom with the seed from env DITTO_SIM_SEED (0 if unset);
/// env DITTO_SIM_SCHEDULE=inorder selects kInOrder.
void set_schedule(const Schedule& schedule);
/// The schedule in effect.
Schedule get_schedule();

/// Sets how many OS threads run blocks (n in [1, 64]; throws ditto::Error otherwise). The
/// launching thread is one of them; the others are a persistent pool created on first need.
/// With n > 1, which worker runs which block is racy, so a seed reproduces each block's internal
/// interleaving but not the interleaving of atomics across blocks.
/// Default: env DITTO_SIM_WORKERS, else min(2, hardware threads).
void set_num_workers(int n);
/// Current number of workers.
int get_num_workers();

/// RAII: sets a schedule (and optionally a worker count) for a scope, restores the old ones.
class ScheduleGuard {
 public:
  explicit ScheduleGuard(const Schedule& schedule, int workers = 0);
  ~ScheduleGuard();
  ScheduleGuard(const ScheduleGuard&) = delete;
  ScheduleGuard& operator=(const ScheduleGuard&) = delete;

 private:
  Schedule old_schedule_;
  int old_workers_;
};

/// Cumulative counters since process start (for benchmarks and tests).
struct Stats {
  std::uint64_t launches = 0;
  std::uint64_t blocks = 0;
  std::uint64_t threads = 0;   // simulated CUDA threads (fibers) run
  std::uint64_t switches = 0;  // fiber-to-fiber context switches
};
/// Reads the counters.
Stats get_stats();

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
