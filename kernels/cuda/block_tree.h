// ditto — the canonical pairwise tree over a 256-thread block (the last part of a canonical
// chunk, kernels/cpu/canonical_sum.h), shared by the GPU kernels that reduce: reduce.cuh and
// batch_norm.cuh. Templates only, so any number of kernel sources may include it.
#pragma once
#include <type_traits>

#include "kernels/cuda/gpu_common.cuh"

namespace ditto::kernels::DITTO_GPU_NS {

constexpr unsigned kFullMask = 0xffffffffu;

/// __shfl_down_sync for every lane type of the reductions (other lane types overload it next
/// to their definition; block_tree finds them by argument-dependent lookup).
template <class T>
__device__ __forceinline__ T shfl_down(T v, unsigned s) {
  if constexpr (std::is_integral_v<T> && sizeof(T) == 8) {
    return static_cast<T>(__shfl_down_sync(kFullMask, static_cast<long long>(v), s));
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(__shfl_down_sync(kFullMask, static_cast<int>(v), s));
  } else {
    return __shfl_down_sync(kFullMask, v, s);
  }
}

/// The canonical pairwise tree over 256 lane values held by one warp: lane j of the warp holds
/// p[r] = canonical lane j + 32r (r = 0..7). Levels s = 128, 64, 32 are evaluated by each lane
/// for its own index with the spec's operand order:
///   q[i] = op(p[i], p[i+128])  (i < 128),  r[i] = op(q[i], q[i+64])  (i < 64),
///   w[j] = op(r[j], r[j+32])   (j < 32)
/// so w[j] = op(op(op(p[j],p[j+128]), op(p[j+64],p[j+192])),
///              op(op(p[j+32],p[j+160]), op(p[j+96],p[j+224]))).
/// Levels s = 16..1 are __shfl_down_sync: lane j gets w[j + s] and computes op(w[j], w[j + s]);
/// for j < s that is exactly the spec's p[j] = op(p[j], p[j + s]) (lanes j >= s compute values
/// that no later level of a lane < s reads). The result is valid in lane 0; all 32 lanes of the
/// warp must call it together.
template <class Pol, class Load>
__device__ __forceinline__ typename Pol::Acc warp_tree(Load&& p) {
  const auto q0 = Pol::op(p(0), p(4));
  const auto q1 = Pol::op(p(2), p(6));
  const auto q2 = Pol::op(p(1), p(5));
  const auto q3 = Pol::op(p(3), p(7));
  auto v = Pol::op(Pol::op(q0, q1), Pol::op(q2, q3));
  DITTO_UNROLL
  for (unsigned s = 16; s >= 1; s /= 2) v = Pol::op(v, shfl_down(v, s));
  return v;
}

/// The canonical pairwise tree over the 256 lane values of a block (thread j holds p[j]); the
/// result is valid in thread 0. `sh` is (256,) shared memory that no thread may be reading.
/// After one barrier warp 0 alone runs warp_tree over the staged lanes (lane j needs exactly
/// p[j + 32r] for r = 0..7).
template <class Pol>
__device__ __forceinline__ typename Pol::Acc block_tree(typename Pol::Acc v,
                                                        typename Pol::Acc* sh) {
  const int j = static_cast<int>(threadIdx.x);
  sh[j] = v;
  __syncthreads();
  if (j < 32) v = warp_tree<Pol>([&](int r) { return sh[j + 32 * r]; });
  return v;
}

}  // namespace ditto::kernels::DITTO_GPU_NS
