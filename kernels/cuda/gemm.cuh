// ditto — GPU matrix-multiply kernels (cuda and sim; interface and canonical order:
// kernels/gemm.h, docs/determinism.md "Dot products: matmul").
//
// Both modes run the shared-memory tiled kernel of kernels/cuda/gemm_tile.h (a template over the
// tile shape and the operands; here DenseOps, strided matrices). In Deterministic mode (one
// slice = the whole K range) every output's arithmetic is exactly the canonical chain acc = +0;
// acc = fma(A[i,k], B[k,j], acc) for k = 0..K-1 — the same bits as kernels/cpu/gemm.cpp,
// whatever the tile shape, the grid size or the block schedule.
//
// Fast mode is split-K: the K range is cut into S slices of whole k-tiles, each work item
// computes a partial tile over its slice, and partials are atomically added into C (zeroed
// first). The order of the atomics — hence the last bits — depends on the block schedule.
#pragma once
// First, as in every CUDA source: the shim, the launch helper, DITTO_GPU_NS.
#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "core/mode.h"
#include "kernels/common/gemm_args.h"
#include "kernels/cuda/gemm_tile.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/gemm.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace gemm_detail {

using i64 = std::int64_t;
using gemm_tile::choose_tile;
using gemm_tile::kBK;
using gemm_tile::TileConfig;

/// The dense operands of kernels/gemm.h for the tiled kernel (kernels/cuda/gemm_tile.h).
template <typename T>
struct DenseOps {
  static constexpr bool kCanSplit = true;
  const T* A;  // (batch, M, K)
  const T* B;  // (batch, K, N)
  T* C;        // (batch, M, N)
  i64 a_bs, a_rs, a_cs;
  i64 b_bs, b_rs, b_cs;
  i64 c_bs, c_rs, c_cs;
  __device__ __forceinline__ T a(i64 b, i64 i, i64 k) const {
    return A[b * a_bs + i * a_rs + k * a_cs];
  }
  __device__ __forceinline__ T b(i64 bt, i64 k, i64 j) const {
    return B[bt * b_bs + k * b_rs + j * b_cs];
  }
  __device__ __forceinline__ T* c(i64 b, i64 i, i64 j) const {
    return C + b * c_bs + i * c_rs + j * c_cs;
  }
  __device__ __forceinline__ void store(i64 b, i64 i, i64 j, T v) const { *c(b, i, j) = v; }
};

/// C[b, i, j] = +0 for every output (K == 0, and the split-K accumulator's start).
template <typename T>
__global__ void gemm_zero_kernel(T* C, i64 batch, i64 M, i64 N, i64 c_bs, i64 c_rs, i64 c_cs) {
  const i64 total = batch * M * N;
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 e = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const i64 j = e % N, i = (e / N) % M, b = e / (M * N);
    C[b * c_bs + i * c_rs + j * c_cs] = T(0);
  }
}

/// Fast mode's number of K slices: enough work items for a GPU's worth of blocks (~512), each
/// slice at least kMinSliceTiles k-tiles long (shorter slices cost more in atomics than they
/// gain). Returns the slice length in k (a multiple of kBK).
constexpr i64 kTargetItems = 512;
constexpr i64 kMinSliceTiles = 4;
inline i64 choose_slice_len(i64 tiles, i64 K) {
  const i64 k_tiles = (K + kBK - 1) / kBK;
  i64 slices = (kTargetItems + tiles - 1) / tiles;
  slices = std::min(slices, std::max<i64>(1, k_tiles / kMinSliceTiles));
  const i64 tiles_per_slice = (k_tiles + slices - 1) / slices;
  return tiles_per_slice * kBK;
}

template <typename T>
void launch_zero(const GemmArgs& g) {
  const i64 total = g.batch * g.M * g.N;
  const int threads = 256;
  const int blocks = pick_blocks(total, threads);
  ditto::gpu::launch(gemm_zero_kernel<T>, dim3(blocks), dim3(threads), 0, static_cast<T*>(g.C),
                     g.batch, g.M, g.N, g.c_bs, g.c_rs, g.c_cs);
}

inline i64 abs64(i64 v) { return v < 0 ? -v : v; }

template <typename T>
void gemm_typed(const GemmArgs& g, Mode mode) {
  if (g.K == 0) {  // empty sums: C = +0 in both modes
    launch_zero<T>(g);
    ditto::gpu::device_synchronize();
    return;
  }
  const TileConfig cfg = choose_tile(g.batch, g.M, g.N);
  gemm_tile::TiledParams<DenseOps<T>> p{};
  p.ops = DenseOps<T>{static_cast<const T*>(g.A),
                      static_cast<const T*>(g.B),
                      static_cast<T*>(g.C),
                      g.a_bs,
                      g.a_rs,
                      g.a_cs,
                      g.b_bs,
                      g.b_rs,
                      g.b_cs,
                      g.c_bs,
                      g.c_rs,
                      g.c_cs};
  p.batch = g.batch;
  p.M = g.M;
  p.N = g.N;
  p.K = g.K;
  p.tiles_m = (g.M + cfg.bm - 1) / cfg.bm;
  p.tiles_n = (g.N + cfg.bn - 1) / cfg.bn;
  p.a_k_fast = abs64(g.a_cs) <= abs64(g.a_rs);
  p.b_j_fast = abs64(g.b_cs) <= abs64(g.b_rs);
  bool split = false;
  if (mode == Mode::Deterministic) {
    p.slices = 1;  // no split-K: one item per output tile walks the whole K range
    p.slice_len = g.K;
  } else {
    p.slice_len = choose_slice_len(g.batch * p.tiles_m * p.tiles_n, g.K);
    p.slices = (g.K + p.slice_len - 1) / p.slice_len;
    split = p.slices > 1;
    if (split) launch_zero<T>(g);  // the atomics accumulate onto +0
  }
  gemm_tile::launch_tiled<T>(p, cfg, split);
  ditto::gpu::device_synchronize();
}

}  // namespace gemm_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/gemm.cu, kernels/sim/gemm_sim.cpp), which implement kernels/gemm.h.
/// See kernels/gemm.h. Deterministic: tiled, no split-K, bitwise equal to cpu::gemm for any
/// launch configuration and schedule. Fast: split-K with atomicAdd (bits depend on the schedule).
void gemm(const GemmArgs& args, Mode mode) {
  gemm_args::check(args);
  if (args.batch == 0 || args.M == 0 || args.N == 0) return;
  visit_float(args.dtype,
              [&](auto tag) { gemm_detail::gemm_typed<typename decltype(tag)::type>(args, mode); });
}

const GemmKernels gemm_table = {.gemm = &gemm};

}  // namespace ditto::kernels::DITTO_GPU_NS
