// ditto — GPU upsampling kernels (cuda and sim; interface and orders: kernels/upsample.h).
// Forward: one thread per output reads its taps (the coordinate rules of
// kernels/common/upsample_args.h, the same functions the CPU kernels call). Backward,
// Deterministic: one thread per input pixel gathers the outputs that read it, oh then ow
// ascending, so neither the grid nor the schedule can change a bit — PyTorch's CUDA backward
// scatters with atomics and has no deterministic variant for bilinear. Fast: zero, then one
// atomicAdd per (output, tap) in arrival order.
#pragma once
#include <cstdint>

#include "kernels/common/dtype_visit.h"
#include "kernels/common/upsample_args.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/upsample.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace upsample_detail {

using i64 = std::int64_t;
using upsample_args::LinearTaps;
using upsample_args::UpsampleSrc;

template <class T>
__global__ void forward_kernel(UpsampleSrc<T> src, T* out, i64 total) {
  const UpsampleGeom& g = src.g;
  for (i64 k = first_index(); k < total; k += grid_step()) {
    const i64 ow = k % g.OW, oh = (k / g.OW) % g.OH, c = (k / (g.OW * g.OH)) % g.C;
    const i64 n = k / (g.OW * g.OH * g.C);
    out[k] = src.at(n, c, oh, ow);
  }
}

template <class T>
__global__ void gather_kernel(UpsampleGeom g, const T* grad, T* dx, i64 total) {
  for (i64 i = first_index(); i < total; i += grid_step()) {
    const i64 w = i % g.W, h = (i / g.W) % g.H, c = (i / (g.W * g.H)) % g.C;
    const i64 n = i / (g.W * g.H * g.C);
    dx[i] = upsample_args::upsample_gather<T>(g, grad, n, c, h, w);
  }
}

template <class T>
__global__ void scatter_kernel(UpsampleGeom g, const T* grad, T* dx, i64 total) {
  for (i64 k = first_index(); k < total; k += grid_step()) {
    const i64 ow = k % g.OW, oh = (k / g.OW) % g.OH;
    T* plane = dx + (k / (g.OW * g.OH)) * g.H * g.W;
    const T gv = grad[k];
    if (!g.bilinear) {
      const i64 sh = upsample_args::nearest_src(oh, g.H, g.OH, g.inv_scale_h);
      const i64 sw = upsample_args::nearest_src(ow, g.W, g.OW, g.inv_scale_w);
      atomicAdd(plane + sh * g.W + sw, gv);
      continue;
    }
    const LinearTaps<T> th =
        upsample_args::linear_src<T>(oh, g.H, g.OH, g.align_corners, g.inv_scale_h);
    const LinearTaps<T> tw =
        upsample_args::linear_src<T>(ow, g.W, g.OW, g.align_corners, g.inv_scale_w);
    atomicAdd(plane + th.i0 * g.W + tw.i0, (th.l0 * tw.l0) * gv);
    atomicAdd(plane + th.i0 * g.W + tw.i1, (th.l0 * tw.l1) * gv);
    atomicAdd(plane + th.i1 * g.W + tw.i0, (th.l1 * tw.l0) * gv);
    atomicAdd(plane + th.i1 * g.W + tw.i1, (th.l1 * tw.l1) * gv);
  }
}

}  // namespace upsample_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/upsample.cu, kernels/sim/upsample_sim.cpp).

/// See kernels/upsample.h: one launch.
void upsample_forward(const UpsampleGeom& g, const View& x, const View& out) {
  using namespace upsample_detail;
  upsample_args::check_forward(g, x, out);
  const i64 total = out.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(forward_kernel<T>, total, upsample_args::upsample_src<T>(g, x),
              static_cast<T*>(out.data), total);
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/upsample.h: Deterministic one launch (a gather), Fast two (zero, atomic scatter).
void upsample_backward(Mode mode, const UpsampleGeom& g, const View& grad, const View& dx) {
  using namespace upsample_detail;
  upsample_args::check_backward(g, grad, dx);
  const i64 pixels = dx.numel(), outputs = grad.numel();
  if (pixels == 0) return;
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gr = static_cast<const T*>(grad.data);
    T* d = static_cast<T*>(dx.data);
    if (mode == Mode::Deterministic) {
      launch_1d(gather_kernel<T>, pixels, g, gr, d, pixels);
    } else {
      launch_1d(zero_kernel<T>, pixels, d, pixels);
      if (outputs > 0) launch_1d(scatter_kernel<T>, outputs, g, gr, d, outputs);
    }
  });
  ditto::gpu::device_synchronize();
}

const UpsampleKernels upsample_table = {.forward = &upsample_forward,
                                        .backward = &upsample_backward};

}  // namespace ditto::kernels::DITTO_GPU_NS
