// ditto — GPU pooling kernels (cuda and sim; interface and orders: kernels/pool.h). Forward:
// one thread per output reduces its window's taps with canonical_serial, the canonical order
// (the same function the CPU kernels call), so neither the grid nor the block size nor the
// schedule can change a bit. Backward, Deterministic: one thread per input pixel gathers the
// taps (kh, kw) ascending; Fast: zero, then one atomicAdd per (output, tap) in arrival order.
#pragma once
#include <cstdint>
#include <limits>

#include "kernels/common/dtype_visit.h"
#include "kernels/common/pool_args.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/pool.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace pool_detail {

using i64 = std::int64_t;
using cpu::CanonMax;
using cpu::CanonSum;
static_assert(pool_args::kMaxTaps == cpu::kCanonSerialMax);

using pool_args::Taps;
using pool_args::taps_of;

/// Output index k -> (n, c, oh, ow).
__device__ __forceinline__ void unflatten_out(const WindowGeom& g, i64 k, i64& n, i64& c, i64& oh,
                                              i64& ow) {
  ow = k % g.OW;
  k /= g.OW;
  oh = k % g.OH;
  k /= g.OH;
  c = k % g.C;
  n = k / g.C;
}

template <class T>
__global__ void max_forward_kernel(Taps<T> tp, T* out, i64* arg, i64 total, T e) {
  const WindowGeom& g = tp.g;
  const i64 taps = g.kH * g.kW;
  for (i64 k = first_index(); k < total; k += grid_step()) {
    i64 n, c, oh, ow;
    unflatten_out(g, k, n, c, oh, ow);
    out[k] =
        cpu::canonical_serial<T, CanonMax>(taps, e, [&](i64 t) { return tp.at(n, c, oh, ow, t); });
    if (arg == nullptr) continue;
    arg[k] = pool_args::first_max_tap(tp, n, c, oh, ow);
  }
}

template <class T>
__global__ void avg_forward_kernel(Taps<T> tp, const T* divisor, T* out, i64 total) {
  const WindowGeom& g = tp.g;
  for (i64 k = first_index(); k < total; k += grid_step()) {
    i64 n, c, oh, ow;
    unflatten_out(g, k, n, c, oh, ow);
    const T s = cpu::canonical_serial<T, CanonSum>(g.kH * g.kW, T(0),
                                                   [&](i64 t) { return tp.at(n, c, oh, ow, t); });
    out[k] = s / divisor[oh * g.OW + ow];
  }
}

/// The Deterministic gather: pixel i = (n, c, h, w) sums share(output, tap) over its taps (kh, kw)
/// ascending whose window exists, from +0. max: share = arg == t ? grad : +0; avg: grad / div.
template <class T, bool kMax>
__global__ void gather_kernel(WindowGeom g, const T* grad, const i64* arg, const T* divisor, T* dx,
                              i64 total) {
  for (i64 i = first_index(); i < total; i += grid_step()) {
    i64 q = i;
    const i64 w = q % g.W;
    q /= g.W;
    const i64 h = q % g.H;
    q /= g.H;
    const i64 c = q % g.C;
    const i64 n = q / g.C;
    T acc = T(0);
    window_args::for_taps_onto(g, h, w, [&](i64 kh, i64 kw, i64 oh, i64 ow) {
      const i64 k = ((n * g.C + c) * g.OH + oh) * g.OW + ow;
      if constexpr (kMax)
        acc = acc + (arg[k] == kh * g.kW + kw ? grad[k] : T(0));
      else
        acc = acc + grad[k] / divisor[oh * g.OW + ow];
    });
    dx[i] = acc;
  }
}

/// Fast backward: every output adds its share to its pixels (max: the arg tap only) with
/// atomicAdd, in whatever order the threads arrive.
template <class T, bool kMax>
__global__ void scatter_kernel(WindowGeom g, const T* grad, const i64* arg, const T* divisor, T* dx,
                               i64 total) {
  for (i64 k = first_index(); k < total; k += grid_step()) {
    i64 n, c, oh, ow;
    unflatten_out(g, k, n, c, oh, ow);
    const i64 t0 = kMax ? arg[k] : 0, t1 = kMax ? arg[k] + 1 : g.kH * g.kW;
    const T share = kMax ? grad[k] : grad[k] / divisor[oh * g.OW + ow];
    for (i64 t = t0; t < t1; ++t) {
      const i64 kh = t / g.kW, kw = t - kh * g.kW;
      const i64 h = oh * g.sH - g.pH + kh * g.dH, w = ow * g.sW - g.pW + kw * g.dW;
      if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;  // padding taps get nothing
      atomicAdd(dx + ((n * g.C + c) * g.H + h) * g.W + w, share);
    }
  }
}

template <class T, bool kMax>
void backward(Mode mode, const WindowGeom& g, const View& grad, const i64* arg, const T* divisor,
              const View& dx) {
  const T* gr = static_cast<const T*>(grad.data);
  T* d = static_cast<T*>(dx.data);
  const i64 pixels = dx.numel(), outputs = grad.numel();
  if (pixels == 0) return;
  if (mode == Mode::Deterministic) {
    launch_1d(gather_kernel<T, kMax>, pixels, g, gr, arg, divisor, d, pixels);
  } else {
    launch_1d(zero_kernel<T>, pixels, d, pixels);
    if (outputs > 0) launch_1d(scatter_kernel<T, kMax>, outputs, g, gr, arg, divisor, d, outputs);
  }
  ditto::gpu::device_synchronize();
}

// ---- adaptive pools: one thread per output forward, per pixel for the gather ----

using pool_args::AdaptiveSrc;
using pool_args::AdaptiveWindow;

__device__ __forceinline__ void unflatten_adaptive(const AdaptiveGeom& g, i64 k, i64& n, i64& c,
                                                   i64& a, i64& b, i64 A, i64 B) {
  b = k % B;
  k /= B;
  a = k % A;
  k /= A;
  c = k % g.C;
  n = k / g.C;
}

template <class T, bool kMax>
__global__ void adaptive_forward_kernel(AdaptiveSrc<T> src, T* out, i64* arg, i64 total, T e) {
  const AdaptiveGeom& g = src.g;
  for (i64 k = first_index(); k < total; k += grid_step()) {
    i64 n, c, oh, ow;
    unflatten_adaptive(g, k, n, c, oh, ow, g.OH, g.OW);
    const AdaptiveWindow<T> win = src.window(n, c, oh, ow);
    if constexpr (kMax) {
      out[k] = cpu::canonical_serial<T, CanonMax>(win.len, e, [&](i64 t) { return win.at(t); });
      if (arg != nullptr) arg[k] = pool_args::adaptive_first_max(win, g.W);
    } else {
      out[k] = cpu::canonical_serial<T, CanonSum>(win.len, e, [&](i64 t) { return win.at(t); }) /
               pool_args::adaptive_taps<T>(g, oh, ow);
    }
  }
}

template <class T, bool kMax>
__global__ void adaptive_gather_kernel(AdaptiveGeom g, const T* grad, const i64* arg, T* dx,
                                       i64 total) {
  for (i64 i = first_index(); i < total; i += grid_step()) {
    i64 n, c, h, w;
    unflatten_adaptive(g, i, n, c, h, w, g.H, g.W);
    dx[i] = pool_args::adaptive_gather<T, kMax>(g, grad, arg, n, c, h, w);
  }
}

/// Fast: every output adds its share to its pixels (max: the arg pixel only) with atomicAdd.
template <class T, bool kMax>
__global__ void adaptive_scatter_kernel(AdaptiveGeom g, const T* grad, const i64* arg, T* dx,
                                        i64 total) {
  for (i64 k = first_index(); k < total; k += grid_step()) {
    i64 n, c, oh, ow;
    unflatten_adaptive(g, k, n, c, oh, ow, g.OH, g.OW);
    T* plane = dx + (n * g.C + c) * g.H * g.W;
    if constexpr (kMax) {
      atomicAdd(plane + arg[k], grad[k]);
    } else {
      const T share = grad[k] / pool_args::adaptive_taps<T>(g, oh, ow);
      const i64 h1 = pool_args::adaptive_end(oh, g.H, g.OH);
      const i64 w0 = pool_args::adaptive_start(ow, g.W, g.OW);
      const i64 w1 = pool_args::adaptive_end(ow, g.W, g.OW);
      for (i64 h = pool_args::adaptive_start(oh, g.H, g.OH); h < h1; ++h) {
        for (i64 w = w0; w < w1; ++w) atomicAdd(plane + h * g.W + w, share);
      }
    }
  }
}

template <class T, bool kMax>
void adaptive_backward(Mode mode, const AdaptiveGeom& g, const View& grad, const i64* arg,
                       const View& dx) {
  const T* gr = static_cast<const T*>(grad.data);
  T* d = static_cast<T*>(dx.data);
  const i64 pixels = dx.numel(), outputs = grad.numel();
  if (pixels == 0) return;
  if (mode == Mode::Deterministic) {
    launch_1d(adaptive_gather_kernel<T, kMax>, pixels, g, gr, arg, d, pixels);
  } else {
    launch_1d(zero_kernel<T>, pixels, d, pixels);
    if (outputs > 0) launch_1d(adaptive_scatter_kernel<T, kMax>, outputs, g, gr, arg, d, outputs);
  }
  ditto::gpu::device_synchronize();
}

}  // namespace pool_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/pool.cu, kernels/sim/pool_sim.cpp).

/// See kernels/pool.h: one launch.
void max_forward(const WindowGeom& g, const View& x, const View& out, const View& arg) {
  using namespace pool_detail;
  pool_args::check_max_forward(g, x, out, arg);
  const i64 total = out.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T ninf = -std::numeric_limits<T>::infinity();  // CanonMax's identity and the padding
    launch_1d(max_forward_kernel<T>, total, taps_of<T>(g, x, ninf), static_cast<T*>(out.data),
              static_cast<i64*>(arg.data), total, ninf);
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/pool.h: Deterministic one launch (a gather), Fast two (zero, atomic scatter).
void max_backward(Mode mode, const WindowGeom& g, const View& grad, const View& arg,
                  const View& dx) {
  using namespace pool_detail;
  pool_args::check_max_backward(g, grad, arg, dx);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward<T, true>(mode, g, grad, static_cast<const i64*>(arg.data), nullptr, dx);
  });
}

/// See kernels/pool.h: one launch.
void avg_forward(const WindowGeom& g, const View& x, const View& divisor, const View& out) {
  using namespace pool_detail;
  pool_args::check_avg_forward(g, x, divisor, out);
  const i64 total = out.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(avg_forward_kernel<T>, total, taps_of<T>(g, x, T(0)),
              static_cast<const T*>(divisor.data), static_cast<T*>(out.data), total);
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/pool.h: Deterministic one launch (a gather), Fast two (zero, atomic scatter).
void avg_backward(Mode mode, const WindowGeom& g, const View& grad, const View& divisor,
                  const View& dx) {
  using namespace pool_detail;
  pool_args::check_avg_backward(g, grad, divisor, dx);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward<T, false>(mode, g, grad, nullptr, static_cast<const T*>(divisor.data), dx);
  });
}

/// See kernels/pool.h: one launch.
void adaptive_max_forward(const AdaptiveGeom& g, const View& x, const View& out, const View& arg) {
  using namespace pool_detail;
  pool_args::check_adaptive_io("adaptive_max_pool2d", g, x, true, out, &arg);
  const i64 total = out.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(adaptive_forward_kernel<T, true>, total, pool_args::adaptive_src<T>(g, x),
              static_cast<T*>(out.data), static_cast<i64*>(arg.data), total,
              -std::numeric_limits<T>::infinity());
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/pool.h: Deterministic one launch (a gather), Fast two (zero, atomic scatter).
void adaptive_max_backward(Mode mode, const AdaptiveGeom& g, const View& grad, const View& arg,
                           const View& dx) {
  using namespace pool_detail;
  pool_args::check_adaptive_io("adaptive_max_pool2d backward", g, grad, false, dx, &arg);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    adaptive_backward<T, true>(mode, g, grad, static_cast<const i64*>(arg.data), dx);
  });
}

/// See kernels/pool.h: one launch.
void adaptive_avg_forward(const AdaptiveGeom& g, const View& x, const View& out) {
  using namespace pool_detail;
  pool_args::check_adaptive_io("adaptive_avg_pool2d", g, x, true, out, nullptr);
  const i64 total = out.numel();
  if (total == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_1d(adaptive_forward_kernel<T, false>, total, pool_args::adaptive_src<T>(g, x),
              static_cast<T*>(out.data), static_cast<i64*>(nullptr), total, T(0));
  });
  ditto::gpu::device_synchronize();
}

/// See kernels/pool.h: Deterministic one launch (a gather), Fast two (zero, atomic scatter).
void adaptive_avg_backward(Mode mode, const AdaptiveGeom& g, const View& grad, const View& dx) {
  using namespace pool_detail;
  pool_args::check_adaptive_io("adaptive_avg_pool2d backward", g, grad, false, dx, nullptr);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    adaptive_backward<T, false>(mode, g, grad, nullptr, dx);
  });
}

const PoolKernels pool_table = {.max_forward = &max_forward,
                                .max_backward = &max_backward,
                                .avg_forward = &avg_forward,
                                .avg_backward = &avg_backward,
                                .adaptive_max_forward = &adaptive_max_forward,
                                .adaptive_max_backward = &adaptive_max_backward,
                                .adaptive_avg_forward = &adaptive_avg_forward,
                                .adaptive_avg_backward = &adaptive_avg_backward};

}  // namespace ditto::kernels::DITTO_GPU_NS
