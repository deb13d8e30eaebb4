// ditto — CPU window kernels: im2col and col2im (interface and canonical order: kernels/window.h).
//
// im2col is a pure gather: one task = one cols row (c, kh, kw, n, oh) of OW entries, split into
// the left padding, the strided copy from the input row, and the right padding. Tasks write
// disjoint rows, so the thread count cannot change a bit.
//
// col2im, Deterministic: the gather of kernels/window.h, one task = one image row (n, c, h). The
// row starts at +0; then for kh ascending (when tap kh of some window row lands on h), for kw
// ascending, every w of the row that tap (kh, kw) reaches gets its one cols entry added. For each
// image element that is exactly the documented sequence acc = +0, acc = acc + cols[...] over
// (kh, kw) in row-major order, only interleaved with the other elements of the row (which
// vectorises); rows are disjoint, so bits are independent of the thread count.
//
// col2im, Fast: what a scatter implementation does: zero the image, then walk cols in memory order
// (c, kh, kw, n, oh, ow) adding each entry to the pixel it came from. Threads own whole channels,
// so no two threads write the same element and no atomics are needed. (On the CPU this visits each
// pixel's contributions in (kh, kw) order too, so it happens to give the deterministic bits; the
// GPU's atomic scatter does not.)
#include "kernels/window.h"

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/level.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/error.h"
#include "core/threads.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/window_args.h"
#include "kernels/cpu/parallel.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;

/// The window positions [lo, hi) along one axis whose tap at offset `off` (= k*d - p) lands
/// inside [0, size): off + o*s in [0, size), 0 <= o < out.
struct Range {
  i64 lo, hi;
};
Range valid_positions(i64 off, i64 s, i64 size, i64 out) {
  const i64 lo = off >= 0 ? 0 : (-off + s - 1) / s;               // first o with off + o*s >= 0
  const i64 hi = size - off <= 0 ? 0 : (size - off + s - 1) / s;  // first o with off + o*s >= size
  const i64 l = std::min(lo, out);
  return {l, std::clamp(hi, l, out)};
}

template <class T>
void im2col_t(const WindowGeom& g, const View& in, const View& cols, T pad) {
  const T* x = static_cast<const T*>(in.data);
  T* out = static_cast<T*>(cols.data);  // (C, kH, kW, N, OH, OW)
  const i64 sn = in.strides[0], sc = in.strides[1], sh = in.strides[2], sw = in.strides[3];
  const i64 rows = g.C * g.kH * g.kW * g.N * g.OH;
  parallel_ranges(rows, threads_for(rows * g.OW), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      i64 q = r;
      const i64 oh = q % g.OH;
      q /= g.OH;
      const i64 n = q % g.N;
      q /= g.N;
      const i64 kw = q % g.kW;
      q /= g.kW;
      const i64 kh = q % g.kH;
      const i64 c = q / g.kH;
      T* dst = out + r * g.OW;
      const i64 h = oh * g.sH - g.pH + kh * g.dH;
      if (h < 0 || h >= g.H) {
        std::fill(dst, dst + g.OW, pad);
        continue;
      }
      const i64 w0 = kw * g.dW - g.pW;  // column read by window position ow = 0
      const Range v = valid_positions(w0, g.sW, g.W, g.OW);
      const T* src = x + n * sn + c * sc + h * sh;  // input row (n, c, h)
      std::fill(dst, dst + v.lo, pad);
      for (i64 ow = v.lo; ow < v.hi; ++ow) dst[ow] = src[(w0 + ow * g.sW) * sw];
      std::fill(dst + v.hi, dst + g.OW, pad);
    }
  });
}

template <class T>
void col2im_deterministic(const WindowGeom& g, const View& cols, const View& img) {
  const T* cv = static_cast<const T*>(cols.data);  // (C, kH, kW, N, OH, OW)
  T* im = static_cast<T*>(img.data);               // (N, C, H, W)
  const i64 rows = g.N * g.C * g.H;
  parallel_ranges(rows, threads_for(cols.numel() + rows * g.W), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      const i64 h = r % g.H, c = (r / g.H) % g.C, n = r / (g.H * g.C);
      T* row = im + r * g.W;
      std::fill(row, row + g.W, T(0));  // acc = +0 for every element of the row
      for (i64 kh = 0; kh < g.kH; ++kh) {
        // The window row oh whose tap kh lands on h, if any.
        const i64 t = h + g.pH - kh * g.dH;
        if (t < 0 || t % g.sH != 0 || t / g.sH >= g.OH) continue;
        const i64 oh = t / g.sH;
        for (i64 kw = 0; kw < g.kW; ++kw) {
          const i64 w0 = kw * g.dW - g.pW;
          const Range v = valid_positions(w0, g.sW, g.W, g.OW);
          const T* src = cv + ((((c * g.kH + kh) * g.kW + kw) * g.N + n) * g.OH + oh) * g.OW;
          // Distinct ow reach distinct w, so this loop has no dependence between iterations.
          for (i64 ow = v.lo; ow < v.hi; ++ow) {
            T& acc = row[w0 + ow * g.sW];
            acc = acc + src[ow];
          }
        }
      }
    }
  });
}

template <class T>
void col2im_fast(const WindowGeom& g, const View& cols, const View& img) {
  const T* cv = static_cast<const T*>(cols.data);  // (C, kH, kW, N, OH, OW)
  T* im = static_cast<T*>(img.data);               // (N, C, H, W)
  const i64 plane = g.H * g.W;
  parallel_ranges(g.C, threads_for(cols.numel() + img.numel()), [&](i64 lo, i64 hi) {
    for (i64 c = lo; c < hi; ++c) {
      for (i64 n = 0; n < g.N; ++n) std::fill_n(im + (n * g.C + c) * plane, plane, T(0));
      const T* src = cv + c * g.kH * g.kW * g.N * g.OH * g.OW;
      for (i64 kh = 0; kh < g.kH; ++kh) {
        for (i64 kw = 0; kw < g.kW; ++kw) {
          const i64 w0 = kw * g.dW - g.pW;
          const Range v = valid_positions(w0, g.sW, g.W, g.OW);
          for (i64 n = 0; n < g.N; ++n) {
            T* base = im + (n * g.C + c) * plane;
            for (i64 oh = 0; oh < g.OH; ++oh, src += g.OW) {
              const i64 h = oh * g.sH - g.pH + kh * g.dH;
              if (h < 0 || h >= g.H) continue;  // taps that read padding are dropped
              T* dst = base + h * g.W;
              for (i64 ow = v.lo; ow < v.hi; ++ow) dst[w0 + ow * g.sW] += src[ow];
            }
          }
        }
      }
    }
  });
}

}  // namespace

void im2col(const WindowGeom& g, const View& in, const View& cols, double pad_value) {
  window_args::check_im2col(g, in, cols);
  if (cols.numel() == 0) return;
  visit_float(in.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    im2col_t<T>(g, in, cols, static_cast<T>(pad_value));
  });
}

void col2im(Mode mode, const WindowGeom& g, const View& cols, const View& img) {
  window_args::check_col2im(g, cols, img);
  if (img.numel() == 0) return;
  visit_float(cols.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    mode == Mode::Fast ? col2im_fast<T>(g, cols, img) : col2im_deterministic<T>(g, cols, img);
  });
}

const WindowKernels window_table = {.im2col = &im2col, .col2im = &col2im};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
