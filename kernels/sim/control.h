// ditto — controlling the SIMT simulator behind the `sim` device: its schedule (block order and
// thread interleaving, seeded), its worker threads, and launch statistics. Public API, included
// by <ditto/ditto.h>; the primitives simulated kernels call are in kernels/sim/runtime.h
// (internal). See kernels/sim/README.md.
#pragma once
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

}  // namespace ditto::sim
