// ditto — the op profiler: per-op time, kernel calls and bytes allocated, forward, backward and
// optimizer step, of the ops a thread runs while a Profiler is alive (`ditto train --profile`
// prints its table). What each column means, precisely:
//   op, phase, mode  one row per (op name, phase, mode). Forward ops are named by their public
//                    function ("conv2d", "add", "clone", "to", "full" for zeros/ones/scalars);
//                    backward rows by the autograd node that ran ("conv2d" = conv2d's backward
//                    rule); optimizer steps "adam.step", "adamw.step", "sgd.step"; the data
//                    pipeline "data.next", "data.normalize", "data.random_crop",
//                    "data.random_hflip". The phase is where the op ran: `backward` is
//                    everything run inside Tensor::backward (the rules, the public ops a rule
//                    calls, the engine's gradient sums "grad_accumulate"), `optimizer` inside
//                    an optimizer's step(), `forward` everything else. The mode is the one the
//                    op ran under (a per-call `mode` argument, else the thread's; a backward
//                    rule runs under its forward's).
//   calls            how many times the op ran in that phase and mode (an op a rule calls counts:
//                    pow's rule calls pow, so "pow backward" counts the node and that call).
//   total ms         wall time from the op's entry to its return, nested ops included (an op
//                    nested in itself counts once).
//   self ms          total minus the time of the profiled ops it called (linear's self time
//                    excludes its matmul and add, which have their own rows). The self times of
//                    all rows and the "(outside ops)" line add up to the recorded wall time.
//   kernels          kernel-table calls (`kernels::<family>_kernels(device).<entry>(...)`) made
//                    by the op itself (not by ops it called). On cpu one call is one kernel; on
//                    sim and cuda an entry is one or more launches (a deterministic long
//                    reduction launches once per tree level, a Fast scatter zeroes first).
//   bytes            bytes requested from the device allocator by the op itself: its outputs,
//                    temporaries and kernel scratch, counted when requested (also when a cached
//                    block serves them; freed bytes are not subtracted).
// Composite ops without a node of their own (linear, softmax, log_softmax, mean, var, the
// losses) have no backward row: their backward shows as the rows of the ops they are made of.
// On cuda an op that launched kernels waits for them (cudaDeviceSynchronize) before its time is
// taken, so the times are the kernels' and not their launches'; that changes no bits. cpu and sim
// kernels are synchronous.
//
// The profiler never changes a result: it reads clocks and counts, nothing else (the bits of a
// run are the same with and without it; test/test_profiler.cpp checks). Without a Profiler the
// cost of an op's hook is one thread-local load and compare.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/mode.h"

namespace ditto {

/// The part of a training step an op ran in (see the file comment).
enum class Phase : std::uint8_t { forward, backward, optimizer };

/// "forward", "backward", "optimizer".
const char* phase_name(Phase p);

/// One row of a profile: every call of one op in one phase and mode.
struct ProfileRow {
  std::string op;
  Phase phase = Phase::forward;
  Mode mode = Mode::Deterministic;
  std::int64_t calls = 0;
  double total_ms = 0.0;             ///< inclusive of the profiled ops it called
  double self_ms = 0.0;              ///< total_ms minus those ops' time; <= total_ms
  std::int64_t kernel_calls = 0;     ///< kernel-table calls made by the op itself
  std::int64_t bytes_allocated = 0;  ///< bytes the op itself requested from the allocator
};

/// What a Profiler recorded.
struct ProfileReport {
  /// Sorted by self time, descending (ties: by op, phase, mode).
  std::vector<ProfileRow> rows;
  /// The time recorded: from construction (or the last resume()) to stop() or now, without
  /// paused intervals.
  double wall_ms = 0.0;
  /// wall_ms minus every row's self time: the caller's own code between ops (>= 0).
  double outside_ms = 0.0;
  /// Kernel calls and allocations made outside every profiled op (e.g. a user's empty()).
  std::int64_t outside_kernel_calls = 0;
  std::int64_t outside_bytes = 0;

  /// An aligned text table: a header line ("op  phase  mode  calls  total ms  self ms ..."), one
  /// line per row, then "(outside ops)" and "total" lines; ends with a newline.
  std::string table() const;
};

namespace profile {
class Recorder;  // core/profiler.cpp
}

/// Records the ops run on the constructing thread while it is alive (RAII):
///
///   ditto::Profiler prof;
///   Tensor loss = cross_entropy(model(x), y);
///   loss.backward();
///   opt.step();
///   prof.stop();
///   std::cout << prof.table();
///
/// Ops on other threads are not recorded (each thread may run its own Profiler). A second
/// Profiler on a thread where one is alive (recording or paused, not yet stopped) is refused
/// with ditto::Error: profiles do not nest. stop(), pause() and resume() must be called on the
/// constructing thread and outside any op; report() and table() on that thread or after stop().
/// The Profiler must be destroyed on its thread (as a lock guard).
class Profiler {
 public:
  /// Starts recording on this thread; throws ditto::Error when a Profiler is alive here.
  Profiler();
  /// Stops recording (as stop()).
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  /// Ends the recording; what was recorded stays readable. A second call does nothing. After it
  /// another Profiler may start on this thread.
  void stop();
  /// Suspends the recording (ops run meanwhile are not recorded, the time not counted) until
  /// resume(); nothing when stopped or paused.
  void pause();
  /// Continues a paused recording; nothing when not paused.
  void resume();
  /// Whether ops are being recorded now (not stopped, not paused).
  bool recording() const;

  /// The rows recorded so far.
  ProfileReport report() const;
  /// report().table().
  std::string table() const;
  /// Writes table() to `os`.
  void print(std::ostream& os) const;

 private:
  std::unique_ptr<profile::Recorder> recorder_;
};

}  // namespace ditto
