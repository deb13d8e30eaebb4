// ditto — the shared-memory tiled GEMM of the GPU devices as a template over its operands, shared
// by the gemm family (kernels/cuda/gemm.cuh: dense strided matrices) and the conv family
// (kernels/cuda/conv.cuh: the implicit GEMM of conv2d's forward, whose B operand is read from
// the input's window taps and whose C is the (N, O, OH, OW) output plus the bias). Templates
// only, so any number of kernel sources may include it (a .h: every kernels/cuda/*.cuh is a
// family).
//
//   work item (batch b, M-tile, N-tile[, K-slice])   <- grid-stride over items, blockIdx.x first
//     for k0 in the item's K range, step BK          <- ascending
//       stage A[b, tile rows, k0:k0+BK] and B[b, k0:k0+BK, tile cols] in __shared__
//       every thread: for kk ascending, acc[r][c] = fma(As[kk][row r], Bs[kk][col c], acc[r][c])
//   store acc (one slice) or atomicAdd it into C (Fast split-K)
// Each thread owns TM x TN outputs and keeps their accumulators in registers across all k-tiles,
// so with one slice every output's arithmetic is exactly the canonical chain acc = +0;
// acc = fma(A[i,k], B[k,j], acc) for k = 0..K-1, whatever the tile shape, the grid size or the
// block schedule.
//
// Ops (passed by value) gives the operands: T a(b, i, k), T b(b, k, j) (only called in range),
// store(b, i, j, acc) (one slice) and, when Ops::kCanSplit, T* c(b, i, j) (split-K's atomics).
#pragma once
#include <cstdint>

#include "kernels/cuda/gpu_common.cuh"

namespace ditto::kernels::DITTO_GPU_NS {
namespace gemm_tile {

using i64 = std::int64_t;

/// The work decomposition of one tiled product and its operands.
template <class Ops>
struct TiledParams {
  Ops ops;
  i64 batch, M, N, K;
  i64 tiles_m, tiles_n;  // output tiles per matrix along M and N
  i64 slices;            // K slices per output tile (1: the canonical chain)
  i64 slice_len;         // k per slice, a multiple of BK (>= K when slices == 1)
  bool a_k_fast;         // A's k stride is the smaller one: walk k fastest when staging
  bool b_j_fast;         // B's j stride is the smaller one: walk j fastest when staging
};

__device__ __forceinline__ float fma_t(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_t(double a, double b, double c) { return fma(a, b, c); }

/// One link k of every chain this thread owns: acc[r][c] = fma(A[i_r, k], B[k, j_c], acc[r][c]),
/// from the staged k-row of A (a_row[i]) and of B (b_row[j]). Shared by full and partial k-tiles.
/// Thread t owns rows ty + r * DY and columns tx + c * DX of the tile (tx = t % DX, ty = t / DX),
/// so the threads of a warp read consecutive columns of Bs and broadcast rows of As.
template <int DX, int DY, class T, int AW, int BW, int TM, int TN>
__device__ __forceinline__ void chain_step(const T (&a_row)[AW], const T (&b_row)[BW], int tx,
                                           int ty, T (&acc)[TM][TN]) {
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

/// The tiled kernel. Block: (BM / TM) * (BN / TN) threads (1-D). kSplit: Fast-mode split-K
/// (atomicAdd of the partial tile); otherwise ops.store.
template <typename T, int BM, int BN, int BK, int TM, int TN, bool kSplit, class Ops>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) tiled_kernel(TiledParams<Ops> p) {
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
        As[kk][i] = (gi < p.M && kk < kc) ? p.ops.a(b, gi, gk) : T(0);
      }
      for (int e = tid; e < BK * BN; e += NT) {
        const int j = p.b_j_fast ? e % BN : e / BK;
        const int kk = p.b_j_fast ? e / BN : e % BK;
        const i64 gj = j0 + j, gk = k0 + kk;
        Bs[kk][j] = (gj < p.N && kk < kc) ? p.ops.b(b, gk, gj) : T(0);
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

    DITTO_UNROLL
    for (int r = 0; r < TM; ++r) {
      const i64 gi = i0 + ty + r * DY;
      DITTO_UNROLL
      for (int c = 0; c < TN; ++c) {
        const i64 gj = j0 + tx + c * DX;
        if (gi < p.M && gj < p.N) {
          if constexpr (kSplit) {
            atomicAdd(p.ops.c(b, gi, gj), acc[r][c]);  // order across slices: the schedule
          } else {
            p.ops.store(b, gi, gj, acc[r][c]);
          }
        }
      }
    }
  }
}

/// A tile shape the launcher can pick. All give identical one-slice bits.
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

template <typename T, int BM, int BN, int TM, int TN, class Ops>
void launch_shape(const TiledParams<Ops>& p, bool split, int threads) {
  const i64 items = p.batch * p.tiles_m * p.tiles_n * p.slices;
  const int blocks = pick_blocks(items, 1, 65535);
  if constexpr (Ops::kCanSplit) {
    if (split) {
      ditto::gpu::launch(tiled_kernel<T, BM, BN, kBK, TM, TN, true, Ops>, dim3(blocks),
                         dim3(threads), 0, p);
      return;
    }
  }
  ditto::gpu::launch(tiled_kernel<T, BM, BN, kBK, TM, TN, false, Ops>, dim3(blocks), dim3(threads),
                     0, p);
}

/// Launches the product p with the tile shape cfg (p.tiles_m / tiles_n computed for it); split:
/// Fast-mode split-K (Ops must then provide c()).
template <typename T, class Ops>
void launch_tiled(TiledParams<Ops> p, const TileConfig& cfg, bool split) {
  switch (cfg.threads) {
    case 64: launch_shape<T, 32, 32, 4, 4>(p, split, cfg.threads); break;
    case 256: launch_shape<T, 64, 64, 4, 4>(p, split, cfg.threads); break;
    default: launch_shape<T, 64, 64, 2, 2>(p, split, cfg.threads); break;
  }
}

}  // namespace gemm_tile
}  // namespace ditto::kernels::DITTO_GPU_NS
