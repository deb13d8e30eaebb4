// ditto — GPU batch_norm kernels (cuda and sim; interface and rule: kernels/batch_norm.h).
//
// Deterministic (training): forward = stats_kernel + normalize_kernel, backward = stats_kernel
// (the two gradient sums) + dx_kernel. stats_kernel gives each channel to one 256-thread block
// (blocks grid-stride over channels); the block runs the canonical order itself: per chunk of
// 1024 logical elements, lane j takes elements 1024 ch + 256 t + j (t = 0..3) then block_tree;
// the chunk partials go to a per-channel scratch row, which the block reduces again, chunk by
// chunk, in place, until one value is left (the write of partial ch follows every read of the
// chunk that holds index ch, so the level can overwrite its own input). A channel's bits depend
// on n alone: never on the grid, the block schedule or the device. Known cost on a real GPU:
// C blocks only, so few channels leave most of the GPU idle; correct, not yet fast.
// Fast: the same passes with each channel's range cut into slices, a block's slice summed in any
// order and added to the channel's total with one atomicAdd (bits follow the block schedule).
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/batch_norm.h"
#include "kernels/common/batch_norm_args.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/cuda/block_tree.h"
#include "kernels/cuda/gpu_common.cuh"

namespace ditto::kernels::DITTO_GPU_NS {
namespace batch_norm_detail {

using i64 = std::int64_t;
using batch_norm_args::Consts;

constexpr int kLanes = 256;   // threads per block = lanes per chunk (cpu::kCanonLanes)
constexpr i64 kChunk = 1024;  // elements per chunk (cpu::kCanonChunk)
constexpr int kSteps = 4;     // sequential steps per lane (cpu::kCanonSteps)
static_assert(kLanes == cpu::kCanonLanes && kChunk == cpu::kCanonChunk &&
                  kSteps == cpu::kCanonSteps,
              "the GPU kernels implement the canonical shape of canonical_sum.h");
constexpr int kMaxBlocks = 16384;

template <class T>
struct SumPol {
  using Acc = T;
  __host__ __device__ static T op(T a, T b) { return a + b; }
};

/// Offset of logical element k of channel c in the (N, C, S) data.
__host__ __device__ inline i64 elem_offset(const BatchNormGeom& g, i64 c, i64 k) {
  return ((k / g.S) * g.C + c) * g.S + k % g.S;
}

/// What a pass sums per element (v[0], and v[1] for the gradients), for both modes:
///   kX:    x;
///   kSq:   d * d, d = x - mean: mean = stat0[c] / n_t when stat0 holds the atomic sums (Fast),
///          else the value `mean` (Deterministic: the block's own, in every thread);
///   kGrad: g and g * xhat, xhat = (x - stat0[c]) * inv_std(stat1[c], eps).
enum class Pass { kX, kSq, kGrad };
template <class T>
struct Src {
  Pass pass;
  const T* x;
  const T* grad;
  const T* stat0;
  const T* stat1;
  T mean;
  T n_t;
  T eps;
  /// K == 1: kX or kSq; K == 2: kGrad.
  template <int K>
  __host__ __device__ void load(i64 c, i64 off, T (&v)[K]) const {
    if constexpr (K == 1) {
      if (pass == Pass::kX) {
        v[0] = x[off];
      } else {
        const T d = x[off] - (stat0 ? stat0[c] / n_t : mean);
        v[0] = d * d;
      }
    } else {
      const T inv = batch_norm_args::inv_std(stat1[c], eps);
      v[0] = grad[off];
      v[1] = grad[off] * ((x[off] - stat0[c]) * inv);
    }
  }
};

/// The canonical sums of K ranges of channel c by the calling block (all its threads call it);
/// part: this channel's scratch, K rows of stride m1 = ceil(n / 1024) (unused when m1 == 1);
/// sh: the alternating tree buffers; res: (K,) shared. Returns the sums in every thread.
template <class T, int K>
__device__ void block_canon_sums(const Src<T>& src, const BatchNormGeom& g, i64 c, T* part, i64 m1,
                                 T (*sh)[kLanes], int& buf, T* res, T* out) {
  const int j = static_cast<int>(threadIdx.x);
  const i64 n = g.n();
  i64 len = n;
  for (bool first = true;; first = false) {
    const i64 m = (len + kChunk - 1) / kChunk;
    for (i64 ch = 0; ch < m; ++ch) {
      T p[K];
      for (int q = 0; q < K; ++q) p[q] = T(0);
      DITTO_UNROLL
      for (int t = 0; t < kSteps; ++t) {
        const i64 k = ch * kChunk + t * kLanes + j;
        if (k >= len) continue;
        T v[K];
        if (first) {
          src.load(c, elem_offset(g, c, k), v);
        } else {
          for (int q = 0; q < K; ++q) v[q] = part[q * m1 + k];
        }
        for (int q = 0; q < K; ++q) p[q] = p[q] + v[q];
      }
      for (int q = 0; q < K; ++q) {
        p[q] = block_tree<SumPol<T>>(p[q], sh[buf]);
        buf ^= 1;
        if (j == 0) {
          if (m == 1)
            res[q] = p[q];
          else
            part[q * m1 + ch] = p[q];
        }
      }
    }
    __syncthreads();  // this level's partials (or res) are visible to the whole block
    if (m == 1) break;
    len = m;
  }
  for (int q = 0; q < K; ++q) out[q] = res[q];
  __syncthreads();  // every thread has read res before the block's next call writes it
}

/// Deterministic training statistics: block per channel; mean, var and the running update.
template <class T>
__global__ void __launch_bounds__(kLanes)
    stats_kernel(const T* x, BatchNormGeom g, Consts<T> k, T* part, i64 m1, T* mean, T* var, T* rm,
                 T* rv) {
  __shared__ T sh[2][kLanes];  // (2, 256) alternating tree buffers
  __shared__ T res[1];
  int buf = 0;
  for (i64 c = blockIdx.x; c < g.C; c += gridDim.x) {
    T* pc = part ? part + c * m1 : nullptr;
    T s[1];
    const Src<T> src{Pass::kX, x, nullptr, nullptr, nullptr, T(0), k.n_t, k.eps};
    block_canon_sums<T, 1>(src, g, c, pc, m1, sh, buf, res, s);
    const T mu = s[0] / k.n_t;  // in every thread
    const Src<T> sq{Pass::kSq, x, nullptr, nullptr, nullptr, mu, k.n_t, k.eps};
    T ss[1];
    block_canon_sums<T, 1>(sq, g, c, pc, m1, sh, buf, res, ss);
    if (threadIdx.x == 0) {
      mean[c] = mu;
      var[c] = ss[0] / k.n_t;
      if (rm) batch_norm_args::update_running(k, mu, ss[0], rm + c, rv + c);
    }
  }
}

/// Deterministic gradient sums: block per channel; db[c] = canon(g), dw[c] = canon(g * xhat).
template <class T>
__global__ void __launch_bounds__(kLanes)
    grad_stats_kernel(Src<T> src, BatchNormGeom g, T* part, i64 m1, T* db, T* dw) {
  __shared__ T sh[2][kLanes];  // (2, 256) alternating tree buffers
  __shared__ T res[2];
  int buf = 0;
  for (i64 c = blockIdx.x; c < g.C; c += gridDim.x) {
    T s[2];
    block_canon_sums<T, 2>(src, g, c, part ? part + c * 2 * m1 : nullptr, m1, sh, buf, res, s);
    if (threadIdx.x == 0) {
      db[c] = s[0];
      dw[c] = s[1];
    }
  }
}

/// Fast sums: work item (channel c, slice sl) of `slices` per channel; the block's threads sum
/// the slice in any order, then thread 0 adds the block's partial to out_q[c] with atomicAdd.
template <class T, int K>
__global__ void __launch_bounds__(kLanes)
    fast_sums_kernel(Src<T> src, BatchNormGeom g, i64 slices, T* out0, T* out1) {
  __shared__ T sh[2][K][kLanes / 32];  // (2, K, warps) warp partials, alternating per item
  const int j = static_cast<int>(threadIdx.x);
  const i64 n = g.n();
  int buf = 0;
  for (i64 item = blockIdx.x; item < g.C * slices; item += gridDim.x, buf ^= 1) {
    const i64 c = item / slices, sl = item % slices;
    const i64 k0 = n * sl / slices, k1 = n * (sl + 1) / slices;
    T a[K];
    for (int q = 0; q < K; ++q) a[q] = T(0);
    for (i64 k = k0 + j; k < k1; k += kLanes) {
      T v[K];
      src.load(c, elem_offset(g, c, k), v);
      for (int q = 0; q < K; ++q) a[q] += v[q];
    }
    for (int q = 0; q < K; ++q) {
      DITTO_UNROLL
      for (int w = 16; w >= 1; w /= 2) a[q] += __shfl_xor_sync(kFullMask, a[q], w);
      if ((j & 31) == 0) sh[buf][q][j / 32] = a[q];
    }
    __syncthreads();
    if (j == 0) {
      for (int q = 0; q < K; ++q) {
        T b = sh[buf][q][0];
        for (int w = 1; w < kLanes / 32; ++w) b += sh[buf][q][w];
        atomicAdd((q == 0 ? out0 : out1) + c, b);  // order across blocks: completion (Fast)
      }
    }
  }
}

/// Fast training statistics from the atomic sums: thread per channel.
template <class T>
__global__ void finalize_kernel(const T* sum, const T* ss, i64 C, Consts<T> k, T* mean, T* var,
                                T* rm, T* rv) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 c = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += step) {
    const T mu = sum[c] / k.n_t;
    mean[c] = mu;
    var[c] = ss[c] / k.n_t;
    if (rm) batch_norm_args::update_running(k, mu, ss[c], rm + c, rv + c);
  }
}

/// y = normalize(x, mean, inv_std(var)) per element (inv_std recomputed per element: the same
/// operations as once per channel, so the same bits).
template <class T>
__global__ void normalize_kernel(const T* x, BatchNormGeom g, const T* mean, const T* var,
                                 const T* w, const T* b, T eps, T* y, i64 total) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const i64 c = (i / g.S) % g.C;
    const T inv = batch_norm_args::inv_std(var[c], eps);
    y[i] = batch_norm_args::normalize(x[i], mean[c], inv, w ? w[c] : T(1), b ? b[c] : T(0),
                                      b != nullptr);
  }
}

/// dx per element (kernels/batch_norm.h): training a * ((g - db / n_t) - xhat * (dw / n_t)),
/// eval g * a, a = w * inv_std.
template <class T>
__global__ void dx_kernel(const T* grad, const T* x, BatchNormGeom g, Consts<T> k, const T* mean,
                          const T* var, const T* w, const T* db, const T* dw, bool training, T* dx,
                          i64 total) {
  const i64 step = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 i = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const i64 c = (i / g.S) % g.C;
    const T inv = batch_norm_args::inv_std(var[c], k.eps);
    const T a = (w ? w[c] : T(1)) * inv;
    if (training) {
      const T xhat = (x[i] - mean[c]) * inv;
      dx[i] = batch_norm_args::dx_train(grad[i], xhat, a, db[c] / k.n_t, dw[c] / k.n_t);
    } else {
      dx[i] = grad[i] * a;
    }
  }
}

inline i64 chunks_of(i64 n) { return (n + kChunk - 1) / kChunk; }

/// Slices per channel in Fast mode: about 1024 work items in all, none below 8 * 256 values.
inline i64 fast_slices(const BatchNormGeom& g) {
  const i64 by_size = std::max<i64>(1, g.n() / (8 * kLanes));
  return std::clamp<i64>(1024 / std::max<i64>(1, g.C), 1, by_size);
}

template <class T>
T* ptr(const View& v) {
  return static_cast<T*>(v.data);
}

/// The per-channel sums of `src` into out0 (and out1 for K == 2), in `mode`. Deterministic: one
/// launch; Fast: two (zero, atomic sums).
template <class T, int K>
void channel_sums(Mode mode, const Src<T>& src, const BatchNormGeom& g, T* out0, T* out1) {
  if (mode == Mode::Fast) {
    launch_1d(zero_kernel<T>, g.C, out0, g.C);
    if (K == 2) launch_1d(zero_kernel<T>, g.C, out1, g.C);
    const i64 slices = fast_slices(g);
    ditto::gpu::launch(fast_sums_kernel<T, K>, dim3(pick_blocks(g.C * slices, 1, kMaxBlocks)),
                       dim3(kLanes), 0, src, g, slices, out0, out1);
    return;
  }
  const i64 m1 = chunks_of(g.n());
  Scratch part(this_device(), m1 > 1 ? static_cast<std::size_t>(g.C * K * m1) * sizeof(T) : 1);
  ditto::gpu::launch(grad_stats_kernel<T>, dim3(pick_blocks(g.C, 1, kMaxBlocks)), dim3(kLanes), 0,
                     src, g, m1 > 1 ? part.get<T>() : nullptr, m1, out0, out1);
  ditto::gpu::device_synchronize();  // before the scratch buffer is freed
}

}  // namespace batch_norm_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/batch_norm.cu, kernels/sim/batch_norm_sim.cpp).

/// See kernels/batch_norm.h. Deterministic: two launches (stats, normalise); Fast: five (zero,
/// atomic sums of x, atomic sums of d * d, finalise, normalise).
void batch_norm_forward_train(Mode mode, const BatchNormGeom& g, const BatchNormParams& p,
                              const View& x, const View& weight, const View& bias, const View& y,
                              const View& mean, const View& var, const View& running_mean,
                              const View& running_var) {
  using namespace batch_norm_detail;
  batch_norm_args::check_forward_train(g, x, weight, bias, y, mean, var, running_mean, running_var);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Consts<T> k = batch_norm_args::consts<T>(g, p);
    T* rm = ptr<T>(running_mean);
    T* rv = ptr<T>(running_var);
    if (mode == Mode::Fast) {
      Scratch acc(this_device(), static_cast<std::size_t>(2 * g.C) * sizeof(T));  // (2, C)
      T* sum = acc.get<T>();
      T* ss = sum + g.C;
      launch_1d(zero_kernel<T>, 2 * g.C, sum, 2 * g.C);
      const i64 slices = fast_slices(g);
      const dim3 grid(pick_blocks(g.C * slices, 1, kMaxBlocks));
      ditto::gpu::launch(fast_sums_kernel<T, 1>, grid, dim3(kLanes), 0,
                         Src<T>{Pass::kX, ptr<T>(x), nullptr, nullptr, nullptr, T(0), k.n_t, k.eps},
                         g, slices, sum, static_cast<T*>(nullptr));
      ditto::gpu::launch(fast_sums_kernel<T, 1>, grid, dim3(kLanes), 0,
                         Src<T>{Pass::kSq, ptr<T>(x), nullptr, sum, nullptr, T(0), k.n_t, k.eps}, g,
                         slices, ss, static_cast<T*>(nullptr));
      launch_1d(finalize_kernel<T>, g.C, static_cast<const T*>(sum), static_cast<const T*>(ss), g.C,
                k, ptr<T>(mean), ptr<T>(var), rm, rv);
      ditto::gpu::device_synchronize();  // before the scratch buffer is freed
    } else {
      const i64 m1 = chunks_of(g.n());
      Scratch part(this_device(), m1 > 1 ? static_cast<std::size_t>(g.C * m1) * sizeof(T) : 1);
      ditto::gpu::launch(stats_kernel<T>, dim3(pick_blocks(g.C, 1, kMaxBlocks)), dim3(kLanes), 0,
                         static_cast<const T*>(ptr<T>(x)), g, k, m1 > 1 ? part.get<T>() : nullptr,
                         m1, ptr<T>(mean), ptr<T>(var), rm, rv);
      ditto::gpu::device_synchronize();  // before the scratch buffer is freed
    }
    const i64 total = x.numel();
    launch_1d(normalize_kernel<T>, total, static_cast<const T*>(ptr<T>(x)), g,
              static_cast<const T*>(ptr<T>(mean)), static_cast<const T*>(ptr<T>(var)),
              static_cast<const T*>(ptr<T>(weight)), static_cast<const T*>(ptr<T>(bias)), k.eps,
              ptr<T>(y), total);
    ditto::gpu::device_synchronize();
  });
}

/// See kernels/batch_norm.h: one launch.
void batch_norm_forward_eval(const BatchNormGeom& g, const BatchNormParams& p, const View& x,
                             const View& running_mean, const View& running_var, const View& weight,
                             const View& bias, const View& y) {
  using namespace batch_norm_detail;
  batch_norm_args::check_forward_eval(g, x, running_mean, running_var, weight, bias, y);
  const i64 total = x.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(normalize_kernel<T>, total, static_cast<const T*>(ptr<T>(x)), g,
              static_cast<const T*>(ptr<T>(running_mean)),
              static_cast<const T*>(ptr<T>(running_var)), static_cast<const T*>(ptr<T>(weight)),
              static_cast<const T*>(ptr<T>(bias)), static_cast<T>(p.eps), ptr<T>(y), total);
    ditto::gpu::device_synchronize();
  });
}

/// See kernels/batch_norm.h. Deterministic: two launches (gradient sums, dx); Fast: four (two
/// zeroings, atomic sums, dx). Without dx the last launch is skipped; in eval without dweight
/// and dbias the sums are.
void batch_norm_backward(Mode mode, bool training, const BatchNormGeom& g, const BatchNormParams& p,
                         const View& grad, const View& x, const View& mean, const View& var,
                         const View& weight, const View& dx, const View& dweight,
                         const View& dbias) {
  using namespace batch_norm_detail;
  batch_norm_args::check_backward(g, grad, x, mean, var, weight, dx, dweight, dbias);
  using batch_norm_args::present;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Consts<T> k = batch_norm_args::consts<T>(g, p);
    // The sums go to dbias / dweight, or to scratch when those are absent.
    Scratch sums(this_device(), static_cast<std::size_t>(2 * g.C) * sizeof(T));  // (2, C)
    T* db = present(dbias) ? ptr<T>(dbias) : sums.get<T>();
    T* dw = present(dweight) ? ptr<T>(dweight) : sums.get<T>() + g.C;
    if (training || present(dweight) || present(dbias)) {
      if (g.n() == 0) {
        launch_1d(zero_kernel<T>, g.C, db, g.C);
        launch_1d(zero_kernel<T>, g.C, dw, g.C);
      } else {
        const Src<T> src{Pass::kGrad, ptr<T>(x), ptr<T>(grad), ptr<T>(mean),
                         ptr<T>(var), T(0),      k.n_t,        k.eps};
        channel_sums<T, 2>(mode, src, g, db, dw);
      }
    }
    const i64 total = x.numel();
    if (present(dx) && total > 0) {
      launch_1d(dx_kernel<T>, total, static_cast<const T*>(ptr<T>(grad)),
                static_cast<const T*>(ptr<T>(x)), g, k, static_cast<const T*>(ptr<T>(mean)),
                static_cast<const T*>(ptr<T>(var)), static_cast<const T*>(ptr<T>(weight)),
                static_cast<const T*>(db), static_cast<const T*>(dw), training, ptr<T>(dx), total);
    }
    ditto::gpu::device_synchronize();  // before the scratch buffer is freed
  });
}

const BatchNormKernels batch_norm_table = {.forward_train = &batch_norm_forward_train,
                                           .forward_eval = &batch_norm_forward_eval,
                                           .backward = &batch_norm_backward};

}  // namespace ditto::kernels::DITTO_GPU_NS
