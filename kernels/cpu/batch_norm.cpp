// ditto — CPU batch_norm kernels (interface and rule: kernels/batch_norm.h).
//
// Deterministic sums: the work items are (channel, canonical chunk) pairs, split over threads;
// each gathers its chunk's logical elements (runs of S contiguous values, one per n) into an L1
// buffer and reduces it with canonical_chunk; each channel's chunk partials are then combined by
// canonical_combine. Items are whole chunks, so the thread count cannot change a bit.
// Fast sums: each channel's range is cut into slices (more when channels are few), summed with
// independent vector accumulators and added into the channel's total with an OpenMP atomic, in
// completion order — what a speed-first engine does; both modes make the same passes over memory.
// The element-wise passes (normalise, dx) are split along whole rows of S values.
#include "kernels/batch_norm.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/threads.h"
#include "kernels/common/batch_norm_args.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/parallel.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using batch_norm_args::Consts;
using batch_norm_args::present;

template <class T>
const T* cptr(const View& v) {
  return static_cast<const T*>(v.data);
}
template <class T>
T* mptr(const View& v) {
  return static_cast<T*>(v.data);
}

/// Calls fn(off, k, cnt) for each contiguous run of channel c's logical elements [k0, k0 + len):
/// elements k0 + k .. k0 + k + cnt - 1 sit at offsets off .. off + cnt - 1 of the (N, C, S) data.
template <class F>
inline void for_runs(const BatchNormGeom& g, i64 c, i64 k0, i64 len, F&& fn) {
  const i64 end = k0 + len;
  for (i64 k = k0; k < end;) {
    const i64 nn = k / g.S, s = k % g.S;
    const i64 cnt = std::min(g.S - s, end - k);
    fn((nn * g.C + c) * g.S + s, k - k0, cnt);
    k += cnt;
  }
}

/// The canonical_chunk partials of K ranges over one full chunk whose 1024 elements are
/// contiguous (off .. off + 1023): the lanes are accumulated straight from memory, with the
/// spec's order (lane j: elements j, 256 + j, 512 + j, 768 + j), then the full tree.
template <class T, int K, class Load>
inline void contiguous_chunk(i64 c, i64 off, Load& load, T* part) {
  alignas(64) T p[K][kCanonLanes];  // (K, 256) lanes
  for (int j = 0; j < kCanonLanes; ++j) {
    T v[K];
    load(c, off + j, v);
    for (int q = 0; q < K; ++q) p[q][j] = T(0) + v[q];  // CanonSum::apply(+0, v): the lane start
  }
  for (int t = 1; t < kCanonSteps; ++t) {
    for (int j = 0; j < kCanonLanes; ++j) {
      T v[K];
      load(c, off + kCanonLanes * t + j, v);
      for (int q = 0; q < K; ++q) p[q][j] = p[q][j] + v[q];
    }
  }
  for (int q = 0; q < K; ++q) {
    canon_detail::tree_full<T, CanonSum, 1>(p[q]);
    part[q] = p[q][0];
  }
}

/// Deterministic: out[j][c] = the canonical sum of channel c's K logical ranges (j < K), where
/// load(c, off, v) sets v[j] = the value of range j at element off. A chunk inside one run of S
/// values is reduced straight from memory; any other is first gathered into an L1 buffer.
template <class T, int K, class Load>
void canon_sums(const BatchNormGeom& g, Load&& load, T* const (&out)[K]) {
  const i64 n = g.n(), C = g.C;
  const i64 m = (n + kCanonChunk - 1) / kCanonChunk;  // chunks per channel
  if (m == 0) {
    for (int j = 0; j < K; ++j) std::fill(out[j], out[j] + C, T(0));
    return;
  }
  std::vector<T> part(static_cast<std::size_t>(K * C * m));  // (K, C, m) chunk partials
  parallel_ranges(C * m, threads_for(C * n), [&](i64 lo, i64 hi) {
    alignas(64) T buf[K][kCanonChunk];  // (K, 1024) one chunk of each range
    for (i64 item = lo; item < hi; ++item) {
      const i64 c = item / m, ch = item % m;
      const i64 k0 = ch * kCanonChunk, len = std::min(kCanonChunk, n - k0);
      T res[K];
      if (len == kCanonChunk && k0 % g.S + len <= g.S) {
        contiguous_chunk<T, K>(c, ((k0 / g.S) * C + c) * g.S + k0 % g.S, load, res);
      } else {
        for_runs(g, c, k0, len, [&](i64 off, i64 k, i64 cnt) {
          for (i64 i = 0; i < cnt; ++i) {
            T v[K];
            load(c, off + i, v);
            for (int j = 0; j < K; ++j) buf[j][k + i] = v[j];
          }
        });
        for (int j = 0; j < K; ++j) res[j] = canonical_chunk<T, CanonSum>(buf[j], len);
      }
      for (int j = 0; j < K; ++j) part[static_cast<std::size_t>((j * C + c) * m + ch)] = res[j];
    }
  });
  for (int j = 0; j < K; ++j) {
    for (i64 c = 0; c < C; ++c)
      out[j][c] =
          canonical_combine<T, CanonSum>(&part[static_cast<std::size_t>((j * C + c) * m)], m);
  }
}

/// Fast: out[j][c] = the sum of channel c's K ranges in any order; acc(c, off, cnt, s) adds the
/// values of elements off .. off + cnt - 1 (of channel c) of each range j to s[j].
template <class T, int K, class Acc>
void fast_sums(const BatchNormGeom& g, Acc&& acc, T* const (&out)[K]) {
  const i64 n = g.n(), C = g.C;
  const int threads = threads_for(C * n);
  for (int j = 0; j < K; ++j) std::fill(out[j], out[j] + C, T(0));
  // Enough slices for every thread to have a few even with one channel, none below 4096 values.
  const i64 slices = std::clamp<i64>((4 * i64{threads} + C - 1) / C, 1, std::max<i64>(1, n / 4096));
  parallel_ranges(C * slices, threads, [&](i64 lo, i64 hi) {
    for (i64 item = lo; item < hi; ++item) {
      const i64 c = item / slices, sl = item % slices;
      const i64 k0 = n * sl / slices, k1 = n * (sl + 1) / slices;
      T s[K] = {};
      for_runs(g, c, k0, k1 - k0, [&](i64 off, i64, i64 cnt) { acc(c, off, cnt, s); });
      for (int j = 0; j < K; ++j) {
#pragma omp atomic
        out[j][c] += s[j];
      }
    }
  });
}

/// Sum of load(i) for i < cnt with V independent accumulators per range (any association).
template <class T, int K, class Load>
inline void fast_accumulate(i64 cnt, Load&& load, T* s) {
  constexpr int V = 128 / static_cast<int>(sizeof(T));  // 4 AVX2 registers of lanes
  T a[K][V] = {};
  i64 i = 0;
  for (; i + V <= cnt; i += V) {
    for (int l = 0; l < V; ++l) {
      T v[K];
      load(i + l, v);
      for (int j = 0; j < K; ++j) a[j][l] += v[j];
    }
  }
  for (; i < cnt; ++i) {
    T v[K];
    load(i, v);
    for (int j = 0; j < K; ++j) a[j][0] += v[j];
  }
  for (int j = 0; j < K; ++j) {
    for (int w = V / 2; w >= 1; w /= 2) {
      for (int l = 0; l < w; ++l) a[j][l] += a[j][l + w];
    }
    s[j] += a[j][0];
  }
}

/// The K per-channel sums in `mode`; load(c, off, v) sets v[j] = the value of range j at element
/// off (of channel c).
template <class T, int K, class Load>
void channel_sums(Mode mode, const BatchNormGeom& g, Load&& load, T* const (&out)[K]) {
  if (mode == Mode::Fast) {
    fast_sums<T, K>(
        g,
        [&](i64 c, i64 off, i64 cnt, T* s) {
          fast_accumulate<T, K>(
              cnt, [&](i64 i, T* v) { load(c, off + i, v); }, s);
        },
        out);
    return;
  }
  canon_sums<T, K>(g, load, out);
}

/// Runs fn(c, off, cnt) over every row of S elements of channel c (rows split over threads);
/// with S == 1, over every sample's C channels instead (fn(-1, off, C): element off + c is
/// channel c), so that the inner loop is long in both layouts.
template <class F>
void for_rows(const BatchNormGeom& g, F&& fn) {
  const i64 total = g.N * g.C * g.S;
  if (g.S == 1) {
    parallel_ranges(g.N, threads_for(total), [&](i64 lo, i64 hi) {
      for (i64 r = lo; r < hi; ++r) fn(i64{-1}, r * g.C, g.C);
    });
    return;
  }
  parallel_ranges(g.N * g.C, threads_for(total), [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) fn(r % g.C, r * g.S, g.S);
  });
}

/// y = normalize(x, mean, inv, w, b) for every element; per-channel arrays of C values.
template <class T, bool kBias>
void normalize_all(const BatchNormGeom& g, const T* x, const T* mean, const T* inv, const T* w,
                   const T* b, T* y) {
  for_rows(g, [&](i64 c, i64 off, i64 cnt) {
    if (c < 0) {  // S == 1: element off + i is channel i
#pragma omp simd
      for (i64 i = 0; i < cnt; ++i)
        y[off + i] = batch_norm_args::normalize(x[off + i], mean[i], inv[i], w[i], b[i], kBias);
      return;
    }
    const T m = mean[c], s = inv[c], wc = w[c], bc = b[c];
#pragma omp simd
    for (i64 i = 0; i < cnt; ++i)
      y[off + i] = batch_norm_args::normalize(x[off + i], m, s, wc, bc, kBias);
  });
}

/// The per-channel weight (T(1) when absent) and bias (T(0) when absent, then unused).
template <class T>
void channel_affine(const BatchNormGeom& g, const View& weight, const View& bias, std::vector<T>& w,
                    std::vector<T>& b) {
  w.assign(static_cast<std::size_t>(g.C), T(1));
  b.assign(static_cast<std::size_t>(g.C), T(0));
  if (present(weight)) std::copy(cptr<T>(weight), cptr<T>(weight) + g.C, w.begin());
  if (present(bias)) std::copy(cptr<T>(bias), cptr<T>(bias) + g.C, b.begin());
}

template <class T>
void normalize_pass(const BatchNormGeom& g, const T* x, const T* mean, const T* inv,
                    const View& weight, const View& bias, T* y) {
  std::vector<T> w, b;
  channel_affine(g, weight, bias, w, b);
  if (present(bias))
    normalize_all<T, true>(g, x, mean, inv, w.data(), b.data(), y);
  else
    normalize_all<T, false>(g, x, mean, inv, w.data(), b.data(), y);
}

template <class T>
void forward_train_t(Mode mode, const BatchNormGeom& g, const BatchNormParams& p, const View& xv,
                     const View& weight, const View& bias, const View& yv, const View& meanv,
                     const View& varv, const View& rm, const View& rv) {
  const Consts<T> k = batch_norm_args::consts<T>(g, p);
  const T* x = cptr<T>(xv);
  T* mean = mptr<T>(meanv);
  T* var = mptr<T>(varv);
  const i64 C = g.C;
  channel_sums<T, 1>(mode, g, [&](i64, i64 off, T* v) { v[0] = x[off]; }, {mean});
  for (i64 c = 0; c < C; ++c) mean[c] = mean[c] / k.n_t;
  // The d * d pass, d = x - mean (the composition's sub, then mul).
  std::vector<T> ss(static_cast<std::size_t>(C));  // (C,) sums of squares
  channel_sums<T, 1>(mode, g,
                     [&](i64 c, i64 off, T* v) {
                       const T d = x[off] - mean[c];
                       v[0] = d * d;
                     },
                     {ss.data()});
  std::vector<T> inv(static_cast<std::size_t>(C));  // (C,)
  for (i64 c = 0; c < C; ++c) {
    var[c] = ss[static_cast<std::size_t>(c)] / k.n_t;
    inv[static_cast<std::size_t>(c)] = batch_norm_args::inv_std(var[c], k.eps);
    if (present(rm))
      batch_norm_args::update_running(k, mean[c], ss[static_cast<std::size_t>(c)], mptr<T>(rm) + c,
                                      mptr<T>(rv) + c);
  }
  normalize_pass(g, x, mean, inv.data(), weight, bias, mptr<T>(yv));
}

template <class T>
void backward_t(Mode mode, bool training, const BatchNormGeom& g, const BatchNormParams& p,
                const View& gv, const View& xv, const View& meanv, const View& varv,
                const View& weight, const View& dxv, const View& dwv, const View& dbv) {
  const Consts<T> k = batch_norm_args::consts<T>(g, p);
  const T* gr = cptr<T>(gv);
  const T* x = cptr<T>(xv);
  const T* mean = cptr<T>(meanv);
  const i64 C = g.C;
  std::vector<T> inv(static_cast<std::size_t>(C)), w, b;  // (C,)
  for (i64 c = 0; c < C; ++c)
    inv[static_cast<std::size_t>(c)] = batch_norm_args::inv_std(cptr<T>(varv)[c], k.eps);
  channel_affine(g, weight, View{}, w, b);
  std::vector<T> db(static_cast<std::size_t>(C)), dw(static_cast<std::size_t>(C));  // (C,)
  if (training || present(dwv) || present(dbv)) {
    channel_sums<T, 2>(mode, g,
                       [&](i64 c, i64 off, T* v) {
                         v[0] = gr[off];
                         v[1] = gr[off] * ((x[off] - mean[c]) * inv[static_cast<std::size_t>(c)]);
                       },
                       {db.data(), dw.data()});
    if (present(dbv)) std::copy(db.begin(), db.end(), mptr<T>(dbv));
    if (present(dwv)) std::copy(dw.begin(), dw.end(), mptr<T>(dwv));
  }
  if (!present(dxv)) return;
  T* dx = mptr<T>(dxv);
  std::vector<T> a(static_cast<std::size_t>(C)), mg(a.size()), mh(a.size());  // (C,)
  for (std::size_t c = 0; c < a.size(); ++c) {
    a[c] = w[c] * inv[c];
    mg[c] = db[c] / k.n_t;
    mh[c] = dw[c] / k.n_t;
  }
  for_rows(g, [&](i64 c0, i64 off, i64 cnt) {
    const T* gp = gr + off;
    const T* xp = x + off;
    T* dp = dx + off;
    if (c0 < 0) {  // S == 1: element off + i is channel i
      if (training) {
#pragma omp simd
        for (i64 i = 0; i < cnt; ++i)
          dp[i] = batch_norm_args::dx_train(gp[i], (xp[i] - mean[i]) * inv[i], a[i], mg[i], mh[i]);
      } else {
#pragma omp simd
        for (i64 i = 0; i < cnt; ++i) dp[i] = gp[i] * a[i];
      }
      return;
    }
    const std::size_t c = static_cast<std::size_t>(c0);
    const T mc = mean[c], ic = inv[c], ac = a[c], gc = mg[c], hc = mh[c];
    if (training) {
#pragma omp simd
      for (i64 i = 0; i < cnt; ++i)
        dp[i] = batch_norm_args::dx_train(gp[i], (xp[i] - mc) * ic, ac, gc, hc);
    } else {
#pragma omp simd
      for (i64 i = 0; i < cnt; ++i) dp[i] = gp[i] * ac;
    }
  });
}

}  // namespace

void batch_norm_forward_train(Mode mode, const BatchNormGeom& g, const BatchNormParams& p,
                              const View& x, const View& weight, const View& bias, const View& y,
                              const View& mean, const View& var, const View& running_mean,
                              const View& running_var) {
  batch_norm_args::check_forward_train(g, x, weight, bias, y, mean, var, running_mean, running_var);
  visit_float(x.dtype, [&](auto tag) {
    forward_train_t<typename decltype(tag)::type>(mode, g, p, x, weight, bias, y, mean, var,
                                                  running_mean, running_var);
  });
}

void batch_norm_forward_eval(const BatchNormGeom& g, const BatchNormParams& p, const View& x,
                             const View& running_mean, const View& running_var, const View& weight,
                             const View& bias, const View& y) {
  batch_norm_args::check_forward_eval(g, x, running_mean, running_var, weight, bias, y);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Consts<T> k = batch_norm_args::consts<T>(g, p);
    std::vector<T> inv(static_cast<std::size_t>(g.C));  // (C,)
    for (i64 c = 0; c < g.C; ++c)
      inv[static_cast<std::size_t>(c)] = batch_norm_args::inv_std(cptr<T>(running_var)[c], k.eps);
    normalize_pass(g, cptr<T>(x), cptr<T>(running_mean), inv.data(), weight, bias, mptr<T>(y));
  });
}

void batch_norm_backward(Mode mode, bool training, const BatchNormGeom& g, const BatchNormParams& p,
                         const View& grad, const View& x, const View& mean, const View& var,
                         const View& weight, const View& dx, const View& dweight,
                         const View& dbias) {
  batch_norm_args::check_backward(g, grad, x, mean, var, weight, dx, dweight, dbias);
  visit_float(x.dtype, [&](auto tag) {
    backward_t<typename decltype(tag)::type>(mode, training, g, p, grad, x, mean, var, weight, dx,
                                             dweight, dbias);
  });
}

const BatchNormKernels batch_norm_table = {.forward_train = &batch_norm_forward_train,
                                           .forward_eval = &batch_norm_forward_eval,
                                           .backward = &batch_norm_backward};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
