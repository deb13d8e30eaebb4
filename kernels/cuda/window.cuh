// ditto — GPU window kernels (cuda and sim): im2col and col2im. Interface and canonical order:
// kernels/window.h; bit-exact reference: kernels/cpu/window.cpp.
//
// Every kernel is a grid-stride loop over a flat, row-major element index, so no launch
// configuration or block schedule can reach the arithmetic:
//   im2col_kernel: one thread per cols entry (c, kh, kw, n, oh, ow); reads one element of the
//     (any-strided) input or writes the pad value. No arithmetic.
//   col2im_gather_kernel: Deterministic col2im, one thread per image element (n, c, h, w):
//     acc = +0, then for kh ascending, kw ascending, the one cols entry whose window tap lands on
//     (h, w), if any, is added: the documented sequence, element for element the CPU's, so the
//     bits equal cpu::col2im's.
//   zero_kernel + col2im_scatter_kernel: Fast col2im; zero the image, then one thread per cols
//     entry atomically adds it to its pixel. Overlapping windows make several threads add to one
//     pixel; their order (and so the rounding) is the hardware's, on sim the seeded schedule's.
// Cost note: the gather reads each cols entry once with no atomics, but every thread walks all
// kH*kW taps (most miss when the stride exceeds 1); for stride 1 adjacent threads read adjacent
// cols entries, so the reads coalesce.
#pragma once
#include <cstdint>

#include "core/error.h"
#include "core/mode.h"
#include "kernels/common/window_args.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/window.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace window_detail {

using i64 = std::int64_t;

constexpr int kMaxBlocks = 16384;  // grid cap (256-thread blocks, ~4 elements per thread)

/// Element strides of the (N, C, H, W) input of im2col. POD: passed to kernels by value.
struct InStrides {
  i64 n, c, h, w;
};

/// A cols index (c, kh, kw, n, oh, ow), unflattened from row-major order.
struct ColIndex {
  i64 c, kh, kw, n, oh, ow;
};
__host__ __device__ inline ColIndex unflatten_cols(const WindowGeom& g, i64 i) {
  ColIndex k;
  k.ow = i % g.OW;
  i /= g.OW;
  k.oh = i % g.OH;
  i /= g.OH;
  k.n = i % g.N;
  i /= g.N;
  k.kw = i % g.kW;
  i /= g.kW;
  k.kh = i % g.kH;
  k.c = i / g.kH;
  return k;
}

/// cols[i] = in[n, c, h, w] of the tap, or pad outside the image. `total` = cols entries.
template <class T>
__global__ void im2col_kernel(const T* __restrict__ x, WindowGeom g, InStrides st, T pad,
                              T* __restrict__ cols, i64 total) {
  for (i64 i = first_index(); i < total; i += grid_step()) {
    const ColIndex k = unflatten_cols(g, i);
    const i64 h = k.oh * g.sH - g.pH + k.kh * g.dH;
    const i64 w = k.ow * g.sW - g.pW + k.kw * g.dW;
    const bool inside = h >= 0 && h < g.H && w >= 0 && w < g.W;
    cols[i] = inside ? x[k.n * st.n + k.c * st.c + h * st.h + w * st.w] : pad;
  }
}

/// Deterministic col2im: img[i] for image element i = (n, c, h, w), row-major; the canonical
/// gather of kernels/window.h. `total` = image elements.
template <class T>
__global__ void col2im_gather_kernel(const T* __restrict__ cols, WindowGeom g, T* __restrict__ img,
                                     i64 total) {
  for (i64 i = first_index(); i < total; i += grid_step()) {
    i64 q = i;
    const i64 w = q % g.W;
    q /= g.W;
    const i64 h = q % g.H;
    q /= g.H;
    const i64 c = q % g.C;
    const i64 n = q / g.C;
    T acc = T(0);  // +0: a pixel no window reads stays +0, and -0 inputs sum to +0 (as on cpu)
    window_args::for_taps_onto(g, h, w, [&](i64 kh, i64 kw, i64 oh, i64 ow) {
      acc = acc + cols[((((c * g.kH + kh) * g.kW + kw) * g.N + n) * g.OH + oh) * g.OW + ow];
    });
    img[i] = acc;
  }
}

/// Fast col2im: every cols entry whose tap lies inside the image is atomically added to its
/// pixel, in whatever order the threads get there. `total` = cols entries.
template <class T>
__global__ void col2im_scatter_kernel(const T* __restrict__ cols, WindowGeom g, T* img, i64 total) {
  for (i64 i = first_index(); i < total; i += grid_step()) {
    const ColIndex k = unflatten_cols(g, i);
    const i64 h = k.oh * g.sH - g.pH + k.kh * g.dH;
    const i64 w = k.ow * g.sW - g.pW + k.kw * g.dW;
    if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;  // taps that read padding are dropped
    atomicAdd(img + ((k.n * g.C + k.c) * g.H + h) * g.W + w, cols[i]);
  }
}

/// Launch configuration of a grid-stride kernel over `items` elements (gpu_common.cuh; tests
/// may force the block size).
inline GridStride config_for(i64 items) { return grid_stride_config(items, kMaxBlocks); }

template <class T>
void run_im2col(const WindowGeom& g, const View& in, const View& cols, T pad) {
  const i64 total = cols.numel();
  const InStrides st{in.strides[0], in.strides[1], in.strides[2], in.strides[3]};
  const GridStride cf = config_for(total);
  ditto::gpu::launch(im2col_kernel<T>, dim3(cf.blocks), dim3(cf.threads), 0,
                     static_cast<const T*>(in.data), g, st, pad, static_cast<T*>(cols.data), total);
  ditto::gpu::device_synchronize();
}

template <class T>
void run_col2im(Mode mode, const WindowGeom& g, const View& cols, const View& img) {
  const T* cv = static_cast<const T*>(cols.data);
  T* im = static_cast<T*>(img.data);
  const i64 n_img = img.numel(), n_cols = cols.numel();
  if (mode == Mode::Deterministic) {
    const GridStride cf = config_for(n_img);
    ditto::gpu::launch(col2im_gather_kernel<T>, dim3(cf.blocks), dim3(cf.threads), 0, cv, g, im,
                       n_img);
  } else {
    const GridStride cz = config_for(n_img);
    ditto::gpu::launch(zero_kernel<T>, dim3(cz.blocks), dim3(cz.threads), 0, im, n_img);
    if (n_cols > 0) {
      const GridStride cs = config_for(n_cols);
      ditto::gpu::launch(col2im_scatter_kernel<T>, dim3(cs.blocks), dim3(cs.threads), 0, cv, g, im,
                         n_cols);
    }
  }
  ditto::gpu::device_synchronize();
}

}  // namespace window_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/window.cu, kernels/sim/window_sim.cpp), which implement kernels/window.h.

/// See kernels/window.h: a pure gather, bitwise equal to cpu::im2col.
void im2col(const WindowGeom& g, const View& in, const View& cols, double pad_value) {
  using namespace window_detail;
  window_args::check_im2col(g, in, cols);
  if (cols.numel() == 0) return;
  visit_float(in.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    run_im2col<T>(g, in, cols, static_cast<T>(pad_value));
  });
}

/// See kernels/window.h. Deterministic: the canonical gather, bitwise equal to cpu::col2im for
/// every launch configuration and schedule. Fast: zero + atomic scatter (schedule-dependent bits).
void col2im(Mode mode, const WindowGeom& g, const View& cols, const View& img) {
  using namespace window_detail;
  window_args::check_col2im(g, cols, img);
  if (img.numel() == 0) return;
  visit_float(cols.dtype,
              [&](auto tag) { run_col2im<typename decltype(tag)::type>(mode, g, cols, img); });
}

const WindowKernels window_table = {.im2col = &im2col, .col2im = &col2im};

}  // namespace ditto::kernels::DITTO_GPU_NS
