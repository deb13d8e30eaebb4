// ditto — GPU matrix-multiply kernels (cuda and sim; interface and canonical order:
// kernels/gemm.h, docs/determinism.md "Dot products: matmul").
//
// Both modes run one shared-memory tiled kernel, a template over the tile shape:
//   work item (batch b, M-tile, N-tile[, K-slice])   <- grid-stride over items, blockIdx.x first
//     for k0 in the item's K range, step BK          <- ascending
//       stage A[b, tile rows, k0:k0+BK] and B[b, k0:k0+BK, tile cols] in __shared__
//       every thread: for kk ascending, acc[r][c] = fma(As[kk][row r], Bs[kk][col c], acc[r][c])
//   store acc (Deterministic) or atomicAdd it into C (Fast, split-K)
// Each thread owns TM x TN outputs and keeps their accumulators in registers across all k-tiles,
// so in Deterministic mode (one slice = the whole K range) every output's arithmetic is exactly
// the canonical chain acc = +0; acc = fma(A[i,k], B[k,j], acc) for k = 0..K-1 — the same bits as
// kernels/cpu/gemm.cpp, whatever the tile shape, the grid size or the block schedule.
//
// Fast mode is split-K: the K range is cut into S slices of whole k-tiles, each work item
// computes a partial tile over its slice, and partials are atomically added into C (zeroed
// first). The order of the atomics — hence the last bits — depends on the block schedule.
#pragma once
// First, as in every CUDA source: the shim, the launch helper, DITTO_GPU_NS.
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/common/gemm_args.h"

#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "core/mode.h"
#include "kernels/gemm.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace gemm_detail {

using i64 = std::int64_t;

/// Kernel parameters: GemmArgs with typed pointers plus the work decomposition.
template <typename T>
struct GemmParams {
  const T* A;  // (batch, M, K)
  const T* B;  // (batch, K, N)
  T* C;        // (batch, M, N)
  i64 batch, M, N, K;
  i64 a_bs, a_rs, a_cs;
  i64 b_bs, b_rs, b_cs;
  i64 c_bs, c_rs, c_cs;
  i64 tiles_m, tiles_n;  // output tiles per matrix along M and N
  i64 slices;            // K slices per output tile (1 in Deterministic mode)
  i64 slice_len;         // k per slice, a multiple of BK (>= K when slices == 1)
  bool a_k_fast;         // A's k stride is the smaller one: walk k fastest when staging
  bool b_j_fast;         // B's j stride is the smaller one: walk j fastest when staging
};

__device__ __forceinline__ float fma_t(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_t(double a, double b, double c) { return fma(a, b, c); }

/// The tiled kernel. Block: (BM / TM) * (BN / TN) threads (1-D). Thread t owns rows
/// ty + r * DY and columns tx + c * DX of the tile (tx = t % DX, ty = t / DX), so the threads of
/// a warp read consecutive columns of Bs and broadcast rows of As (no bank conflicts on reads).
/// kSplit: Fast-mode split-K (atomicAdd of the partial tile); otherwise a plain store.
/// One link k of every chain this thread owns: acc[r][c] = fma(A[i_r, k], B[k, j_c], acc[r][c]),
/// from the staged k-row of A (a_row[i]) and of B (b_row[j]). Shared by full and partial k-tiles.
template <int DX, int DY, class T, int AW, int BW, int TM, int TN>
__device__ __forceinline__ void chain_step(const T (&a_row)[AW], const T (&b_row)[BW], int tx, int ty,
                                           T (&acc)[TM][TN]) {
  T a[TM], bv[TN];
  DITTO_UNROLL
  for (int r = 0; r < TM; ++r) a[r] = a_row[ty + r * DY];
  DITTO_UNROLL
  for (int c = 0; c < TN; ++c) bv[c] = b_row[tx + c * DX];
  DITTO_UNROLL
  for (int r = 0; r < TM; ++r) {
    DITTO_UNROLL
    for (int c = 0; c < TN; ++c) acc[r][c] = fma_t(a[r], bv[c], acc[r][c]);
  }
}

template <typename T, int BM, int BN, int BK, int TM, int TN, bool kSplit>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) gemm_tiled_kernel(GemmParams<T> p) {
  constexpr int DX = BN / TN, DY = BM / TM, NT = DX * DY;
  static_assert(BM % TM == 0 && BN % TN == 0, "tile must split evenly into thread micro-tiles");
  // k-major staging buffers; +1 column of padding spreads the transposed-order stores over banks.
  __shared__ T As[BK][BM + 1];  // (BK, BM): As[kk][i] = A[b, i0 + i, k0 + kk]
  __shared__ T Bs[BK][BN + 1];  // (BK, BN): Bs[kk][j] = B[b, k0 + kk, j0 + j]

  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % DX, ty = tid / DX;
  const i64 tiles_per_matrix = p.tiles_m * p.tiles_n;
  const i64 items = p.batch * tiles_per_matrix * p.slices;

  // Every thread of a block walks the same items (the item index depends on blockIdx only), so
  // the barriers inside are reached by all threads the same number of times.
  for (i64 item = blockIdx.x; item < items; item += gridDim.x) {
    const i64 s = item % p.slices;
    const i64 tile = item / p.slices;
    const i64 b = tile / tiles_per_matrix;
    const i64 tm = (tile / p.tiles_n) % p.tiles_m, tn = tile % p.tiles_n;
    const i64 i0 = tm * BM, j0 = tn * BN;
    const i64 k_begin = s * p.slice_len;
    const i64 k_end = k_begin + p.slice_len < p.K ? k_begin + p.slice_len : p.K;
    const T* A = p.A + b * p.a_bs;
    const T* B = p.B + b * p.b_bs;

    T acc[TM][TN];  // (TM, TN) this thread's outputs; +0 is the canonical chain's start
    DITTO_UNROLL
    for (int r = 0; r < TM; ++r) {
      DITTO_UNROLL
      for (int c = 0; c < TN; ++c) acc[r][c] = T(0);
    }

    for (i64 k0 = k_begin; k0 < k_end; k0 += BK) {  // ascending: continues every chain in order
      const int kc = k_end - k0 < BK ? static_cast<int>(k_end - k0) : BK;
      // Stage the A tile. Out-of-range rows are zero-filled (their outputs are never stored);
      // k past kc is never read. The walk order only decides coalescing, never values.
      for (int e = tid; e < BM * BK; e += NT) {
        const int i = p.a_k_fast ? e / BK : e % BM;
        const int kk = p.a_k_fast ? e % BK : e / BM;
        const i64 gi = i0 + i, gk = k0 + kk;
        As[kk][i] = (gi < p.M && kk < kc) ? A[gi * p.a_rs + gk * p.a_cs] : T(0);
      }
      for (int e = tid; e < BK * BN; e += NT) {
        const int j = p.b_j_fast ? e % BN : e / BK;
        const int kk = p.b_j_fast ? e / BN : e % BK;
        const i64 gj = j0 + j, gk = k0 + kk;
        Bs[kk][j] = (gj < p.N && kk < kc) ? B[gk * p.b_rs + gj * p.b_cs] : T(0);
      }
      __syncthreads();
      if (kc == BK) {
        DITTO_UNROLL
        for (int kk = 0; kk < BK; ++kk) chain_step<DX, DY>(As[kk], Bs[kk], tx, ty, acc);
      } else {
        // Last, partial k-tile: exactly kc more links of each chain (no padded fma(0, 0, acc)).
        for (int kk = 0; kk < kc; ++kk) chain_step<DX, DY>(As[kk], Bs[kk], tx, ty, acc);
      }
      __syncthreads();  // the next k-tile overwrites As/Bs
    }

    T* C = p.C + b * p.c_bs;
    DITTO_UNROLL
    for (int r = 0; r < TM; ++r) {
      const i64 gi = i0 + ty + r * DY;
      DITTO_UNROLL
      for (int c = 0; c < TN; ++c) {
        const i64 gj = j0 + tx + c * DX;
        if (gi < p.M && gj < p.N) {
          T* out = C + gi * p.c_rs + gj * p.c_cs;
          if constexpr (kSplit) {
            atomicAdd(out, acc[r][c]);  // order across slices = block schedule (Fast mode)
          } else {
            *out = acc[r][c];
          }
        }
      }
    }
  }
}

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

/// A tile shape the launcher can pick. All give identical Deterministic bits.
struct TileConfig {
  int threads;  // block size
  int bm, bn;   // output tile
};

/// Supported shapes (BK = 16 for all): 64 threads on 32x32 tiles (4x4 outputs each), 256
/// threads on 64x64 tiles (4x4 each), 1024 threads on 64x64 tiles (2x2 each).
constexpr int kBK = 16;
constexpr TileConfig kTile64{64, 32, 32};
constexpr TileConfig kTile256{256, 64, 64};
constexpr TileConfig kTile1024{1024, 64, 64};

/// Block size: the `threads` override rounded down to a supported shape (at least 64),
/// otherwise 64 threads for products with few 64x64 tiles (small M or N) and 256 for the rest.
inline TileConfig choose_tile(i64 batch, i64 M, i64 N) {
  const int forced = get_launch_override().threads;
  if (forced > 0) {
    if (forced >= 1024) return kTile1024;
    if (forced >= 256) return kTile256;
    return kTile64;
  }
  const i64 tiles64 = batch * ((M + 63) / 64) * ((N + 63) / 64);
  if (M <= 32 || N <= 32 || tiles64 < 16) return kTile64;
  return kTile256;
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

template <typename T, int BM, int BN, int TM, int TN>
void launch_tiled(const GemmParams<T>& p, bool split, int threads) {
  const i64 items = p.batch * p.tiles_m * p.tiles_n * p.slices;
  const int blocks = pick_blocks(items, 1, 65535);
  if (split) {
    ditto::gpu::launch(gemm_tiled_kernel<T, BM, BN, kBK, TM, TN, true>, dim3(blocks), dim3(threads),
                       0, p);
  } else {
    ditto::gpu::launch(gemm_tiled_kernel<T, BM, BN, kBK, TM, TN, false>, dim3(blocks),
                       dim3(threads), 0, p);
  }
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
  GemmParams<T> p{};
  p.A = static_cast<const T*>(g.A);
  p.B = static_cast<const T*>(g.B);
  p.C = static_cast<T*>(g.C);
  p.batch = g.batch;
  p.M = g.M;
  p.N = g.N;
  p.K = g.K;
  p.a_bs = g.a_bs;
  p.a_rs = g.a_rs;
  p.a_cs = g.a_cs;
  p.b_bs = g.b_bs;
  p.b_rs = g.b_rs;
  p.b_cs = g.b_cs;
  p.c_bs = g.c_bs;
  p.c_rs = g.c_rs;
  p.c_cs = g.c_cs;
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
  switch (cfg.threads) {
    case 64: launch_tiled<T, 32, 32, 4, 4>(p, split, cfg.threads); break;
    case 256: launch_tiled<T, 64, 64, 4, 4>(p, split, cfg.threads); break;
    default: launch_tiled<T, 64, 64, 2, 2>(p, split, cfg.threads); break;
  }
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
