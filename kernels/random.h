// ditto — launch interface of the random-fill kernels. Element i of the output draws from
// Philox4x32-10 with key = seed and counter = offset + i (see kernels/common/philox.h and
// docs/determinism.md "Random numbers"), so values depend only on (seed, offset, i).
#pragma once
#include <cstdint>

#include "kernels/kernel_table.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels {

enum class RandomDist : int {
  uniform,  // [a, b) ; f32/f64
  normal,   // mean a, std b ; f32/f64
  randint,  // integers in [a, b) ; i64 (also f32/f64 holding integer values)
};

/// The random family: one entry per kernel, implemented by every backend.
struct RandomKernels {
  /// Fast-mode dropout's random source, kept on purpose as the lab's "launch-configuration-
  /// dependent RNG": uniform [0, 1) into `out` (f32/f64, contiguous) keyed by the *thread*, not the
  /// element. With T threads in the launch (GPU: grid x block; CPU: the OpenMP team,
  /// ditto::get_num_threads()), thread t fills elements t, t+T, t+2T, ... with draws j = 0, 1, 2,
  /// ... of its own stream: Philox key = seed, counter = (offset + j, stream t + 1)
  /// (philox::draw_stream), converted like rand's uniform. So the values change with the launch
  /// configuration or the thread count — which is the point. The caller advances the generator's
  /// offset by out.numel().
  void (*random_uniform_by_thread)(const View& out, std::uint64_t seed, std::uint64_t offset);
  /// Fills `out` (any strides; element i = row-major logical index) from the stream
  /// (seed, offset). The caller advances the generator's offset by out.numel().
  void (*random_fill)(RandomDist dist, const View& out, std::uint64_t seed, std::uint64_t offset,
                      double a, double b);
};

/// The table for device d (cpu: the level in use). ditto::Error when d has no kernels here.
const RandomKernels& random_kernels(Device d);

// Each backend's table, filled at the end of its source (kernels/kernel_table.h).
namespace cpu::v2 {
extern const RandomKernels random_table;
}
namespace cpu::v3 {
extern const RandomKernels random_table;
}
namespace cpu::v4 {
extern const RandomKernels random_table;
}
namespace sim {
extern const RandomKernels random_table;
}
namespace cuda {
extern const RandomKernels random_table;
}

}  // namespace ditto::kernels
