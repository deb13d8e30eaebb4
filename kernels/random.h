// ditto — launch interface of the random-fill kernels. Element i of the output draws from
// Philox4x32-10 with key = seed and counter = offset + i (see kernels/common/philox.h and
// docs/determinism.md "Random numbers"), so values depend only on (seed, offset, i).
#pragma once
#include <cstdint>

#include "kernels/kernel_types.h"

namespace ditto::kernels {

enum class RandomDist : int {
  uniform,  // [a, b) ; f32/f64
  normal,   // mean a, std b ; f32/f64
  randint,  // integers in [a, b) ; i64 (also f32/f64 holding integer values)
};

namespace cpu {
/// Fills `out` (any strides; element i = row-major logical index) from the stream
/// (seed, offset). The caller advances the generator's offset by out.numel().
void random_fill(RandomDist dist, const View& out, std::uint64_t seed, std::uint64_t offset,
                 double a, double b);
}  // namespace cpu

// The same launch interface, implemented by the CUDA kernel sources (kernels/cuda/) compiled
// twice: `sim` by the host compiler against the SIMT simulator (always built), `cuda` by nvcc
// (only when CUDA kernels are compiled). Semantics and bits are those documented above.
namespace sim {
void random_fill(RandomDist dist, const View& out, std::uint64_t seed, std::uint64_t offset,
                 double a, double b);
}  // namespace sim
namespace cuda {
void random_fill(RandomDist dist, const View& out, std::uint64_t seed, std::uint64_t offset,
                 double a, double b);
}  // namespace cuda

}  // namespace ditto::kernels
