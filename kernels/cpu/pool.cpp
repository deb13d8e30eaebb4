// ditto — CPU pooling kernels (interface and orders: kernels/pool.h). Forward: one output per
// iteration, its taps reduced by canonical_serial (the canonical order, bit for bit the
// reduction kernel's); backward: the gather of kernels/pool.h, one input row per iteration.
// Every output and every pixel is computed from its own window / taps alone, so the split across
// threads never changes a bit.
#include "kernels/pool.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/common/dtype_visit.h"
#include "kernels/common/pool_args.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/parallel.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
static_assert(pool_args::kMaxTaps == kCanonSerialMax);

using pool_args::Taps;
using pool_args::taps_of;

// Runs fn(n, c, oh, ow, o) for every output o (row-major), rows (n, c, oh) split across threads.
template <class F>
void for_outputs(const WindowGeom& g, F&& fn) {
  const i64 rows = g.N * g.C * g.OH;
  parallel_ranges(rows, threads_for(rows * g.OW * g.kH * g.kW), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      const i64 oh = r % g.OH, c = (r / g.OH) % g.C, n = r / (g.OH * g.C);
      for (i64 ow = 0; ow < g.OW; ++ow) fn(n, c, oh, ow, r * g.OW + ow);
    }
  });
}

// Sums share(k, d, t) — k the output (n, c, oh, ow), d its (oh, ow) — into every pixel of dx by
// the gather of kernels/pool.h: acc = +0,
// then the taps (kh, kw) ascending whose window exists. Written row by row: for each (kh, kw)
// the windows that reach the row are visited in one pass, and each pixel still receives its
// taps in (kh, kw) order (distinct ow reach distinct w). Rows (n, c, h) are split across threads.
template <class T, class Share>
void gather(const WindowGeom& g, T* dx, Share&& share) {
  const i64 rows = g.N * g.C * g.H;
  parallel_ranges(rows, threads_for(rows * g.W * g.kH * g.kW), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      const i64 h = r % g.H, c = (r / g.H) % g.C, n = r / (g.H * g.C);
      T* row = dx + r * g.W;
      for (i64 w = 0; w < g.W; ++w) row[w] = T(0);
      for (i64 kh = 0; kh < g.kH; ++kh) {
        const i64 th = h + g.pH - kh * g.dH;  // = oh * sH for the window row using tap kh
        if (th < 0 || th % g.sH != 0 || th / g.sH >= g.OH) continue;
        const i64 oh = th / g.sH;
        const i64 base = ((n * g.C + c) * g.OH + oh) * g.OW;  // output (n, c, oh, 0)
        for (i64 kw = 0; kw < g.kW; ++kw) {
          // The windows ow whose tap kw lands inside the row: 0 <= w0 + ow * sW < W.
          const i64 w0 = kw * g.dW - g.pW;
          const i64 ow_lo = w0 >= 0 ? 0 : (-w0 + g.sW - 1) / g.sW;
          const i64 ow_hi = w0 >= g.W ? 0 : std::min(g.OW, (g.W - w0 + g.sW - 1) / g.sW);
          const i64 t = kh * g.kW + kw;
          for (i64 ow = ow_lo; ow < ow_hi; ++ow) {
            T& acc = row[w0 + ow * g.sW];
            acc = acc + share(base + ow, oh * g.OW + ow, t);
          }
        }
      }
    }
  });
}

// The pixel (h, w) of tap t of window (oh, ow), or false when it lies in the padding.
inline bool tap_pixel(const WindowGeom& g, i64 oh, i64 ow, i64 t, i64& h, i64& w) {
  const i64 kh = t / g.kW, kw = t - kh * g.kW;
  h = oh * g.sH - g.pH + kh * g.dH;
  w = ow * g.sW - g.pW + kw * g.dW;
  return h >= 0 && h < g.H && w >= 0 && w < g.W;
}

/// Windows up to one canonical chunk are reduced a whole output row at a time: the row's taps are
/// gathered as (taps, OW) — tap t of every window side by side — and the canonical chunk's lanes,
/// steps and tree run on those rows, so each operation is one vectorisable loop over ow and
/// every output still sees exactly canonical_serial's operations. Longer windows use
/// canonical_serial per output.
template <class T>
void gather_row(const Taps<T>& tp, i64 n, i64 c, i64 oh, T* buf) {
  const WindowGeom& g = tp.g;
  const i64 taps = g.kH * g.kW, OW = g.OW;
  for (i64 kh = 0, t = 0; kh < g.kH; ++kh) {
    const i64 h = oh * g.sH - g.pH + kh * g.dH;
    const T* src = tp.x + n * tp.sn + c * tp.sc + h * tp.sh;
    for (i64 kw = 0; kw < g.kW; ++kw, ++t) {  // buf[t, ow] = tap t of window ow
      T* dst = buf + t * OW;
      if (h < 0 || h >= g.H) {
        for (i64 ow = 0; ow < OW; ++ow) dst[ow] = tp.pad;
        continue;
      }
      for (i64 ow = 0; ow < OW; ++ow) {
        const i64 w = ow * g.sW - g.pW + kw * g.dW;
        dst[ow] = (w < 0 || w >= g.W) ? tp.pad : src[w * tp.sw];
      }
    }
  }
  (void)taps;
}

/// canonical_chunk over the rows of buf (taps, OW), in place; row 0 ends up holding the results.
template <class T, class Op>
void reduce_rows(i64 taps, i64 OW, T e, T* buf) {
  // Lanes j < active start at op(e, tap j); steps 1..3 fold in taps 256 step + j; then the
  // partial tree — canonical_serial's operations, one vectorisable loop over ow each.
  int active = static_cast<int>(std::min<i64>(taps, kCanonLanes));
#pragma omp simd
  for (i64 q = 0; q < active * OW; ++q) buf[q] = Op::apply(e, buf[q]);
  for (int step = 1; step < kCanonSteps; ++step) {
    const i64 hi = std::min<i64>(taps - i64{kCanonLanes} * step, kCanonLanes);
    for (i64 j = 0; j < hi; ++j) {
      T* p = buf + j * OW;
      const T* x = buf + (i64{kCanonLanes} * step + j) * OW;
#pragma omp simd
      for (i64 ow = 0; ow < OW; ++ow) p[ow] = Op::apply(p[ow], x[ow]);
    }
  }
  for (int sl = kCanonLanes / 2; sl >= 1; sl /= 2) {
    if (sl >= active) continue;
#pragma omp simd
    for (i64 q = 0; q < (active - sl) * OW; ++q) buf[q] = Op::apply(buf[q], buf[q + sl * OW]);
    active = sl;
  }
}

/// argmax's rule over the rows of buf (taps, OW): per ow the first maximal tap; NaN counts as
/// maximal and the first NaN wins. bv: (OW,) scratch.
template <class T>
void argmax_rows(i64 taps, i64 OW, const T* buf, T* bv, i64* best) {
  for (i64 ow = 0; ow < OW; ++ow) {
    bv[ow] = buf[ow];
    best[ow] = 0;
  }
  for (i64 t = 1; t < taps; ++t) {
    const T* row = buf + t * OW;
#pragma omp simd
    for (i64 ow = 0; ow < OW; ++ow) {
      const T v = row[ow];
      if (bv[ow] == bv[ow] && (v != v || v > bv[ow])) {
        best[ow] = t;
        bv[ow] = v;
      }
    }
  }
}

/// Runs row(n, c, oh, r, buf) for every output row r = (n, c, oh), split across threads; each
/// thread gets a (taps + 1, OW) scratch buffer for its rows.
template <class T, class Row>
void for_rows(const WindowGeom& g, Row&& row) {
  const i64 rows = g.N * g.C * g.OH;
  parallel_ranges(rows, threads_for(rows * g.OW * g.kH * g.kW), [&](i64 lo, i64 hi) {
    std::vector<T> buf(static_cast<std::size_t>((g.kH * g.kW + 1) * g.OW));  // (taps + 1, OW)
    for (i64 r = lo; r < hi; ++r) {
      const i64 oh = r % g.OH, c = (r / g.OH) % g.C, n = r / (g.OH * g.C);
      row(n, c, oh, r, buf.data());
    }
  });
}

#if defined(__AVX512F__) && !defined(__SANITIZE_ADDRESS__)
// GCC 12 sees a false "may be used uninitialized" in its own AVX-512 headers
// (_mm512_undefined_*'s self-initialisation; the same as in gemm.cpp's Eigen include).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// max_2x2_row for f32 rows with unit column stride, 16 windows per step: the even/odd columns
// of each window row are separated with one permute each, then CanonMax::apply and
// first_max_tap become compares and blends -- the same selections lane by lane (the compilers
// leave the scalar version's selects as branches, mispredicted on real data).
inline void max_2x2_row_avx512(const float* r0, const float* r1, i64 OW, float* orow,
                               i64* arow) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const auto bits = [](i64 n) {
    return static_cast<__mmask16>(n <= 0 ? 0u : n >= 16 ? 0xffffu : (1u << n) - 1);
  };
  // CanonMax::apply(a, b) = (a > b || a != a) ? a : b
  const auto canon_max = [](__m512 a, __m512 b) {
    const __mmask16 take_a =
        _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ) | _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(take_a, b, a);
  };
  for (i64 o0 = 0; o0 < OW; o0 += 16) {
    const i64 n = std::min<i64>(16, OW - o0);
    const __mmask16 m0 = bits(2 * n), m1 = bits(2 * n - 16), mo = bits(n);
    const float* p0 = r0 + 2 * o0;
    const float* p1 = r1 + 2 * o0;
    const __m512 a0 = _mm512_maskz_loadu_ps(m0, p0), a1 = _mm512_maskz_loadu_ps(m1, p0 + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, p1), b1 = _mm512_maskz_loadu_ps(m1, p1 + 16);
    const __m512 t0 = _mm512_permutex2var_ps(a0, even, a1), t1 = _mm512_permutex2var_ps(a0, odd, a1);
    const __m512 t2 = _mm512_permutex2var_ps(b0, even, b1), t3 = _mm512_permutex2var_ps(b0, odd, b1);
    _mm512_mask_storeu_ps(orow + o0, mo, canon_max(canon_max(t0, t2), canon_max(t1, t3)));
    if (arow == nullptr) continue;
    // first_max_tap: scanning t = 1, 2, 3, take t when the best so far is not NaN and t is NaN
    // or larger.
    __m512 bv = t0;
    __m512i best = _mm512_setzero_si512();
    const auto step = [&](__m512 t, int idx) {
      const __mmask16 k = _mm512_cmp_ps_mask(bv, bv, _CMP_ORD_Q) &
                          (_mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(t, bv, _CMP_GT_OQ));
      best = _mm512_mask_blend_epi32(k, best, _mm512_set1_epi32(idx));
      bv = _mm512_mask_blend_ps(k, bv, t);
    };
    step(t1, 1);
    step(t2, 2);
    step(t3, 3);
    const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(best));
    const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(best, 1));
    _mm512_mask_storeu_epi64(arow + o0, static_cast<__mmask8>(mo & 0xff), lo);
    _mm512_mask_storeu_epi64(arow + o0 + 8, static_cast<__mmask8>(mo >> 8), hi);
  }
}
#pragma GCC diagnostic pop
#endif

// 2x2 windows at stride 2 without padding (the CNN's pooling): with 4 taps the canonical tree
// (reduce_rows with 4 active lanes) is op(op(t0, t2), op(t1, t3)), and first_max_tap's scan is
// 3 compares, so both are computed straight from the window's two input rows — the same
// operations without the (taps, OW) staging. Returns false for any other geometry.

// One output row of max_forward_2x2: taps t0, t1 (row 0) and t2, t3 (row 1) of window ow at
// columns 2ow, 2ow + 1 (times the column stride; kSw = 1 when it is 1, known at compile time).
template <class T, int kSw>
inline void max_2x2_row(const T* r0, const T* r1, i64 OW, i64 sw_rt, T* orow, i64* arow) {
#if defined(__AVX512F__) && !defined(__SANITIZE_ADDRESS__)
  if constexpr (std::is_same_v<T, float> && kSw == 1) {
    max_2x2_row_avx512(r0, r1, OW, orow, arow);
    return;
  }
#endif
  const i64 sw = kSw == 1 ? 1 : sw_rt;
  for (i64 ow = 0; ow < OW; ++ow) {
    const T t0 = r0[2 * ow * sw], t1 = r0[(2 * ow + 1) * sw];
    const T t2 = r1[2 * ow * sw], t3 = r1[(2 * ow + 1) * sw];
    orow[ow] = CanonMax::apply(CanonMax::apply(t0, t2), CanonMax::apply(t1, t3));
  }
  if (arow == nullptr) return;
  for (i64 ow = 0; ow < OW; ++ow) {
    const T t0 = r0[2 * ow * sw], t1 = r0[(2 * ow + 1) * sw];
    const T t2 = r1[2 * ow * sw], t3 = r1[(2 * ow + 1) * sw];
    // first_max_tap: scanning t = 1, 2, 3, take t when the best so far is not NaN and t is NaN
    // or larger.
    T bv = t0;
    i64 best = 0;
    const bool k1 = bv == bv && (t1 != t1 || t1 > bv);
    best = k1 ? 1 : best;
    bv = k1 ? t1 : bv;
    const bool k2 = bv == bv && (t2 != t2 || t2 > bv);
    best = k2 ? 2 : best;
    bv = k2 ? t2 : bv;
    arow[ow] = (bv == bv && (t3 != t3 || t3 > bv)) ? 3 : best;
  }
}

template <class T>
bool max_forward_2x2(const Taps<T>& tp, T* o, i64* a) {
  const WindowGeom& g = tp.g;
  if (g.kH != 2 || g.kW != 2 || g.sH != 2 || g.sW != 2 || g.pH != 0 || g.pW != 0 || g.dH != 1 ||
      g.dW != 1 || 2 * g.OH > g.H || 2 * g.OW > g.W)
    return false;
  const i64 rows = g.N * g.C * g.OH, sw = tp.sw;
  parallel_ranges(rows, threads_for(rows * g.OW * 4), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      const i64 oh = r % g.OH, c = (r / g.OH) % g.C, n = r / (g.OH * g.C);
      const T* r0 = tp.x + n * tp.sn + c * tp.sc + 2 * oh * tp.sh;  // window row 0
      const T* r1 = r0 + tp.sh;                                     // window row 1
      T* orow = o + r * g.OW;
      i64* arow = a != nullptr ? a + r * g.OW : nullptr;
      if (sw == 1) {
        max_2x2_row<T, 1>(r0, r1, g.OW, 1, orow, arow);
      } else {
        max_2x2_row<T, 0>(r0, r1, g.OW, sw, orow, arow);
      }
    }
  });
  return true;
}

template <class T>
void max_forward_t(const WindowGeom& g, const View& x, const View& out, const View& arg) {
  const Taps<T> tp = taps_of<T>(g, x, -std::numeric_limits<T>::infinity());
  T* o = static_cast<T*>(out.data);
  i64* a = static_cast<i64*>(arg.data);
  const i64 taps = g.kH * g.kW;
  const T e = CanonMax::identity<T>();
  if (max_forward_2x2(tp, o, a)) return;
  if (taps > kCanonChunk) {
    for_outputs(g, [&](i64 n, i64 c, i64 oh, i64 ow, i64 k) {
      o[k] = canonical_serial<T, CanonMax>(taps, e, [&](i64 t) { return tp.at(n, c, oh, ow, t); });
      if (a != nullptr) a[k] = pool_args::first_max_tap(tp, n, c, oh, ow);
    });
    return;
  }
  for_rows<T>(g, [&](i64 n, i64 c, i64 oh, i64 r, T* buf) {
    gather_row(tp, n, c, oh, buf);
    if (a != nullptr) argmax_rows(taps, g.OW, buf, buf + taps * g.OW, a + r * g.OW);
    reduce_rows<T, CanonMax>(taps, g.OW, e, buf);
    for (i64 ow = 0; ow < g.OW; ++ow) o[r * g.OW + ow] = buf[ow];
  });
}

template <class T>
void avg_forward_t(const WindowGeom& g, const View& x, const View& divisor, const View& out) {
  const Taps<T> tp = taps_of<T>(g, x, T(0));
  const T* d = static_cast<const T*>(divisor.data);
  T* o = static_cast<T*>(out.data);
  const i64 taps = g.kH * g.kW;
  if (taps > kCanonChunk) {
    for_outputs(g, [&](i64 n, i64 c, i64 oh, i64 ow, i64 k) {
      const T s =
          canonical_serial<T, CanonSum>(taps, T(0), [&](i64 t) { return tp.at(n, c, oh, ow, t); });
      o[k] = s / d[oh * g.OW + ow];
    });
    return;
  }
  for_rows<T>(g, [&](i64 n, i64 c, i64 oh, i64 r, T* buf) {
    gather_row(tp, n, c, oh, buf);
    reduce_rows<T, CanonSum>(taps, g.OW, T(0), buf);
    T* orow = o + r * g.OW;
    const T* drow = d + oh * g.OW;
    for (i64 ow = 0; ow < g.OW; ++ow) orow[ow] = buf[ow] / drow[ow];
  });
}

// max's gradient scattered plane by plane (planes are disjoint: no atomics on the CPU), the
// outputs of a plane in descending or ascending row-major order.
//
// Why the descending scatter is the Deterministic gather, bit for bit: a pixel's gather adds
// share = (arg == t ? g : +0) over its taps t = (kh, kw) ascending, from acc = +0. The +0 shares
// change nothing — acc starts at +0 and a sum is -0 only when both terms are, so acc is never
// -0, and acc + (+0) == acc otherwise — so only the hits count, in tap order. Tap kh lands on h
// from window row oh = (h + pH - kh*dH) / sH, which falls as kh rises (likewise ow for kw): tap
// order is descending (oh, ow) order. Fast keeps the ascending order.
template <class T>
void max_scatter(const WindowGeom& g, const T* gr, const i64* a, T* d, bool descending) {
  const i64 planes = g.N * g.C, plane_in = g.H * g.W, plane_out = g.OH * g.OW;
  // Tap t's offsets from the window origin (oh * sH, ow * sW), once: no division per output.
  std::vector<i64> th(static_cast<std::size_t>(g.kH * g.kW)), tw(th.size());
  for (i64 t = 0; t < g.kH * g.kW; ++t) {
    th[static_cast<std::size_t>(t)] = (t / g.kW) * g.dH - g.pH;
    tw[static_cast<std::size_t>(t)] = (t % g.kW) * g.dW - g.pW;
  }
  parallel_ranges(planes, threads_for(planes * (plane_in + plane_out)), [&](i64 lo, i64 hi) {
    for (i64 p = lo; p < hi; ++p) {
      T* dp = d + p * plane_in;
      const T* gp = gr + p * plane_out;
      const i64* ap = a + p * plane_out;
      for (i64 i = 0; i < plane_in; ++i) dp[i] = T(0);
      for (i64 jh = 0; jh < g.OH; ++jh) {
        const i64 oh = descending ? g.OH - 1 - jh : jh;
        for (i64 jw = 0; jw < g.OW; ++jw) {
          const i64 ow = descending ? g.OW - 1 - jw : jw, o = oh * g.OW + ow;
          const auto t = static_cast<std::size_t>(ap[o]);
          const i64 h = oh * g.sH + th[t], w = ow * g.sW + tw[t];
          // A tap in the padding has no pixel: its gradient is dropped.
          if (h >= 0 && h < g.H && w >= 0 && w < g.W) dp[h * g.W + w] += gp[o];
        }
      }
    }
  });
}

template <class T>
void max_backward_t(Mode mode, const WindowGeom& g, const View& grad, const View& arg,
                    const View& dx) {
  max_scatter<T>(g, static_cast<const T*>(grad.data), static_cast<const i64*>(arg.data),
                 static_cast<T*>(dx.data), mode == Mode::Deterministic);
}

template <class T>
void avg_backward_t(Mode mode, const WindowGeom& g, const View& grad, const View& divisor,
                    const View& dx) {
  const T* gr = static_cast<const T*>(grad.data);
  const T* dv = static_cast<const T*>(divisor.data);
  T* d = static_cast<T*>(dx.data);
  if (mode == Mode::Deterministic) {
    gather<T>(g, d, [&](i64 k, i64 dk, i64) { return gr[k] / dv[dk]; });
    return;
  }
  const i64 planes = g.N * g.C, plane_in = g.H * g.W, plane_out = g.OH * g.OW;
  parallel_ranges(planes, threads_for(dx.numel() + grad.numel()), [&](i64 lo, i64 hi) {
    for (i64 p = lo; p < hi; ++p) {
      T* dp = d + p * plane_in;
      for (i64 i = 0; i < plane_in; ++i) dp[i] = T(0);
      for (i64 o = 0; o < plane_out; ++o) {
        const T share = gr[p * plane_out + o] / dv[o];
        for (i64 t = 0; t < g.kH * g.kW; ++t) {
          i64 h, w;
          if (tap_pixel(g, o / g.OW, o % g.OW, t, h, w)) dp[h * g.W + w] += share;
        }
      }
    }
  });
}

// ---- adaptive pools ----------------------------------------------------------------------

using pool_args::adaptive_src;
using pool_args::AdaptiveSrc;

// Runs fn(n, c, oh, ow, o) for every adaptive output o (row-major), planes split over threads.
template <class F>
void for_adaptive_outputs(const AdaptiveGeom& g, F&& fn) {
  const i64 planes = g.N * g.C;
  parallel_ranges(planes, threads_for(planes * g.H * g.W), [&](i64 lo, i64 hi) {
    for (i64 p = lo; p < hi; ++p) {
      for (i64 oh = 0; oh < g.OH; ++oh) {
        for (i64 ow = 0; ow < g.OW; ++ow) fn(p / g.C, p % g.C, oh, ow, (p * g.OH + oh) * g.OW + ow);
      }
    }
  });
}

// adaptive_avg_pool2d's Deterministic gather (kernels/pool.h, adaptive_gather_ranges) into every
// pixel, planes split over threads. The windows holding each row and column come from tables
// computed once, and the shares grad / T(taps) once per output (the value the gather adds for
// every pixel of the window): the same terms in the same order as adaptive_gather, without its
// per-pixel searches and divisions. (adaptive max needs no gather on the CPU: max_scatter's
// argument makes its ordered scatter the same bits.)
template <class T>
void adaptive_avg_gather_all(const AdaptiveGeom& g, const T* gr, T* dx) {
  std::vector<i64> h0(static_cast<std::size_t>(g.H)), h1(h0.size());
  std::vector<i64> w0(static_cast<std::size_t>(g.W)), w1(w0.size());
  for (i64 h = 0; h < g.H; ++h)
    pool_args::adaptive_outputs_of(h, g.H, g.OH, h0[static_cast<std::size_t>(h)],
                                   h1[static_cast<std::size_t>(h)]);
  for (i64 w = 0; w < g.W; ++w)
    pool_args::adaptive_outputs_of(w, g.W, g.OW, w0[static_cast<std::size_t>(w)],
                                   w1[static_cast<std::size_t>(w)]);
  const i64 planes = g.N * g.C, plane_out = g.OH * g.OW;
  parallel_ranges(planes, threads_for(planes * g.H * g.W), [&](i64 lo, i64 hi) {
    std::vector<T> share(static_cast<std::size_t>(plane_out));  // (OH, OW) of this plane
    for (i64 p = lo; p < hi; ++p) {
      for (i64 oh = 0; oh < g.OH; ++oh) {
        for (i64 ow = 0; ow < g.OW; ++ow)
          share[static_cast<std::size_t>(oh * g.OW + ow)] =
              gr[p * plane_out + oh * g.OW + ow] / pool_args::adaptive_taps<T>(g, oh, ow);
      }
      const T* sp = share.data();
      const i64 k0 = p * plane_out;  // output index of sp[0]
      for (i64 h = 0; h < g.H; ++h) {
        const auto hs = static_cast<std::size_t>(h);
        for (i64 w = 0; w < g.W; ++w) {
          const auto ws = static_cast<std::size_t>(w);
          dx[(p * g.H + h) * g.W + w] = pool_args::adaptive_gather_ranges<T>(
              g, p, h0[hs], h1[hs], w0[ws], w1[ws], [&](i64 k, i64, i64) { return sp[k - k0]; });
        }
      }
    }
  });
}

// Fast: a scatter per (n, c) plane in output order (planes are disjoint: no atomics needed on
// the CPU). share(o) is the value output o adds to each pixel it reaches; max reaches one.
template <class T, bool kMax>
void adaptive_scatter_all(const AdaptiveGeom& g, const T* gr, const i64* arg, T* dx) {
  const i64 planes = g.N * g.C, plane_in = g.H * g.W, plane_out = g.OH * g.OW;
  parallel_ranges(planes, threads_for(planes * (plane_in + plane_out)), [&](i64 lo, i64 hi) {
    for (i64 p = lo; p < hi; ++p) {
      T* dp = dx + p * plane_in;
      std::fill(dp, dp + plane_in, T(0));
      for (i64 oh = 0; oh < g.OH; ++oh) {
        for (i64 ow = 0; ow < g.OW; ++ow) {
          const i64 k = p * plane_out + oh * g.OW + ow;
          if constexpr (kMax) {
            dp[arg[k]] += gr[k];
          } else {
            const T share = gr[k] / pool_args::adaptive_taps<T>(g, oh, ow);
            const i64 h0 = pool_args::adaptive_start(oh, g.H, g.OH);
            const i64 h1 = pool_args::adaptive_end(oh, g.H, g.OH);
            const i64 w0 = pool_args::adaptive_start(ow, g.W, g.OW);
            const i64 w1 = pool_args::adaptive_end(ow, g.W, g.OW);
            for (i64 h = h0; h < h1; ++h) {
              for (i64 w = w0; w < w1; ++w) dp[h * g.W + w] += share;
            }
          }
        }
      }
    }
  });
}

}  // namespace

void max_forward(const WindowGeom& g, const View& x, const View& out, const View& arg) {
  pool_args::check_max_forward(g, x, out, arg);
  visit_float(x.dtype,
              [&](auto tag) { max_forward_t<typename decltype(tag)::type>(g, x, out, arg); });
}

void max_backward(Mode mode, const WindowGeom& g, const View& grad, const View& arg,
                  const View& dx) {
  pool_args::check_max_backward(g, grad, arg, dx);
  visit_float(grad.dtype, [&](auto tag) {
    max_backward_t<typename decltype(tag)::type>(mode, g, grad, arg, dx);
  });
}

void avg_forward(const WindowGeom& g, const View& x, const View& divisor, const View& out) {
  pool_args::check_avg_forward(g, x, divisor, out);
  visit_float(x.dtype,
              [&](auto tag) { avg_forward_t<typename decltype(tag)::type>(g, x, divisor, out); });
}

void avg_backward(Mode mode, const WindowGeom& g, const View& grad, const View& divisor,
                  const View& dx) {
  pool_args::check_avg_backward(g, grad, divisor, dx);
  visit_float(grad.dtype, [&](auto tag) {
    avg_backward_t<typename decltype(tag)::type>(mode, g, grad, divisor, dx);
  });
}

void adaptive_max_forward(const AdaptiveGeom& g, const View& x, const View& out, const View& arg) {
  pool_args::check_adaptive_io("adaptive_max_pool2d", g, x, true, out, &arg);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const AdaptiveSrc<T> src = adaptive_src<T>(g, x);
    T* o = static_cast<T*>(out.data);
    i64* a = static_cast<i64*>(arg.data);
    const T e = CanonMax::identity<T>();
    for_adaptive_outputs(g, [&](i64 n, i64 c, i64 oh, i64 ow, i64 k) {
      const pool_args::AdaptiveWindow<T> win = src.window(n, c, oh, ow);
      o[k] = canonical_serial<T, CanonMax>(win.len, e, [&](i64 t) { return win.at(t); });
      if (a != nullptr) a[k] = pool_args::adaptive_first_max(win, g.W);
    });
  });
}

void adaptive_max_backward(Mode mode, const AdaptiveGeom& g, const View& grad, const View& arg,
                           const View& dx) {
  pool_args::check_adaptive_io("adaptive_max_pool2d backward", g, grad, false, dx, &arg);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gr = static_cast<const T*>(grad.data);
    const i64* a = static_cast<const i64*>(arg.data);
    T* d = static_cast<T*>(dx.data);
    // Both modes: the scatter in output order is the Deterministic gather bit for bit (the +0
    // shares of the gather change nothing, see max_scatter; its window order is ascending).
    (void)mode;
    adaptive_scatter_all<T, true>(g, gr, a, d);
  });
}

void adaptive_avg_forward(const AdaptiveGeom& g, const View& x, const View& out) {
  pool_args::check_adaptive_io("adaptive_avg_pool2d", g, x, true, out, nullptr);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const AdaptiveSrc<T> src = adaptive_src<T>(g, x);
    T* o = static_cast<T*>(out.data);
    for_adaptive_outputs(g, [&](i64 n, i64 c, i64 oh, i64 ow, i64 k) {
      const pool_args::AdaptiveWindow<T> win = src.window(n, c, oh, ow);
      o[k] = canonical_serial<T, CanonSum>(win.len, T(0), [&](i64 t) { return win.at(t); }) /
             pool_args::adaptive_taps<T>(g, oh, ow);
    });
  });
}

void adaptive_avg_backward(Mode mode, const AdaptiveGeom& g, const View& grad, const View& dx) {
  pool_args::check_adaptive_io("adaptive_avg_pool2d backward", g, grad, false, dx, nullptr);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gr = static_cast<const T*>(grad.data);
    T* d = static_cast<T*>(dx.data);
    if (mode == Mode::Deterministic)
      adaptive_avg_gather_all<T>(g, gr, d);
    else
      adaptive_scatter_all<T, false>(g, gr, nullptr, d);
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

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
