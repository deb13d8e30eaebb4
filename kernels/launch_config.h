// ditto — launch-configuration choice for the GPU kernels (cuda and sim), with a test knob.
// Deterministic GPU kernels never let the grid or block size into their arithmetic order; the
// knob lets tests force unusual configurations and assert that the bits do not change.
#pragma once
#include <cstdint>

namespace ditto::kernels {

/// Forced launch configuration. 0 = let the kernel choose. `blocks` caps/forces the grid size of
/// grid-stride kernels; `threads` forces the block size of kernels whose block size is free
/// (kernels with a fixed block size, such as the canonical reduction's 256 lanes, ignore it).
struct LaunchOverride {
  int blocks = 0;
  int threads = 0;
};

/// Sets the process-wide override (tests only; not thread-safe against concurrent launches).
void set_launch_override(LaunchOverride o);
LaunchOverride get_launch_override();

/// RAII: applies an override for a scope.
class LaunchOverrideGuard {
 public:
  explicit LaunchOverrideGuard(LaunchOverride o) : prev_(get_launch_override()) {
    set_launch_override(o);
  }
  ~LaunchOverrideGuard() { set_launch_override(prev_); }
  LaunchOverrideGuard(const LaunchOverrideGuard&) = delete;
  LaunchOverrideGuard& operator=(const LaunchOverrideGuard&) = delete;

 private:
  LaunchOverride prev_;
};

/// Block size for a kernel whose block size is free: the override, else `preferred`.
int pick_threads(int preferred);
/// Grid size for `items` work items handled `per_block` at a time by grid-stride kernels:
/// ceil(items / per_block) clamped to [1, max_blocks], or the override.
int pick_blocks(std::int64_t items, std::int64_t per_block, int max_blocks = 4096);

}  // namespace ditto::kernels
