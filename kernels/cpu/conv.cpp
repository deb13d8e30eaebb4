// ditto — CPU conv kernels (interface and orders: kernels/conv.h). The forward is an implicit
// GEMM: the deterministic GEMM's micro-kernels (gemm_micro.h) with B's panels packed straight
// from the input's taps (no im2col buffer) and C written in place in (N, O, OH, OW) -- each
// output the chain of kernels/conv.h, (cg, kh, kw) ascending from +0, then + bias, so the bits
// are im2col + GEMM's. conv2d's Deterministic forward on the cpu runs it (core/ops/conv.cpp).
// The backward entries are the per-element chains of kernels/common/conv_args.h, one pixel or
// weight element at a time; conv2d's backward on the cpu runs im2col + GEMM instead (faster
// here), the same bits by another route (test/test_conv_kernel.cpp checks every entry).
// Threads split along whole outputs (or tiles of them), never inside a chain.
#include "kernels/conv.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "kernels/common/conv_args.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/cpu/gemm_micro.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/parallel.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using i32 = std::int32_t;
using conv_args::ConvArgs;
static_assert(conv_args::kMaxBatch == kCanonSerialMax);

// Runs fn(i) for every i in [0, total), split across threads; `per_item` = work per item.
template <class F>
void for_items(i64 total, i64 per_item, F&& fn) {
  parallel_ranges(total, threads_for(total * per_item), [&](i64 lo, i64 hi) {
    for (i64 i = lo; i < hi; ++i) fn(i);
  });
}

}  // namespace

namespace {

using gemm_micro::AlignedBuffer;
using gemm_micro::Blocking;

// B's packing, planned once per call. For a column tile [j0, j0+nc) and one tap (kh, kw), the
// (kc, NR) panels' row for tap k = (cg, kh, kw) is the same list of runs for every sample and
// channel -- only the plane's base address changes -- so the runs are computed once: a run is
// up to NR consecutive positions j inside one output row and one panel, taking
// plane[src + t*step] for t in [lo, hi) (the taps inside the image) and +0 elsewhere.
struct TapRun {
  i64 src;              // offset of the run's first tap in the (n, c) input plane (may lie outside)
  i64 dst;              // panel * NR + lane: where the run starts, panel rows counted in NR units
  i32 len, lo, hi;      // the run's positions; those in [lo, hi) are inside the image
  std::uint32_t valid;  // bit t set for t in [lo, hi) (t < 32), for the masked copy
  std::uint32_t store;  // bit t set for t < len
};

struct TapPlan {
  i64 step = 1;                     // input elements between consecutive positions of a run
  std::vector<TapRun> runs;         // all runs, tile by tile, tap by tap
  std::vector<std::size_t> first;   // runs of (tile tn, tap) start at first[tn * taps + tap]
};

template <typename T>
TapPlan plan_taps(const ConvArgs<T>& a, i64 ncs, i64 nt) {
  constexpr i64 NR = Blocking<T>::NR;
  const WindowGeom& w = a.g.w;
  const i64 Q = w.OH * w.OW, taps = w.kH * w.kW;
  TapPlan p;
  p.step = w.sW * a.sw;
  for (i64 tn = 0; tn < nt; ++tn) {
    const i64 j0 = tn * ncs, nc = std::min(ncs, Q - j0), padded = (nc + NR - 1) / NR * NR;
    for (i64 tap = 0; tap < taps; ++tap) {
      const i64 kh = tap / w.kW, kw = tap % w.kW;
      p.first.push_back(p.runs.size());
      i64 jj = 0, oh = j0 / w.OW, ow = j0 % w.OW;
      while (jj < padded) {
        TapRun r{};
        r.dst = jj;  // panel jj / NR, lane jj % NR
        const auto bits = [](i64 t) { return t >= 32 ? ~0u : (1u << t) - 1; };
        if (jj >= nc) {  // the zero columns after the tile's last position
          r.len = static_cast<i32>(padded - jj);
          r.store = bits(r.len);
          p.runs.push_back(r);
          break;
        }
        const i64 len = std::min({w.OW - ow, nc - jj, NR - jj % NR});
        r.len = static_cast<i32>(len);
        const i64 h = oh * w.sH - w.pH + kh * w.dH, col0 = ow * w.sW - w.pW + kw * w.dW;
        if (h >= 0 && h < w.H) {
          // t is inside the image when 0 <= col0 + t*sW < W.
          const i64 lo = std::min(len, col0 >= 0 ? i64{0} : (-col0 + w.sW - 1) / w.sW);
          const i64 hi =
              std::max(lo, std::min(len, col0 >= w.W ? i64{0} : (w.W - col0 + w.sW - 1) / w.sW));
          r.lo = static_cast<i32>(lo);
          r.hi = static_cast<i32>(hi);
          r.src = h * a.sh + col0 * a.sw;
          r.valid = bits(hi) & ~bits(lo);
        }
        r.store = bits(len);
        p.runs.push_back(r);
        jj += len;
        ow += len;
        if (ow == w.OW) {
          ow = 0;
          ++oh;
        }
      }
    }
  }
  p.first.push_back(p.runs.size());
  return p;
}

// dst[t] = plane[src + t*step] for t in [lo, hi), +0 for the rest of [0, len).
template <typename T>
inline void copy_run(T* dst, const T* plane, const TapRun& r, i64 step) {
  // (Not under AddressSanitizer: it would check the masked-off lanes' addresses; the scalar
  // loop below copies the same values.)
#if defined(__AVX512F__) && !defined(__SANITIZE_ADDRESS__)
  if constexpr (std::is_same_v<T, float>) {
    if (step == 1) {
      // Per 16 lanes: one masked load (lanes outside [lo, hi) read nothing, so they cannot
      // fault, and are +0) and one masked store of the run's lanes (len <= NR = 32).
      static_assert(Blocking<float>::NR <= 32);
      for (int half = 0; half < 2 && (r.store >> (16 * half)) != 0; ++half) {
        const auto valid = static_cast<__mmask16>(r.valid >> (16 * half));
        const __m512 v = _mm512_maskz_loadu_ps(valid, plane + r.src + 16 * half);
        _mm512_mask_storeu_ps(dst + 16 * half, static_cast<__mmask16>(r.store >> (16 * half)), v);
      }
      return;
    }
  }
#endif
  for (i64 t = 0; t < r.lo; ++t) dst[t] = T(0);
  for (i64 t = r.lo; t < r.hi; ++t) dst[t] = plane[r.src + t * step];
  for (i64 t = r.hi; t < r.len; ++t) dst[t] = T(0);
}

// Packs B[k0 : k0+kc, tile tn] of sample n into the tile's (kc, NR) micro-panels, where
// B(k, j) = tap(n, c0 + cg, oh, ow, kh, kw), k = (cg, kh, kw), j = oh*OW + ow: what im2col
// would have stored, copied from the input along the planned runs.
template <typename T>
void pack_taps(const ConvArgs<T>& a, const TapPlan& plan, i64 tn, i64 n, i64 c0, i64 k0, i64 kc,
               T* out) {
  constexpr i64 NR = Blocking<T>::NR;
  const WindowGeom& w = a.g.w;
  const i64 taps = w.kH * w.kW;
  for (i64 kk = 0; kk < kc; ++kk) {
    const i64 k = k0 + kk, tap = k % taps, cg = k / taps;
    const T* plane = a.x + n * a.sn + (c0 + cg) * a.sc;
    T* row_out = out + kk * NR;
    const std::size_t* f = &plan.first[static_cast<std::size_t>(tn * taps + tap)];
    for (std::size_t i = f[0]; i < f[1]; ++i) {
      const TapRun& r = plan.runs[i];
      copy_run(row_out + (r.dst / NR) * kc * NR + r.dst % NR, plane, r, plan.step);
    }
  }
}

// out[n, grp*Og + i0 : +mc, j0 : j0+nc] (j = oh*OW + ow) over the whole K = Cg*kH*kW range:
// K blocks ascending (each output's chain continues through C), then + bias.
template <typename T>
void forward_tile(const ConvArgs<T>& a, const TapPlan& plan, T* out, i64 n, i64 grp, i64 i0,
                  i64 mc, i64 tn, i64 j0, i64 nc, T* pa, T* pb) {
  using Bk = Blocking<T>;
  constexpr i64 MR = Bk::MR, NR = Bk::NR;
  const WindowGeom& w = a.g.w;
  const i64 Og = a.g.O / a.g.G, Cg = w.C / a.g.G, K = Cg * w.kH * w.kW, Q = w.OH * w.OW;
  const T* A = a.weight + grp * Og * K;          // (Og, K) row-major
  T* C = out + (n * a.g.O + grp * Og) * Q;       // (Og, Q) rows of this sample and group
  for (i64 k0 = 0; k0 < K; k0 += Bk::KC) {
    const i64 kc = std::min(Bk::KC, K - k0);
    pack_taps(a, plan, tn, n, grp * Cg, k0, kc, pb);
    gemm_micro::pack_a(A, K, i64{1}, i0, mc, k0, kc, pa);
    for (i64 jr = 0; jr < nc; jr += NR) {
      for (i64 ir = 0; ir < mc; ir += MR) {
        gemm_micro::micro_tile<T>(kc, pa + ir * kc, pb + jr * kc, C + (i0 + ir) * Q + j0 + jr, Q,
                                  i64{1}, std::min(MR, mc - ir), std::min(NR, nc - jr), k0 == 0);
      }
    }
  }
  if (a.bias != nullptr) {
    for (i64 i = i0; i < i0 + mc; ++i) {
      const T b = a.bias[grp * Og + i];
      T* c = C + i * Q + j0;
      for (i64 j = 0; j < nc; ++j) c[j] = c[j] + b;
    }
  }
}

}  // namespace

void conv_forward(const ConvGeom& g, const View& x, const View& weight, const View& bias,
                  const View& out) {
  conv_args::check_forward(g, x, weight, bias, out);
  if (out.numel() == 0) return;
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Bk = Blocking<T>;
    const ConvArgs<T> a = conv_args::conv_args_of<T>(g, x, weight, &bias, nullptr);
    T* o = static_cast<T*>(out.data);
    const WindowGeom& w = g.w;
    const i64 Og = g.O / g.G, K = w.C / g.G * w.kH * w.kW, Q = w.OH * w.OW;
    if (K == 0) {  // no taps: every chain is empty, out = +0 (+ bias)
      for (i64 e = 0; e < out.numel(); ++e) o[e] = a.forward_flat(e);
      return;
    }
    // Tasks: (sample, group, row tile, column tile); tiles are whole register tiles.
    const i64 mcs = std::min(gemm_micro::round_up(Og, Bk::MR), Bk::MC);
    const i64 ncs = std::min(gemm_micro::round_up(Q, Bk::NR), Bk::NC);
    const i64 mt = gemm_micro::ceil_div(Og, mcs), nt = gemm_micro::ceil_div(Q, ncs);
    const i64 tasks = w.N * g.G * mt * nt;
    const int threads = static_cast<int>(std::min<i64>(threads_for(out.numel() * K), tasks));
    const i64 kc_max = std::min(Bk::KC, K), pa_size = mcs * kc_max, pb_size = kc_max * ncs;
    const TapPlan plan = plan_taps(a, ncs, nt);
    // Allocated before the parallel region, so that bad_alloc cannot escape an OpenMP thread.
    AlignedBuffer<T> scratch(static_cast<std::size_t>(threads * (pa_size + pb_size)));
    parallel_ranges(tasks, threads, [&](i64 lo, i64 hi) {
#if defined(_OPENMP)
      const i64 tid = threads > 1 ? omp_get_thread_num() : 0;
#else
      const i64 tid = 0;
#endif
      T* pa = scratch.get() + tid * (pa_size + pb_size);
      T* pb = pa + pa_size;
      for (i64 t = lo; t < hi; ++t) {
        const i64 tn = t % nt, tm = (t / nt) % mt, grp = (t / (nt * mt)) % g.G,
                  n = t / (nt * mt * g.G);
        const i64 i0 = tm * mcs, j0 = tn * ncs;
        forward_tile(a, plan, o, n, grp, i0, std::min(mcs, Og - i0), tn, j0,
                     std::min(ncs, Q - j0), pa, pb);
      }
    });
  });
}

void conv_backward_data(const ConvGeom& g, const View& grad, const View& weight, const View& dx) {
  conv_args::check_backward_data(g, grad, weight, dx);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args::conv_args_of<T>(g, dx, weight, nullptr, &grad);
    T* d = static_cast<T*>(dx.data);
    for_items(dx.numel(), g.O / g.G * g.w.kH * g.w.kW,
              [&](i64 i) { d[i] = a.backward_data_flat(i); });
  });
}

void conv_backward_weight(Mode mode, const ConvGeom& g, const View& x, const View& grad,
                          const View& dw) {
  conv_args::check_backward_weight(g, x, grad, dw);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args::conv_args_of<T>(g, x, dw, nullptr, &grad);
    T* d = static_cast<T*>(dw.data);
    const i64 Q = g.w.OH * g.w.OW;
    for_items(dw.numel(), g.w.N * Q, [&](i64 e) {
      i64 o, cg, kh, kw;
      a.weight_element(e, o, cg, kh, kw);
      if (mode == Mode::Deterministic) {
        d[e] = canonical_serial<T, CanonSum>(
            g.w.N, T(0), [&](i64 n) { return a.weight_chain(o, cg, kh, kw, n, 0, Q, T(0)); });
      } else {
        T p = T(0);  // Fast: one chain over the whole (n, oh, ow) range
        for (i64 n = 0; n < g.w.N; ++n) p = a.weight_chain(o, cg, kh, kw, n, 0, Q, p);
        d[e] = p;
      }
    });
  });
}

const ConvKernels conv_table = {.forward = &conv_forward,
                                .backward_data = &conv_backward_data,
                                .backward_weight = &conv_backward_weight};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
