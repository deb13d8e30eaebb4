// ditto — SIMT simulator internals: the per-worker block scheduler (kernels/sim/scheduler.cpp).
// Not a public header.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/sim/cuda_shim.h"
#include "kernels/sim/fiber.h"
#include "kernels/sim/runtime.h"

namespace ditto::sim::detail {

/// splitmix64 finaliser of (a, b): decorrelated seeds for launches and blocks.
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Small seeded generator (splitmix64 stream) for schedule decisions.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) (n >= 1).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  std::uint64_t s_;
};

/// The scheduler of one OS thread: runs one block at a time, one fiber per CUDA thread.
class Worker {
 public:
  Worker();
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// The calling OS thread's worker (created on first use, destroyed at thread exit).
  static Worker& for_this_thread();
  /// True while the calling OS thread is running a simulated block.
  static bool inside_kernel();
  /// The worker running a block on this OS thread, or nullptr.
  static Worker* active();

  /// Prepares for the blocks of one launch (resets the per-launch counters).
  void begin_launch(const LaunchSpec& spec, bool random);
  /// Runs one block to completion (or until cancelled). On a diagnostic or a kernel exception,
  /// `*error` receives the message. `abort` is polled at yield points: when another block failed,
  /// this one is cancelled silently.
  void run_block(const unsigned block_idx[3], std::uint64_t seed, const std::atomic<bool>* abort,
                 std::string* error);
  void end_launch();

  std::uint64_t blocks_run() const { return blocks_run_; }
  std::uint64_t threads_run() const { return threads_run_; }
  std::uint64_t switches() const { return switches_; }

  // ---- primitives, called on the current fiber ----
  int barrier(int kind, int pred, const char* file, int line);
  std::uint64_t warp_collective(int kind, unsigned mask, std::uint64_t value, int size, int arg,
                                int width, const char* file, int line);
  unsigned active_mask() const;
  void atomic_point();
  void* dynamic_smem() const { return smem_; }
  /// Raises a diagnostic on the current fiber (unwinds it; the block is cancelled).
  [[noreturn]] void fail(const std::string& msg) const;
  /// "thread (x,y,z) of block (x,y,z)" for the current fiber.
  std::string where() const;

 private:
  enum class State : std::uint8_t { kReady, kBarrier, kWarp, kDone };
  struct WarpOp {
    std::uint64_t value;
    std::uint32_t mask;  // trimmed to the lanes that exist
    std::int32_t arg;
    std::int32_t width;
    std::int32_t kind;
    std::int32_t size;
    const char* file;
    int line;
  };
  struct Fiber {
    Context ctx;
    uint3 tid;
    State state;
    WarpOp op;
    std::uint64_t result;
  };
  struct WarpState {
    std::uint32_t exists, exited, waiting;
  };

  [[noreturn]] static void fiber_entry();
  void run_current();
  [[noreturn]] void exit_current();
  void push_ready(std::uint32_t id);
  Fiber* pop_ready();
  void switch_to(Fiber* next);
  void suspend();
  void check_cancel();
  // Cold paths, out of line so the hot yield paths keep small stack frames.
  [[gnu::cold, gnu::noinline]] Fiber* on_deadlock();
  [[noreturn, gnu::cold, gnu::noinline]] void cancelled();
  [[noreturn, gnu::cold, gnu::noinline]] void fail_barrier(bool divergent, int kind,
                                                           const char* file, int line) const;
  enum WarpFailure { kWarpBadWidth, kWarpNotSelf, kWarpExited, kWarpMismatch };
  [[noreturn, gnu::cold, gnu::noinline]] void fail_warp(int why, int kind, unsigned mask, int width,
                                                        std::uint32_t other, const char* file,
                                                        int line) const;
  void record_error(const std::string& msg);
  void cancel_all();
  std::string describe_deadlock() const;
  std::string thread_str(std::uint32_t id) const;
  std::uint32_t id_of(const Fiber* f) const {
    return static_cast<std::uint32_t>(f - fibers_.data());
  }
  void complete_warp_op(std::uint32_t warp, std::uint32_t mask);

  Context main_;
  std::vector<std::unique_ptr<Stack>> stacks_;  // pooled: stacks_[i] serves thread i
  std::vector<Fiber> fibers_;
  std::vector<WarpState> warps_;
  std::vector<std::uint32_t> ready_;  // ring buffer of runnable fiber ids
  std::uint32_t ready_head_ = 0, ready_count_ = 0;
  Fiber* cur_ = nullptr;
  std::uint32_t n_ = 0, n_done_ = 0, n_exited_ = 0, first_exited_ = 0, n_barrier_ = 0;
  // The barrier being filled: call site, first arriving thread, predicate reduction.
  const char* bar_file_ = nullptr;
  int bar_line_ = 0, bar_kind_ = 0, bar_acc_ = 0, bar_result_ = 0;
  std::uint32_t bar_first_ = 0;
  bool random_ = false;
  bool cancel_ = false;
  Rng rng_;
  std::string error_;
  const LaunchSpec* spec_ = nullptr;
  const std::atomic<bool>* abort_ = nullptr;
  unsigned block_idx_[3] = {0, 0, 0};
  void* smem_ = nullptr;
  std::size_t smem_size_ = 0;
  std::uint64_t blocks_run_ = 0, threads_run_ = 0, switches_ = 0;
};

}  // namespace ditto::sim::detail
