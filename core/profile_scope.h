// ditto — the profiler's hooks inside the library (internal; not reachable from <ditto/ditto.h>,
// so not installed). What they feed: core/profiler.h.
//   - profile::OpScope: the first statement of every public op front end (core/ops/*.cpp, the
//     kernel-running Tensor methods of core/tensor.cpp), of each backward rule the engine runs
//     (core/autograd.cpp), of the optimizers' step() (nn/optim.cpp) and of the data pipeline
//     (nn/data.cpp). A plain object, not a macro: `profile::OpScope scope("conv2d", mode);`.
//   - profile::PhaseScope: the autograd engine (backward) and the optimizers (optimizer).
//   - note_kernel_call / note_alloc: kernels::pick (kernels/kernel_table.h) and
//     kernels::device_alloc (kernels/device_memory.cpp).
// Without a recording Profiler on the thread each hook is one thread-local load and compare: no
// clock read, no allocation, no call.
#pragma once
#include <cstddef>
#include <optional>

#include "core/device.h"
#include "core/mode.h"
#include "core/profiler.h"

namespace ditto::profile {

/// The recorder of the Profiler recording on this thread; null when none records (none alive,
/// stopped or paused). Constant-initialised: reading it needs no TLS init wrapper.
extern constinit thread_local Recorder* t_recorder;

/// Out-of-line halves of the hooks (core/profiler.cpp), called only while recording.
void on_kernel_call(Device d);
void on_alloc(std::size_t bytes);

/// Counts one kernel-table call on device d for the innermost open op scope.
inline void note_kernel_call(Device d) {
  if (t_recorder != nullptr) on_kernel_call(d);
}
/// Counts `bytes` requested from the device allocator for the innermost open op scope.
inline void note_alloc(std::size_t bytes) {
  if (t_recorder != nullptr) on_alloc(bytes);
}

/// Times one op from construction to destruction (see core/profiler.h for the columns). `op`
/// must outlive the scope (a literal, or a Node's name). `mode`: the op's per-call mode
/// argument (the thread's mode when absent).
class OpScope {
 public:
  explicit OpScope(const char* op, std::optional<Mode> mode = std::nullopt) {
    if (t_recorder != nullptr) begin(op, mode);
  }
  ~OpScope() {
    if (recorder_ != nullptr) end();
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  void begin(const char* op, std::optional<Mode> mode);
  void end() noexcept;

  Recorder* recorder_ = nullptr;  // null: nothing recorded
  std::size_t depth_ = 0;         // this scope's index in the recorder's open scopes
};

/// Sets the phase ops are recorded in on this thread, until destroyed (restores the previous
/// one). Maintained whether or not a Profiler records: one thread-local write each way.
class PhaseScope {
 public:
  explicit PhaseScope(Phase p);
  ~PhaseScope();
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Phase prev_;
};

}  // namespace ditto::profile
