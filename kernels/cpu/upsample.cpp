// ditto — CPU upsampling kernels (interface and orders: kernels/upsample.h). Forward: every output
// from its own taps; backward: the gather of kernels/upsample.h, one pixel at a time. Each output
// and each pixel is computed from its own inputs alone, so the split across threads never
// changes a bit.
#include "kernels/upsample.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/common/dtype_visit.h"
#include "kernels/common/upsample_args.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/parallel.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using upsample_args::LinearTaps;

template <class T>
void forward_t(const UpsampleGeom& g, const View& x, const View& out) {
  const upsample_args::UpsampleSrc<T> src = upsample_args::upsample_src<T>(g, x);
  T* o = static_cast<T*>(out.data);
  const i64 rows = g.N * g.C * g.OH;
  parallel_ranges(rows, threads_for(rows * g.OW * (g.bilinear ? 4 : 1)), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      const i64 oh = r % g.OH, c = (r / g.OH) % g.C, n = r / (g.OH * g.C);
      for (i64 ow = 0; ow < g.OW; ++ow) o[r * g.OW + ow] = src.at(n, c, oh, ow);
    }
  });
}

// One dimension's coordinate tables, computed once per call with upsample_args' functions:
// each output's taps and each input's reader range [lo, hi).
template <class T>
struct AxisTables {
  std::vector<LinearTaps<T>> taps;  // (out,), bilinear only
  std::vector<i64> lo, hi;          // (in,)
  AxisTables(const UpsampleGeom& g, bool rows) {
    const i64 in = rows ? g.H : g.W, out = rows ? g.OH : g.OW;
    const double inv = rows ? g.inv_scale_h : g.inv_scale_w;
    if (g.bilinear) {
      taps.resize(static_cast<std::size_t>(out));
      for (i64 o = 0; o < out; ++o)
        taps[static_cast<std::size_t>(o)] =
            upsample_args::linear_src<T>(o, in, out, g.align_corners, inv);
    }
    lo.resize(static_cast<std::size_t>(in));
    hi.resize(static_cast<std::size_t>(in));
    for (i64 i = 0; i < in; ++i)
      upsample_args::readers_of<T>(g, rows, i, lo[static_cast<std::size_t>(i)],
                                   hi[static_cast<std::size_t>(i)]);
  }
};

// The gather of kernels/upsample.h (upsample_gather_ranges) with the ranges and taps read from
// tables instead of recomputed for every pixel: the same terms in the same order.
template <class T>
void gather_t(const UpsampleGeom& g, const T* gr, T* dx) {
  const AxisTables<T> rt(g, true), ct(g, false);
  auto row_taps = [&](i64 oh) { return rt.taps[static_cast<std::size_t>(oh)]; };
  auto col_taps = [&](i64 ow) { return ct.taps[static_cast<std::size_t>(ow)]; };
  const i64 rows = g.N * g.C * g.H;
  const i64 work = g.N * g.C * (g.H * g.W + g.OH * g.OW * (g.bilinear ? 4 : 1));
  parallel_ranges(rows, threads_for(work), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      const i64 h = r % g.H;
      const T* gp = gr + (r / g.H) * g.OH * g.OW;
      const auto hs = static_cast<std::size_t>(h);
      for (i64 w = 0; w < g.W; ++w) {
        const auto ws = static_cast<std::size_t>(w);
        dx[r * g.W + w] = upsample_args::upsample_gather_ranges<T>(
            g, gp, h, w, rt.lo[hs], rt.hi[hs], ct.lo[ws], ct.hi[ws], row_taps, col_taps);
      }
    }
  });
}

// Fast: a scatter per (n, c) plane in output order (planes are disjoint: no atomics needed on
// the CPU).
template <class T>
void scatter_t(const UpsampleGeom& g, const T* gr, T* dx) {
  // Each output column's source (nearest) or taps (bilinear), once per call, not per output.
  std::vector<i64> near_col(g.bilinear ? 0 : static_cast<std::size_t>(g.OW));
  std::vector<LinearTaps<T>> lin_col(g.bilinear ? static_cast<std::size_t>(g.OW) : 0);
  for (i64 ow = 0; ow < g.OW; ++ow) {
    const auto k = static_cast<std::size_t>(ow);
    if (g.bilinear)
      lin_col[k] = upsample_args::linear_src<T>(ow, g.W, g.OW, g.align_corners, g.inv_scale_w);
    else
      near_col[k] = upsample_args::nearest_src(ow, g.W, g.OW, g.inv_scale_w);
  }
  const i64 planes = g.N * g.C, plane_in = g.H * g.W, plane_out = g.OH * g.OW;
  parallel_ranges(planes, threads_for(planes * (plane_in + plane_out)), [&](i64 lo, i64 hi) {
    for (i64 p = lo; p < hi; ++p) {
      T* d = dx + p * plane_in;
      const T* gp = gr + p * plane_out;
      std::fill(d, d + plane_in, T(0));
      for (i64 oh = 0; oh < g.OH; ++oh) {
        if (!g.bilinear) {
          const i64 sh = upsample_args::nearest_src(oh, g.H, g.OH, g.inv_scale_h);
          for (i64 ow = 0; ow < g.OW; ++ow)
            d[sh * g.W + near_col[static_cast<std::size_t>(ow)]] += gp[oh * g.OW + ow];
          continue;
        }
        const LinearTaps<T> th =
            upsample_args::linear_src<T>(oh, g.H, g.OH, g.align_corners, g.inv_scale_h);
        for (i64 ow = 0; ow < g.OW; ++ow) {
          const LinearTaps<T>& tw = lin_col[static_cast<std::size_t>(ow)];
          const T gv = gp[oh * g.OW + ow];
          d[th.i0 * g.W + tw.i0] += (th.l0 * tw.l0) * gv;
          d[th.i0 * g.W + tw.i1] += (th.l0 * tw.l1) * gv;
          d[th.i1 * g.W + tw.i0] += (th.l1 * tw.l0) * gv;
          d[th.i1 * g.W + tw.i1] += (th.l1 * tw.l1) * gv;
        }
      }
    }
  });
}

}  // namespace

void upsample_forward(const UpsampleGeom& g, const View& x, const View& out) {
  upsample_args::check_forward(g, x, out);
  visit_float(x.dtype, [&](auto tag) { forward_t<typename decltype(tag)::type>(g, x, out); });
}

void upsample_backward(Mode mode, const UpsampleGeom& g, const View& grad, const View& dx) {
  upsample_args::check_backward(g, grad, dx);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gr = static_cast<const T*>(grad.data);
    T* d = static_cast<T*>(dx.data);
    if (mode == Mode::Deterministic)
      gather_t<T>(g, gr, d);
    else
      scatter_t<T>(g, gr, d);
  });
}

const UpsampleKernels upsample_table = {.forward = &upsample_forward,
                                        .backward = &upsample_backward};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
