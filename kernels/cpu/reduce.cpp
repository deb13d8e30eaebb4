// ditto — CPU reduction kernels (interface: kernels/reduce.h; canonical order:
// kernels/cpu/canonical_sum.h and docs/determinism.md, "Long reductions").
//
// Every op except fast-mode float sums runs the same two-phase structure:
//   normalise: kept dims and reduced dims with size-1 dims dropped and mergeable neighbours
//     merged (logical order unchanged) -> K outputs of n reduced elements, m = ceil(n / 1024)
//     chunks each.
//   phase 1, OpenMP over tasks: one task = one canonical chunk of one output ("per-output"
//     layout), or of B outputs that are adjacent in memory ("batched" layout, chosen when the
//     reduced elements are strided but a kept dim has stride 1, e.g. summing dim 0 of (N, C)):
//     per-output chunks are gathered into a contiguous buffer (unless they already are) and
//     reduced by the canonical lanes + tree; batched tasks read their rows in place. A task's
//     partial depends only on its data, so how tasks are split across threads cannot change a
//     bit.
//   phase 2 (m > 1), one thread: the canonical tree over each output's m partials.
// Integer sums, integer max/min and argmax/argmin reuse the structure with exact or
// order-independent partials. Fast-mode float sums (fast_sum) instead give each thread a
// contiguous slice, sum it with independent vector accumulators and combine the thread partials
// with an atomic add in completion order: results may change with the thread count and timing.
#include "kernels/reduce.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/level.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/error.h"
#include "core/threads.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/reduce_args.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/canonical_sum.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;

constexpr i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

/// Outputs per task in the batched layout: 128 bytes of input per reduced element (f32: 32,
/// f64/i64: 16, u8: 64), so the lane state (256 x B) is 32 KiB for the float types. Measured on
/// dim 0 of a 4096 x 4096 f32 matrix: B = 8 ~2x and B = 16 ~1.3x slower than B = 32.
template <class In>
constexpr int batch_width() {
  return static_cast<int>(128 / sizeof(In));
}

/// The reduction after normalisation (reduce_args::Dims: kept dims carry the input and the
/// output strides). In the batched layout the stride-1 kept dim is moved last (it only changes
/// the order in which outputs are visited).
struct Problem : reduce_args::Dims {
  bool contiguous = false;  // each output's range is base[0..n)
  bool batched = false;     // kshape[nk - 1] outputs are adjacent (input stride 1)
};

Problem make_problem(const View& in, int n_kept, const View& out) {
  Problem p;
  static_cast<reduce_args::Dims&>(p) = reduce_args::normalize(in, n_kept, out);
  p.contiguous = p.nr == 1 && (p.rstride[0] == 1 || p.rshape[0] == 1);
  if (!p.contiguous && p.rstride[p.nr - 1] != 1) {
    for (int d = p.nk - 1; d >= 0; --d) {
      if (p.kin[d] != 1) continue;
      std::rotate(p.kshape + d, p.kshape + d + 1, p.kshape + p.nk);
      std::rotate(p.kin + d, p.kin + d + 1, p.kin + p.nk);
      std::rotate(p.kout + d, p.kout + d + 1, p.kout + p.nk);
      p.batched = true;
      break;
    }
  }
  return p;
}

/// Row-major multi-index over `nd` dims with two running offsets (input and output).
struct Odometer {
  int nd = 0;
  const i64* shape = nullptr;
  const i64* s0 = nullptr;
  const i64* s1 = nullptr;
  i64 idx[kMaxDims] = {};
  i64 off0 = 0, off1 = 0;

  void seek(i64 lin) {
    off0 = off1 = 0;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = lin % shape[d];
      lin /= shape[d];
      off0 += idx[d] * s0[d];
      off1 += idx[d] * s1[d];
    }
  }
  void next() {
    for (int d = nd - 1; d >= 0; --d) {
      ++idx[d];
      off0 += s0[d];
      off1 += s1[d];
      if (idx[d] < shape[d]) return;
      off0 -= s0[d] * shape[d];
      off1 -= s1[d] * shape[d];
      idx[d] = 0;
    }
  }
};

/// Odometer over the first `nd` kept dims (input and output offsets).
Odometer kept_odometer(const Problem& p, int nd) {
  Odometer od;
  od.nd = nd;
  od.shape = p.kshape;
  od.s0 = p.kin;
  od.s1 = p.kout;
  return od;
}

/// Calls f(off, count) for the consecutive runs of the innermost reduced dim that cover the
/// logical elements [k0, k0 + len): element i of a run sits at off + i * rstride[nr - 1].
template <class F>
void for_runs(const Problem& p, i64 k0, i64 len, F&& f) {
  const int last = p.nr - 1;
  const i64 inner = p.rshape[last];
  i64 idx[kMaxDims];
  i64 i0 = k0 % inner, rest = k0 / inner, off = 0;
  for (int d = last - 1; d >= 0; --d) {
    idx[d] = rest % p.rshape[d];
    rest /= p.rshape[d];
    off += idx[d] * p.rstride[d];
  }
  while (len > 0) {
    const i64 cnt = std::min(inner - i0, len);
    f(off + i0 * p.rstride[last], cnt);
    len -= cnt;
    i0 = 0;
    for (int d = last - 1; d >= 0; --d) {
      ++idx[d];
      off += p.rstride[d];
      if (idx[d] < p.rshape[d]) break;
      off -= p.rstride[d] * p.rshape[d];
      idx[d] = 0;
    }
  }
}

/// buf[0..len) = logical elements [k0, k0 + len) of the output whose range starts at base.
template <class T>
void gather(const Problem& p, const T* base, i64 k0, i64 len, T* buf) {
  const i64 s = p.rstride[p.nr - 1];
  i64 k = 0;
  for_runs(p, k0, len, [&](i64 off, i64 cnt) {
    const T* src = base + off;
    if (s == 1) {
      std::copy(src, src + cnt, buf + k);
    } else {
      for (i64 i = 0; i < cnt; ++i) buf[k + i] = src[i * s];
    }
    k += cnt;
  });
}


// ---- policies: what a chunk partial is, how partials combine, how a result is stored ----

/// Float sum/max/min and integer max/min: the canonical lanes + tree (partials in T).
template <class T, class Op>
struct CanonPolicy {
  using In = T;
  using Acc = T;
  Acc chunk(const T* x, i64 /*k0*/, i64 len) const { return canonical_chunk<T, Op>(x, len); }
  template <int B>
  struct Batch {
    CanonLanes<T, Op, B> lanes;
    void add(i64 k, const T* row) { lanes.add(k, row); }
    void finish(i64 /*k0*/, i64 len, Acc* out) { lanes.finish(len, out); }
  };
  Acc combine(const Acc* part, i64 m) const { return canonical_combine<T, Op>(part, m); }
  void store(void* out, i64 off, Acc a) const { static_cast<T*>(out)[off] = a; }
};

/// Integer sums (i64 -> i64, u8 -> i64): exact, wrapping modulo 2^64 (unsigned arithmetic, so
/// overflow is defined); any order gives the same result.
template <class T>
struct IntSumPolicy {
  using In = T;
  using Acc = std::uint64_t;
  Acc chunk(const T* x, i64 /*k0*/, i64 len) const {
    Acc s = 0;
    for (i64 i = 0; i < len; ++i) s += static_cast<Acc>(x[i]);
    return s;
  }
  template <int B>
  struct Batch {
    Acc s[B];
    void add(i64 k, const T* row) {
      if (k == 0) std::fill(s, s + B, Acc{0});
      for (int b = 0; b < B; ++b) s[b] += static_cast<Acc>(row[b]);
    }
    void finish(i64 /*k0*/, i64 /*len*/, Acc* out) { std::copy(s, s + B, out); }
  };
  Acc combine(const Acc* part, i64 m) const {
    Acc s = 0;
    for (i64 c = 0; c < m; ++c) s += part[c];
    return s;
  }
  void store(void* out, i64 off, Acc a) const {
    static_cast<std::int64_t*>(out)[off] = static_cast<std::int64_t>(a);
  }
};

/// argmax / argmin: the first most extreme element; NaN is more extreme than anything and the
/// first NaN wins. Partials carry (value, global index); combining scans chunks in order.
template <class T, bool kMax>
struct ArgPolicy {
  using In = T;
  struct Acc {
    T v;
    i64 i;
  };
  /// True when v strictly beats best (ties keep the earlier element).
  static bool better(T v, T best) {
    if constexpr (std::is_floating_point_v<T>) {
      if (best != best) return false;  // a NaN is never beaten
      if (v != v) return true;
    }
    return kMax ? v > best : v < best;
  }
  Acc chunk(const T* x, i64 k0, i64 len) const {
    Acc a{x[0], k0};
    for (i64 i = 1; i < len; ++i) {
      if (better(x[i], a.v)) a = Acc{x[i], k0 + i};
    }
    return a;
  }
  template <int B>
  struct Batch {
    Acc a[B];  // index local to the chunk until finish
    void add(i64 k, const T* row) {
      for (int b = 0; b < B; ++b) {
        if (k == 0 || better(row[b], a[b].v)) a[b] = Acc{row[b], k};
      }
    }
    void finish(i64 k0, i64 /*len*/, Acc* out) {
      for (int b = 0; b < B; ++b) out[b] = Acc{a[b].v, k0 + a[b].i};
    }
  };
  Acc combine(const Acc* part, i64 m) const {
    Acc a = part[0];
    for (i64 c = 1; c < m; ++c) {
      if (better(part[c].v, a.v)) a = part[c];
    }
    return a;
  }
  void store(void* out, i64 off, Acc a) const { static_cast<std::int64_t*>(out)[off] = a.i; }
};

// ---- the two-phase driver ----

/// Per-output layout: task t = (output t / m, chunk t % m).
template <class P>
void run_per_output(const P& pol, const Problem& p, const typename P::In* x, void* out,
                    int threads) {
  using In = typename P::In;
  using Acc = typename P::Acc;
  const i64 m = ceil_div(p.n, kCanonChunk);
  std::vector<Acc> part(m > 1 ? static_cast<std::size_t>(p.K * m) : 0);  // (K, m)
  parallel_ranges(p.K * m, threads, [&](i64 lo, i64 hi) {
    std::vector<In> buf(p.contiguous ? 0 : kCanonChunk);  // (1024,) gathered chunk
    Odometer od = kept_odometer(p, p.nk);
    i64 o = lo / m, c = lo % m;
    od.seek(o);
    for (i64 t = lo; t < hi; ++t) {
      const In* base = x + od.off0;
      const i64 k0 = c * kCanonChunk, len = std::min(kCanonChunk, p.n - k0);
      Acc a;
      if (p.contiguous) {
        a = pol.chunk(base + k0, k0, len);
      } else {
        gather(p, base, k0, len, buf.data());
        a = pol.chunk(buf.data(), k0, len);
      }
      if (m == 1) {
        pol.store(out, od.off1, a);
      } else {
        part[static_cast<std::size_t>(o * m + c)] = a;
      }
      if (++c == m) {
        c = 0;
        ++o;
        if (t + 1 < hi) od.next();
      }
    }
  });
  if (m == 1) return;
  // Phase 2 is ~1/1024 of phase 1's work (m partials per n > 1024 elements): one thread.
  Odometer od = kept_odometer(p, p.nk);
  od.seek(0);
  for (i64 o = 0; o < p.K; ++o, od.next()) {
    pol.store(out, od.off1, pol.combine(&part[static_cast<std::size_t>(o * m)], m));
  }
}

/// Batched layout: the last kept dim (input stride 1, length Kv) is cut into blocks of B
/// outputs; task t = (chunk t / blocks, block t % blocks), chunk-major so that consecutive tasks
/// of a thread read neighbouring cache lines.
template <class P>
void run_batched(const P& pol, const Problem& p, const typename P::In* x, void* out, int threads) {
  using In = typename P::In;
  using Acc = typename P::Acc;
  constexpr int B = batch_width<In>();
  const i64 m = ceil_div(p.n, kCanonChunk);
  const i64 kv = p.kshape[p.nk - 1], kv_out = p.kout[p.nk - 1];
  const i64 nblk = ceil_div(kv, B), blocks = (p.K / kv) * nblk;
  std::vector<Acc> part(m > 1 ? static_cast<std::size_t>(blocks * B * m) : 0);  // (blocks, B, m)
  const i64 s = p.rstride[p.nr - 1];
  parallel_ranges(blocks * m, threads, [&](i64 lo, i64 hi) {
    // Per-thread lane state on the heap (256 * B values: too big for some thread stacks).
    auto batch = std::make_unique<typename P::template Batch<B>>();
    In pad[B];  // (B,) a row of the last, partial block, zero-padded
    Acc acc[B];
    Odometer od = kept_odometer(p, p.nk - 1);
    i64 cur = -1;  // outer kept index od points at
    for (i64 t = lo; t < hi; ++t) {
      const i64 c = t / blocks, blk = t % blocks, outer = blk / nblk, vb = blk % nblk;
      if (outer != cur) {
        if (cur >= 0 && outer == cur + 1) {
          od.next();
        } else {
          od.seek(outer);
        }
        cur = outer;
      }
      const int nb = static_cast<int>(std::min<i64>(B, kv - vb * B));
      const i64 k0 = c * kCanonChunk, len = std::min(kCanonChunk, p.n - k0);
      // Rows straight from the tensor, in logical order: row k holds element k of the B
      // outputs (input stride 1 along the block).
      const In* base = x + od.off0 + vb * B;
      i64 k = 0;
      for_runs(p, k0, len, [&](i64 off, i64 cnt) {
        for (i64 i = 0; i < cnt; ++i, ++k) {
          const In* row = base + off + i * s;
          if (nb < B) {
            std::fill(std::copy(row, row + nb, pad), pad + B, In(0));
            row = pad;
          }
          batch->add(k, row);
        }
      });
      batch->finish(k0, len, acc);
      for (int b = 0; b < nb; ++b) {
        if (m == 1) {
          pol.store(out, od.off1 + (vb * B + b) * kv_out, acc[b]);
        } else {
          part[static_cast<std::size_t>((blk * B + b) * m + c)] = acc[b];
        }
      }
    }
  });
  if (m == 1) return;
  // Phase 2 is ~1/1024 of phase 1's work: one thread.
  Odometer od = kept_odometer(p, p.nk - 1);
  for (i64 blk = 0; blk < blocks; ++blk) {
    const i64 vb = blk % nblk;
    od.seek(blk / nblk);
    const int nb = static_cast<int>(std::min<i64>(B, kv - vb * B));
    for (int b = 0; b < nb; ++b) {
      const Acc* pp = &part[static_cast<std::size_t>((blk * B + b) * m)];
      pol.store(out, od.off1 + (vb * B + b) * kv_out, pol.combine(pp, m));
    }
  }
}

template <class P>
void run(const P& pol, const Problem& p, const View& in, const View& out, int threads) {
  const auto* x = static_cast<const typename P::In*>(in.data);
  if (p.batched) {
    run_batched(pol, p, x, out.data, threads);
  } else {
    run_per_output(pol, p, x, out.data, threads);
  }
}

// ---- fast mode float sums ----

/// Sum of x[0..n) with 4 vectors' worth of independent accumulators (any association).
template <class T>
T fast_contig(const T* x, i64 n) {
  constexpr int V = 4 * 32 / static_cast<int>(sizeof(T));  // 4 AVX registers of lanes
  T acc[V] = {};
  i64 i = 0;
  for (; i + V <= n; i += V) {
    for (int l = 0; l < V; ++l) acc[l] += x[i + l];
  }
  T tail = 0;
  for (; i < n; ++i) tail += x[i];
  for (int w = V / 2; w >= 1; w /= 2) {
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  }
  return acc[0] + tail;
}

/// Fast sum of logical elements [k0, k0 + len) of the output whose range starts at base.
template <class T>
T fast_range(const Problem& p, const T* base, i64 k0, i64 len) {
  if (p.contiguous) return fast_contig(base + k0, len);
  const i64 s = p.rstride[p.nr - 1];
  T sum = 0;
  for_runs(p, k0, len, [&](i64 off, i64 cnt) {
    const T* src = base + off;
    if (s == 1) {
      sum += fast_contig(src, cnt);
      return;
    }
    T a[4] = {};
    i64 i = 0;
    for (; i + 4 <= cnt; i += 4) {
      for (int l = 0; l < 4; ++l) a[l] += src[(i + l) * s];
    }
    for (; i < cnt; ++i) a[0] += src[i * s];
    sum += (a[0] + a[1]) + (a[2] + a[3]);
  });
  return sum;
}

/// What a speed-first engine does: with few outputs, every thread sums a contiguous slice of the
/// output's range and adds its partial into the result atomically, in completion order (so the
/// bits may depend on the thread count and timing); with many outputs, each output is summed
/// sequentially by one thread.
template <class T>
void fast_sum(const Problem& p, const T* x, T* out, int threads) {
  if (threads > 1 && p.K < 4 * static_cast<i64>(threads) && p.n >= kParallelMinElems) {
    Odometer od = kept_odometer(p, p.nk);
    od.seek(0);
    for (i64 o = 0; o < p.K; ++o, od.next()) {
      const T* base = x + od.off0;
      T total = 0;
#pragma omp parallel num_threads(threads)
      {
#if defined(_OPENMP)
        const i64 nt = omp_get_num_threads(), tid = omp_get_thread_num();
#else
        const i64 nt = 1, tid = 0;
#endif
        const i64 lo = p.n * tid / nt, hi = p.n * (tid + 1) / nt;
        const T part = fast_range(p, base, lo, hi - lo);
#pragma omp atomic
        total += part;
      }
      out[od.off1] = total;
    }
    return;
  }
  if (p.batched) {
    constexpr int B = batch_width<T>();
    const i64 kv = p.kshape[p.nk - 1], kv_out = p.kout[p.nk - 1], nblk = ceil_div(kv, B);
    const i64 s = p.rstride[p.nr - 1];
    parallel_ranges((p.K / kv) * nblk, threads, [&](i64 lo, i64 hi) {
      Odometer od = kept_odometer(p, p.nk - 1);
      for (i64 blk = lo; blk < hi; ++blk) {
        const i64 vb = blk % nblk;
        od.seek(blk / nblk);
        const int nb = static_cast<int>(std::min<i64>(B, kv - vb * B));
        const T* base = x + od.off0 + vb * B;
        T acc[B] = {};
        for_runs(p, 0, p.n, [&](i64 off, i64 cnt) {
          for (i64 i = 0; i < cnt; ++i) {
            const T* src = base + off + i * s;
            if (nb == B) {
              for (int b = 0; b < B; ++b) acc[b] += src[b];
            } else {
              for (int b = 0; b < nb; ++b) acc[b] += src[b];
            }
          }
        });
        for (int b = 0; b < nb; ++b) out[od.off1 + (vb * B + b) * kv_out] = acc[b];
      }
    });
    return;
  }
  parallel_ranges(p.K, threads, [&](i64 lo, i64 hi) {
    Odometer od = kept_odometer(p, p.nk);
    od.seek(lo);
    for (i64 o = lo; o < hi; ++o, od.next()) out[od.off1] = fast_range(p, x + od.off0, 0, p.n);
  });
}

/// Dispatch over the input type for max/min (canonical tree) and argmax/argmin.
template <class T>
void run_compare(ReduceOp op, const Problem& p, const View& in, const View& out, int threads) {
  switch (op) {
    case ReduceOp::max: run(CanonPolicy<T, CanonMax>{}, p, in, out, threads); break;
    case ReduceOp::min: run(CanonPolicy<T, CanonMin>{}, p, in, out, threads); break;
    case ReduceOp::argmax: run(ArgPolicy<T, true>{}, p, in, out, threads); break;
    case ReduceOp::argmin: run(ArgPolicy<T, false>{}, p, in, out, threads); break;
    case ReduceOp::sum: break;
  }
}

/// out[...] = 0 for every output (sum over an empty range).
void fill_zero(const Problem& p, const View& out) {
  Odometer od = kept_odometer(p, p.nk);
  od.seek(0);
  visit_dtype(out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (i64 o = 0; o < p.K; ++o, od.next()) static_cast<T*>(out.data)[od.off1] = T(0);
  });
}

}  // namespace

void reduce(ReduceOp op, Mode mode, const View& in, int n_kept, const View& out) {
  reduce_args::check_reduce(op, in, n_kept, out);
  const DType it = in.dtype;

  const Problem p = make_problem(in, n_kept, out);
  if (p.K == 0) return;
  if (p.n == 0) {
    reduce_args::check_empty_range(op, in, n_kept);
    fill_zero(p, out);
    return;
  }
  const int threads = p.K * p.n < kParallelMinElems ? 1 : std::max(1, get_num_threads());

  visit_dtype(it, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (op == ReduceOp::sum) {
      if constexpr (std::is_floating_point_v<T>) {
        if (mode == Mode::Fast) {
          fast_sum(p, static_cast<const T*>(in.data), static_cast<T*>(out.data), threads);
        } else {
          run(CanonPolicy<T, CanonSum>{}, p, in, out, threads);
        }
      } else {
        run(IntSumPolicy<T>{}, p, in, out, threads);
      }
      return;
    }
    // max/min/argmax/argmin: order-independent up to the sign of zero, which the canonical tree
    // fixes, so Fast mode runs the deterministic kernels too.
    run_compare<T>(op, p, in, out, threads);
  });
}

const ReduceKernels reduce_table = {.reduce = &reduce};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
