// ditto — GPU direct conv kernels (cuda and sim; interface and orders: kernels/conv.h): an
// implicit GEMM — every thread runs the canonical chain of one output, one input pixel or one
// weight element (kernels/common/conv_args.h, the same functions as the CPU kernels), reading
// the window taps of x in place, so no im2col copy is made and neither the grid nor the
// schedule can change a bit. Forward (bias fused): one launch; backward-data: one launch;
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
#include "kernels/cuda/gpu_common.cuh"

namespace ditto::kernels::DITTO_GPU_NS {
namespace conv_detail {

using i64 = std::int64_t;
using conv_args::ConvArgs;
using cpu::CanonSum;
static_assert(conv_args::kMaxBatch == cpu::kCanonSerialMax);

/// Positions (n, oh, ow) per Fast weight-gradient slice.
constexpr i64 kSlice = 1024;

template <class T>
__global__ void forward_kernel(ConvArgs<T> a, T* out, i64 total) {
  const WindowGeom& w = a.g.w;
  for (i64 k = first_index(); k < total; k += grid_step()) {
    const i64 ow = k % w.OW, oh = (k / w.OW) % w.OH, o = (k / (w.OW * w.OH)) % a.g.O;
    out[k] = a.forward_at(k / (w.OW * w.OH * a.g.O), o, oh, ow);
  }
}

template <class T>
__global__ void backward_data_kernel(ConvArgs<T> a, T* dx, i64 total) {
  const WindowGeom& w = a.g.w;
  for (i64 i = first_index(); i < total; i += grid_step()) {
    const i64 wc = i % w.W, h = (i / w.W) % w.H, c = (i / (w.W * w.H)) % w.C;
    dx[i] = a.backward_data_at(i / (w.W * w.H * w.C), c, h, wc);
  }
}

/// Weight element e = (o, cg, kh, kw) of dw, row-major.
__device__ __forceinline__ void unflatten_weight(const ConvGeom& g, i64 e, i64& o, i64& cg, i64& kh,
                                                 i64& kw) {
  const WindowGeom& w = g.w;
  const i64 Cg = w.C / g.G;
  kw = e % w.kW;
  kh = (e / w.kW) % w.kH;
  cg = (e / (w.kW * w.kH)) % Cg;
  o = e / (w.kW * w.kH * Cg);
}

template <class T>
__global__ void backward_weight_kernel(ConvArgs<T> a, T* dw, i64 total) {
  const i64 Q = a.g.w.OH * a.g.w.OW;
  for (i64 e = first_index(); e < total; e += grid_step()) {
    i64 o, cg, kh, kw;
    unflatten_weight(a.g, e, o, cg, kh, kw);
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
    unflatten_weight(a.g, e, o, cg, kh, kw);
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

/// See kernels/conv.h: one launch, the bias added in it.
void conv_forward(const ConvGeom& g, const View& x, const View& weight, const View& bias,
                  const View& out) {
  using namespace conv_detail;
  conv_args::check_forward(g, x, weight, bias, out);
  const i64 total = out.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(forward_kernel<T>, total, conv_args::conv_args_of<T>(g, x, weight, &bias, nullptr),
              static_cast<T*>(out.data), total);
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
