// ditto — GPU direct conv kernels (cuda and sim; interface and orders: kernels/conv.h), reading
// the window taps of x in place, so no im2col copy is made and neither the grid nor the schedule
// can change a bit. Forward (bias fused): one launch of the tiled GEMM kernel as an implicit GEMM
// (kernels/cuda/gemm_tile.h; the B tile is staged from x's taps); backward-data and
// backward-weight: every thread runs the canonical chain of one input pixel or one weight element
// (kernels/common/conv_args.h, the same functions as the CPU kernels). Backward-data: one launch;
// backward-weight, Deterministic: one launch, each thread reducing its chains over the batch with
// canonical_serial (the tree's shape depends on N alone); Fast: zero, then one thread per
// (weight element, slice of kSlice positions) adding its chain with atomicAdd.
// Cost note (real GPUs, issue 14): one thread per weight element leaves the Deterministic weight
// gradient of a small layer with few threads; a per-block split of the batch that ends in
// block_tree would keep the same order with more parallelism.
#pragma once
#include <cstdint>

#include "kernels/common/conv_args.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/conv.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/cuda/gemm_tile.h"
#include "kernels/cuda/gpu_common.cuh"

namespace ditto::kernels::DITTO_GPU_NS {
namespace conv_detail {

using i64 = std::int64_t;
using conv_args::ConvArgs;
using cpu::CanonSum;
static_assert(conv_args::kMaxBatch == cpu::kCanonSerialMax);

/// Positions (n, oh, ow) per Fast weight-gradient slice.
constexpr i64 kSlice = 1024;

/// The forward pass as the implicit GEMM of the tiled kernel (kernels/cuda/gemm_tile.h): per group
/// b, A = the group's weight rows (Og, Kg) with k = (cg, kh, kw); B[k, j] = tap(n, b*Cg + cg, oh,
/// ow, kh, kw) for j = (n, oh, ow), read from x in place (+0 in the padding — the fma still runs,
/// so every output's chain is ConvArgs::forward_at's); C[i, j] = out[n, b*Og + i, oh, ow] = acc,
/// plus the bias.
template <class T>
struct ConvForwardOps {
  static constexpr bool kCanSplit = false;  // one slice: the canonical chain
  ConvArgs<T> args;
  T* out;  // (N, O, OH, OW)
  __device__ __forceinline__ T a(i64 b, i64 i, i64 k) const {
    const WindowGeom& w = args.g.w;
    const i64 Kg = (w.C / args.g.G) * w.kH * w.kW;
    return args.weight[(b * (args.g.O / args.g.G) + i) * Kg + k];
  }
  __device__ __forceinline__ T b(i64 bt, i64 k, i64 j) const {
    const WindowGeom& w = args.g.w;
    const i64 kk = w.kH * w.kW, Q = w.OH * w.OW;
    const i64 cg = k / kk, kh = (k - cg * kk) / w.kW, kw = k - cg * kk - kh * w.kW;
    const i64 n = j / Q, q = j - n * Q, oh = q / w.OW, ow = q - oh * w.OW;
    return args.tap(n, bt * (w.C / args.g.G) + cg, oh, ow, kh, kw);
  }
  __device__ __forceinline__ void store(i64 b, i64 i, i64 j, T acc) const {
    const WindowGeom& w = args.g.w;
    const i64 Q = w.OH * w.OW, n = j / Q, o = b * (args.g.O / args.g.G) + i;
    out[(n * args.g.O + o) * Q + (j - n * Q)] = args.bias != nullptr ? acc + args.bias[o] : acc;
  }
};

template <class T>
__global__ void backward_data_kernel(ConvArgs<T> a, T* dx, i64 total) {
  for (i64 i = first_index(); i < total; i += grid_step()) dx[i] = a.backward_data_flat(i);
}

template <class T>
__global__ void backward_weight_kernel(ConvArgs<T> a, T* dw, i64 total) {
  const i64 Q = a.g.w.OH * a.g.w.OW;
  for (i64 e = first_index(); e < total; e += grid_step()) {
    i64 o, cg, kh, kw;
    a.weight_element(e, o, cg, kh, kw);
    dw[e] = cpu::canonical_serial<T, CanonSum>(
        a.g.w.N, T(0), [&](i64 n) { return a.weight_chain(o, cg, kh, kw, n, 0, Q, T(0)); });
  }
}

/// Fast: item = (weight element, slice); the slice's chain over its positions, then atomicAdd.
template <class T>
__global__ void backward_weight_fast_kernel(ConvArgs<T> a, T* dw, i64 slices, i64 total) {
  const i64 Q = a.g.w.OH * a.g.w.OW, P = a.g.w.N * Q;
  for (i64 it = first_index(); it < total; it += grid_step()) {
    const i64 e = it / slices, s = it % slices;
    i64 o, cg, kh, kw;
    a.weight_element(e, o, cg, kh, kw);
    const i64 p0 = s * kSlice, p1 = p0 + kSlice < P ? p0 + kSlice : P;
    T p = T(0);
    for (i64 n = p0 / Q; n * Q < p1; ++n) {
      const i64 q0 = p0 > n * Q ? p0 - n * Q : 0, q1 = p1 < (n + 1) * Q ? p1 - n * Q : Q;
      p = a.weight_chain(o, cg, kh, kw, n, q0, q1, p);
    }
    atomicAdd(dw + e, p);
  }
}

}  // namespace conv_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/conv.cu, kernels/sim/conv_sim.cpp).

/// See kernels/conv.h: one launch (the tiled implicit GEMM over every group), the bias added in
/// it.
void conv_forward(const ConvGeom& g, const View& x, const View& weight, const View& bias,
                  const View& out) {
  using namespace conv_detail;
  conv_args::check_forward(g, x, weight, bias, out);
  if (out.numel() == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const WindowGeom& w = g.w;
    const i64 M = g.O / g.G, N = w.N * w.OH * w.OW, K = (w.C / g.G) * w.kH * w.kW;
    const gemm_tile::TileConfig cfg = gemm_tile::choose_tile(g.G, M, N);
    gemm_tile::TiledParams<ConvForwardOps<T>> p{};
    p.ops = {conv_args::conv_args_of<T>(g, x, weight, &bias, nullptr), static_cast<T*>(out.data)};
    p.batch = g.G;
    p.M = M;
    p.N = N;
    p.K = K;
    p.tiles_m = (M + cfg.bm - 1) / cfg.bm;
    p.tiles_n = (N + cfg.bn - 1) / cfg.bn;
    p.slices = 1;
    p.slice_len = K;
    p.a_k_fast = true;  // a weight row is contiguous along k
    p.b_j_fast = true;  // neighbouring j are neighbouring ow
    gemm_tile::launch_tiled<T>(p, cfg, false);
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/conv.h: one launch (a gather).
void conv_backward_data(const ConvGeom& g, const View& grad, const View& weight, const View& dx) {
  using namespace conv_detail;
  conv_args::check_backward_data(g, grad, weight, dx);
  const i64 total = dx.numel();
  if (total == 0) return;
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(backward_data_kernel<T>, total,
              conv_args::conv_args_of<T>(g, dx, weight, nullptr, &grad), static_cast<T*>(dx.data),
              total);
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/conv.h: Deterministic one launch, Fast two (zero, atomic slices).
void conv_backward_weight(Mode mode, const ConvGeom& g, const View& x, const View& grad,
                          const View& dw) {
  using namespace conv_detail;
  conv_args::check_backward_weight(g, x, grad, dw);
  const i64 total = dw.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args::conv_args_of<T>(g, x, dw, nullptr, &grad);
    T* d = static_cast<T*>(dw.data);
    if (mode == Mode::Deterministic) {
      launch_1d(backward_weight_kernel<T>, total, a, d, total);
    } else {
      launch_1d(zero_kernel<T>, total, d, total);
      const i64 P = g.w.N * g.w.OH * g.w.OW, slices = (P + kSlice - 1) / kSlice;
      if (slices > 0)
        launch_1d(backward_weight_fast_kernel<T>, total * slices, a, d, slices, total * slices);
    }
  });
  ditto::gpu::device_synchronize();
}

const ConvKernels conv_table = {.forward = &conv_forward,
                                .backward_data = &conv_backward_data,
                                .backward_weight = &conv_backward_weight};

}  // namespace ditto::kernels::DITTO_GPU_NS
