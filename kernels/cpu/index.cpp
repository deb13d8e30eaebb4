// ditto — CPU indexing kernels (interface: kernels/index.h; the canonical order of index_add:
// docs/determinism.md, "Scatter-add").
//
// index_select: a gather; each (o, m) row is copied from in[o, index[m], :] (memcpy when both
// inner dims are contiguous). Elements are moved as raw bits, so every dtype (and every NaN
// payload) is copied exactly. OpenMP splits the O*M rows statically.
//
// index_add, Deterministic (sort-based, the canonical order):
//   1. sort: the positions m are stably sorted by index[m] on the host — a counting sort when
//      K is not much larger than M, std::stable_sort otherwise (both give THE stable order).
//      Runs of equal keys are the segments; a target row k that no index names has none.
//   2. sum, in one of two layouts with identical bits (the choice is for speed only):
//      segmented: work item = (o, segment, block of inner columns). Its thread starts
//        acc[j] = +0, adds the segment's src rows in sorted (= ascending m) order, then writes
//        out[o, k, j] = out[o, k, j] + acc[j]. Reads src rows in permuted order.
//      bucketed (segments averaging >= 4 rows, accumulators <= 1 MiB per item): work item =
//        (o, block of inner columns) with one accumulator row per segment, all +0; src is read
//        sequentially in ascending m and row m is added into its segment's accumulator; then
//        out = out + acc per segment. Per output element that is the same sequence of
//        operations as the segmented layout.
//      Every output element is owned by exactly one work item and summed sequentially, so how
//      items are spread over threads (dynamic schedule, any thread count), how columns are
//      blocked and which layout runs cannot change a bit. The sorted order equals the GPU's (CUB
//      radix sort is stable too), so the bits equal cuda's and sim's.
// The contiguous column loops are `omp simd` (GCC at -O2 does not vectorise them otherwise);
// with no reduction clause that never reassociates: each column is its own sum.
// index_add, Fast: out[o, index[m], :] += src[o, m, :] directly in m order. With enough inner
//   columns each thread owns a range of columns (no atomics, every thread walks all m); with few
//   columns the (o, m) rows are split between threads and each add is a std::atomic_ref
//   fetch_add, in completion order (bits may change with the thread count and timing).
#include "kernels/index.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "kernels/cpu/level.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/error.h"
#include "core/threads.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/index_args.h"
#include "kernels/cpu/parallel.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using index_args::Geo;

constexpr i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

/// Widest column block of a deterministic work item (the accumulator row lives on the stack:
/// 1024 doubles = 8 KiB).
constexpr i64 kMaxColBlock = 1024;
/// Narrowest column block a deterministic item is split into to create parallelism (16 floats
/// = one 64-byte line).
constexpr i64 kMinColBlock = 16;
/// The bucketed layout is used when segments average at least this many rows and one item's
/// accumulators (segments x column block) fit in this many bytes (about an L2 cache).
constexpr i64 kBucketMinRun = 4;
constexpr i64 kBucketMaxBytes = i64{1} << 20;
/// How many rows ahead a deterministic item prefetches its (permuted) src rows.
constexpr i64 kPrefetchRows = 8;



// ---- index_select ----

/// Gathers rows [lo, hi) of the O*M output rows. T is a raw-bits type of the element's size.
template <class T>
void select_rows(const Geo& g, const T* in, const i64* ix, T* out, i64 lo, i64 hi) {
  const bool dense = g.ds[2] == 1 && g.rs[2] == 1;
  for (i64 r = lo; r < hi; ++r) {
    const i64 o = r / g.M, m = r % g.M;
    const i64 k = ix[m * g.xs];
    const T* s = in + o * g.ds[0] + k * g.ds[1];
    T* d = out + o * g.rs[0] + m * g.rs[1];
    if (dense) {
      std::memcpy(d, s, static_cast<std::size_t>(g.I) * sizeof(T));
    } else {
      for (i64 i = 0; i < g.I; ++i) d[i * g.rs[2]] = s[i * g.ds[2]];
    }
  }
}

template <class T>
void run_select(const Geo& g, const View& in, const View& index, const View& out) {
  const auto* x = static_cast<const T*>(in.data);
  const auto* ix = static_cast<const i64*>(index.data);
  auto* y = static_cast<T*>(out.data);
  parallel_ranges(g.O * g.M, threads_for(g.O * g.M * g.I),
                  [&](i64 lo, i64 hi) { select_rows<T>(g, x, ix, y, lo, hi); });
}

// ---- index_add: the stable sort ----

/// The positions m sorted stably by key index[m], and the segments (runs of one key).
struct Sorted {
  std::vector<i64> perm;      // (M) positions in sorted order
  std::vector<i64> seg_key;   // (S) the target row of each segment
  std::vector<i64> seg_begin; // (S + 1) segment s is perm[seg_begin[s] .. seg_begin[s + 1])
};

/// Exact host stable sort of (index[m], m). Indices are already range-checked.
Sorted stable_sort_by_index(const Geo& g, const i64* ix) {
  Sorted r;
  const i64 M = g.M, K = g.K;
  r.perm.resize(static_cast<std::size_t>(M));
  if (K <= 4 * M + 65536) {
    // Counting sort: count, exclusive prefix, place in ascending m (stable by construction).
    std::vector<i64> pos(static_cast<std::size_t>(K) + 1, 0);
    for (i64 m = 0; m < M; ++m) ++pos[static_cast<std::size_t>(ix[m * g.xs]) + 1];
    for (i64 k = 0; k < K; ++k) {
      const i64 c = pos[static_cast<std::size_t>(k) + 1];
      if (c > 0) {
        r.seg_key.push_back(k);
        r.seg_begin.push_back(pos[static_cast<std::size_t>(k)]);
      }
      pos[static_cast<std::size_t>(k) + 1] = pos[static_cast<std::size_t>(k)] + c;
    }
    r.seg_begin.push_back(M);
    for (i64 m = 0; m < M; ++m) r.perm[static_cast<std::size_t>(pos[ix[m * g.xs]]++)] = m;
  } else {
    // K much larger than M: a comparison sort avoids the O(K) count array.
    std::iota(r.perm.begin(), r.perm.end(), i64{0});
    std::stable_sort(r.perm.begin(), r.perm.end(),
                     [&](i64 a, i64 b) { return ix[a * g.xs] < ix[b * g.xs]; });
    for (i64 p = 0; p < M; ++p) {
      const i64 k = ix[r.perm[static_cast<std::size_t>(p)] * g.xs];
      if (p == 0 || k != r.seg_key.back()) {
        r.seg_key.push_back(k);
        r.seg_begin.push_back(p);
      }
    }
    r.seg_begin.push_back(M);
  }
  return r;
}

// ---- index_add: deterministic segmented sums ----

/// One work item: out[o, k, c0 .. c0 + cn) += (+0 + src rows of the segment, in sorted order).
template <class T>
void sum_segment(const Geo& g, const Sorted& st, T* out, const T* src, i64 o, i64 s, i64 c0,
                 i64 cn) {
  T acc[kMaxColBlock];
  for (i64 j = 0; j < cn; ++j) acc[j] = T(+0.0);
  const i64 p0 = st.seg_begin[static_cast<std::size_t>(s)];
  const i64 p1 = st.seg_begin[static_cast<std::size_t>(s) + 1];
  const T* base = src + o * g.rs[0] + c0 * g.rs[2];
  const i64* perm = st.perm.data();
  if (g.rs[2] == 1) {
    for (i64 p = p0; p < p1; ++p) {
      // The next rows are at addresses the hardware cannot predict: fetch one a few sorted
      // positions ahead, every cache line of its block. Past the segment's end too: with short
      // segments the next items (the next segments, same o and columns) read those rows.
      if (p + kPrefetchRows < g.M) {
        const char* ahead = reinterpret_cast<const char*>(base + perm[p + kPrefetchRows] * g.rs[1]);
        for (i64 b = 0; b < cn * static_cast<i64>(sizeof(T)); b += 64) __builtin_prefetch(ahead + b);
      }
      const T* row = base + perm[p] * g.rs[1];
#pragma omp simd
      for (i64 j = 0; j < cn; ++j) acc[j] = acc[j] + row[j];
    }
  } else {
    for (i64 p = p0; p < p1; ++p) {
      const T* row = base + perm[p] * g.rs[1];
      for (i64 j = 0; j < cn; ++j) acc[j] = acc[j] + row[j * g.rs[2]];
    }
  }
  T* d = out + o * g.ds[0] + st.seg_key[static_cast<std::size_t>(s)] * g.ds[1] + c0 * g.ds[2];
  if (g.ds[2] == 1) {
#pragma omp simd
    for (i64 j = 0; j < cn; ++j) d[j] = d[j] + acc[j];
  } else {
    for (i64 j = 0; j < cn; ++j) d[j * g.ds[2]] = d[j * g.ds[2]] + acc[j];
  }
}

/// The bucketed layout (heavy repetition): work item = (o, block of inner columns); its thread
/// keeps one accumulator row per segment, acc[s][j] = +0, walks src in ascending m (sequential
/// reads) adding row m into its segment's accumulator, then writes out = out + acc per segment.
/// Each accumulator sees its segment's rows in ascending m starting from +0: the canonical
/// order, with the bits of sum_segment. Returns false (nothing done) when the layout does not
/// pay: short segments, accumulators too big for the caches, or too few items for the threads.
template <class T>
bool try_add_bucketed(const Geo& g, const Sorted& st, T* y, const T* x, int threads) {
  const i64 S = static_cast<i64>(st.seg_key.size());
  if (g.M < kBucketMinRun * S) return false;
  i64 nb = std::min(ceil_div(g.I, kMinColBlock), std::max<i64>(1, ceil_div(threads, g.O)));
  const i64 cb = ceil_div(g.I, nb);
  nb = ceil_div(g.I, cb);
  if (g.O * nb < threads || S * cb * static_cast<i64>(sizeof(T)) > kBucketMaxBytes) return false;
  std::vector<i64> seg_of(static_cast<std::size_t>(g.M));  // (M) segment of position m
  for (i64 s = 0; s < S; ++s) {
    for (i64 p = st.seg_begin[static_cast<std::size_t>(s)];
         p < st.seg_begin[static_cast<std::size_t>(s) + 1]; ++p) {
      seg_of[static_cast<std::size_t>(st.perm[static_cast<std::size_t>(p)])] = s;
    }
  }
  parallel_ranges(g.O * nb, threads, [&](i64 lo, i64 hi) {
    std::vector<T> acc(static_cast<std::size_t>(S * cb));  // (S, cn)
    for (i64 t = lo; t < hi; ++t) {
      const i64 o = t / nb, c0 = (t % nb) * cb, cn = std::min(cb, g.I - c0);
      std::fill(acc.begin(), acc.begin() + S * cn, T(+0.0));
      const T* base = x + o * g.rs[0] + c0 * g.rs[2];
      for (i64 m = 0; m < g.M; ++m) {
        T* a = acc.data() + seg_of[static_cast<std::size_t>(m)] * cn;
        const T* row = base + m * g.rs[1];
        if (g.rs[2] == 1) {
#pragma omp simd
          for (i64 j = 0; j < cn; ++j) a[j] = a[j] + row[j];
        } else {
          for (i64 j = 0; j < cn; ++j) a[j] = a[j] + row[j * g.rs[2]];
        }
      }
      for (i64 s = 0; s < S; ++s) {
        const T* a = acc.data() + s * cn;
        T* d = y + o * g.ds[0] + st.seg_key[static_cast<std::size_t>(s)] * g.ds[1] + c0 * g.ds[2];
        if (g.ds[2] == 1) {
#pragma omp simd
          for (i64 j = 0; j < cn; ++j) d[j] = d[j] + a[j];
        } else {
          for (i64 j = 0; j < cn; ++j) d[j * g.ds[2]] = d[j * g.ds[2]] + a[j];
        }
      }
    }
  });
  return true;
}

template <class T>
void run_add_deterministic(const Geo& g, const View& out, const View& index, const View& src) {
  const auto* ix = static_cast<const i64*>(index.data);
  const Sorted st = stable_sort_by_index(g, ix);
  const i64 S = static_cast<i64>(st.seg_key.size());
  const int threads = threads_for(g.O * g.M * g.I);
  if (try_add_bucketed<T>(g, st, static_cast<T*>(out.data), static_cast<const T*>(src.data),
                          threads)) {
    return;
  }
  // The segmented layout.
  // Column blocks: as wide as possible, narrower only when (o, segment) items are too few to
  // keep the threads busy (e.g. everything scattered into one row). Bits never depend on it.
  i64 nb = ceil_div(g.I, kMaxColBlock);
  while (g.O * S * nb < 4 * static_cast<i64>(threads) && g.I / (2 * nb) >= kMinColBlock) nb *= 2;
  const i64 cb = ceil_div(g.I, nb);
  nb = ceil_div(g.I, cb);
  const i64 items = g.O * S * nb;
  auto* y = static_cast<T*>(out.data);
  const auto* x = static_cast<const T*>(src.data);
  auto item = [&](i64 t) {
    const i64 b = t % nb, s = (t / nb) % S, o = t / (nb * S);
    const i64 c0 = b * cb;
    sum_segment<T>(g, st, y, x, o, s, c0, std::min(cb, g.I - c0));
  };
#if defined(_OPENMP)
  if (threads > 1 && items > 1) {
    // Dynamic: segments may differ wildly in length. Which thread runs an item is irrelevant
    // to its bits.
    const i64 chunk = std::max<i64>(1, items / (64 * threads));
#pragma omp parallel for num_threads(threads) schedule(dynamic, chunk)
    for (i64 t = 0; t < items; ++t) item(t);
    return;
  }
#endif
  for (i64 t = 0; t < items; ++t) item(t);
}

// ---- index_add: fast ----

template <class T>
void run_add_fast(const Geo& g, const View& out, const View& index, const View& src) {
  const auto* ix = static_cast<const i64*>(index.data);
  auto* y = static_cast<T*>(out.data);
  const auto* x = static_cast<const T*>(src.data);
  const int threads = threads_for(g.O * g.M * g.I);
  if (threads == 1 || g.I >= 16 * static_cast<i64>(threads)) {
    // Each thread owns a range of inner columns and walks every (o, m): plain adds.
    parallel_ranges(g.I, threads, [&](i64 c0, i64 c1) {
      const bool dense = g.ds[2] == 1 && g.rs[2] == 1;
      for (i64 o = 0; o < g.O; ++o) {
        for (i64 m = 0; m < g.M; ++m) {
          T* d = y + o * g.ds[0] + ix[m * g.xs] * g.ds[1];
          const T* s = x + o * g.rs[0] + m * g.rs[1];
          if (dense) {
#pragma omp simd
            for (i64 j = c0; j < c1; ++j) d[j] = d[j] + s[j];
          } else {
            for (i64 j = c0; j < c1; ++j) d[j * g.ds[2]] = d[j * g.ds[2]] + s[j * g.rs[2]];
          }
        }
      }
    });
    return;
  }
  // Few columns: split the (o, m) rows; rows of different threads may hit one target.
  parallel_ranges(g.O * g.M, threads, [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; ++r) {
      const i64 o = r / g.M, m = r % g.M;
      T* d = y + o * g.ds[0] + ix[m * g.xs] * g.ds[1];
      const T* s = x + o * g.rs[0] + m * g.rs[1];
      for (i64 j = 0; j < g.I; ++j) {
        std::atomic_ref<T>(d[j * g.ds[2]]).fetch_add(s[j * g.rs[2]], std::memory_order_relaxed);
      }
    }
  });
}

}  // namespace

void index_select(const View& in, const View& index, const View& out) {
  index_args::check_index_select(in, index, out);
  const Geo g = index_args::make_geo(in, index, out);
  index_args::check_index_range("index_select", index, g.K);
  if (g.O == 0 || g.M == 0 || g.I == 0) return;
  // Raw bits: a copy never rounds, so one instantiation per element size serves every dtype.
  visit_bits(in.dtype,
             [&](auto tag) { run_select<typename decltype(tag)::type>(g, in, index, out); });
}

void index_add(Mode mode, const View& out, const View& index, const View& src) {
  index_args::check_index_add(out, index, src);
  const Geo g = index_args::make_geo(out, index, src);
  index_args::check_index_range("index_add", index, g.K);
  if (g.O == 0 || g.M == 0 || g.I == 0) return;
  visit_float(out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    mode == Mode::Fast ? run_add_fast<T>(g, out, index, src)
                       : run_add_deterministic<T>(g, out, index, src);
  });
}

const IndexKernels index_table = {.index_select = &index_select, .index_add = &index_add};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
