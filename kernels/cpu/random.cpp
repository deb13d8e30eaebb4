// ditto — CPU random-fill kernel (interface: kernels/random.h). The stream convention and the
// value conversions are defined once, in kernels/common/philox.h; this file only maps logical element
// indices to memory and splits the work between threads.
//
// Element i (row-major logical index over out's shape) is computed from stream counter
// offset + i alone, so the split between threads, the visiting order and the strides of `out`
// cannot change a single bit: each thread takes one contiguous range of logical indices and
// walks it with an odometer over the (coalesced) dims.
#include "kernels/random.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "kernels/cpu/level.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/error.h"
#include "core/threads.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/philox.h"
#include "kernels/common/random_args.h"
#include "kernels/cpu/philox_block.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {

namespace {

/// Outputs smaller than this are filled on the calling thread (one Philox call costs ~10 ns, a
/// parallel region a few microseconds).
constexpr std::int64_t kParallelMinElements = std::int64_t(1) << 14;
/// Each thread gets at least this many elements.
constexpr std::int64_t kMinElementsPerThread = 4096;

using random_args::dist_name;
using random_args::make_params;
using random_args::Params;
using random_args::plan_walk;
using random_args::Walk;

/// Element value from its Philox words. The distribution is a template parameter so the hot
/// loop has no per-element branch on it.
template <RandomDist D, class T>
inline T element(const Params<T>& p, const philox::Words& d) {
  if constexpr (D == RandomDist::randint) {
    // The integer value, then (f32/f64 outputs) one conversion to T, round to nearest even.
    return static_cast<T>(philox::randint_i64(d, p.int_lo, p.int_range));
  } else if constexpr (std::is_same_v<T, float>) {
    if constexpr (D == RandomDist::uniform) return philox::uniform_f32(d, p.a, p.b);
    else return philox::normal_f32(d, p.a, p.b);
  } else {
    static_assert(std::is_same_v<T, double>, "uniform/normal need a floating type");
    if constexpr (D == RandomDist::uniform) return philox::uniform_f64(d, p.a, p.b);
    else return philox::normal_f64(d, p.a, p.b);
  }
}

/// Fills logical elements [begin, end) of the walk `w` rooted at `base`.
template <RandomDist D, class T>
void fill_range(const Params<T>& p, const Walk& w, T* base, std::uint64_t seed,
                std::uint64_t offset, std::int64_t begin, std::int64_t end) {
  if (begin >= end) return;
  const int last = w.ndim - 1;
  std::int64_t idx[kMaxDims];
  std::int64_t rem = begin;
  for (int d = last; d >= 0; --d) {
    idx[d] = rem % w.shape[d];
    rem /= w.shape[d];
  }
  T* ptr = base;
  for (int d = 0; d <= last; ++d) ptr += idx[d] * w.strides[d];
  const std::int64_t inner = w.strides[last];
  std::int64_t i = begin;
  for (;;) {
    const std::int64_t n = std::min(w.shape[last] - idx[last], end - i);
    // Counter offset + i, modulo 2^64 (unsigned wraparound is the convention).
    const std::uint64_t ctr = offset + static_cast<std::uint64_t>(i);
    for (std::int64_t k0 = 0; k0 < n; k0 += kBlock) {
      const int m = static_cast<int>(std::min<std::int64_t>(kBlock, n - k0));
      WordBlock blk;
      philox_block(seed, ctr + static_cast<std::uint64_t>(k0), blk);  // lanes >= m unused
      T* out = ptr + k0 * inner;
      if (inner == 1) {
        for (int l = 0; l < m; ++l) out[l] = element<D>(p, blk.words(l));
      } else {
        for (int l = 0; l < m; ++l) out[l * inner] = element<D>(p, blk.words(l));
      }
    }
    i += n;
    if (i == end) return;
    // The innermost row ran to its end: rewind it and carry into the outer dims.
    ptr -= idx[last] * inner;
    idx[last] = 0;
    for (int d = last - 1; d >= 0; --d) {
      ptr += w.strides[d];
      if (++idx[d] < w.shape[d]) break;
      ptr -= w.shape[d] * w.strides[d];
      idx[d] = 0;
    }
  }
}

template <RandomDist D, class T>
void fill(const Params<T>& p, const View& out, std::uint64_t seed, std::uint64_t offset) {
  const std::int64_t n = out.numel();
  if (n <= 0) return;
  const Walk w = plan_walk(out);
  T* base = static_cast<T*>(out.data);
  int nt = 1;
#if defined(_OPENMP)
  if (n >= kParallelMinElements)
    nt = static_cast<int>(std::min<std::int64_t>(get_num_threads(), n / kMinElementsPerThread));
#endif
  if (nt <= 1) {
    fill_range<D>(p, w, base, seed, offset, 0, n);
    return;
  }
#if defined(_OPENMP)
#pragma omp parallel num_threads(nt)
  {
    // The team may be smaller than asked for; split by its actual size.
    const std::int64_t t = omp_get_thread_num(), parts = omp_get_num_threads();
    const std::int64_t q = n / parts, r = n % parts;
    const std::int64_t b = t * q + std::min(t, r);
    fill_range<D>(p, w, base, seed, offset, b, b + q + (t < r ? 1 : 0));
  }
#endif
}

template <class T>
void fill_any(const Params<T>& p, const View& out, std::uint64_t seed, std::uint64_t offset) {
  if constexpr (std::is_floating_point_v<T>) {
    if (p.dist == RandomDist::uniform) return fill<RandomDist::uniform>(p, out, seed, offset);
    if (p.dist == RandomDist::normal) return fill<RandomDist::normal>(p, out, seed, offset);
  }
  fill<RandomDist::randint>(p, out, seed, offset);
}

}  // namespace

void random_uniform_by_thread(const View& out, std::uint64_t seed, std::uint64_t offset) {
  random_args::check_by_thread(out);
  const std::int64_t n = out.numel();
  if (n == 0) return;
  // The "threads" of the keying are the requested team size, not the team OpenMP happens to
  // give: the values then depend on set_num_threads() alone, as a GPU's depend on the grid.
  const std::int64_t T = std::max(1, get_num_threads());
  visit_float(out.dtype, [&](auto tag) {
    using V = typename decltype(tag)::type;
    V* o = static_cast<V*>(out.data);
#if defined(_OPENMP)
#pragma omp parallel for num_threads(static_cast<int>(T)) schedule(static) if (n >= kParallelMinElements)
#endif
    for (std::int64_t t = 0; t < T; ++t) {
      std::uint64_t j = 0;
      for (std::int64_t i = t; i < n; i += T, ++j) {
        const philox::Words d =
            philox::draw_stream(seed, static_cast<std::uint64_t>(t) + 1, offset + j);
        if constexpr (std::is_same_v<V, float>)
          o[i] = philox::uniform01_f32(d.w[0]);
        else
          o[i] = philox::uniform01_f64(d.w[0], d.w[1]);
      }
    }
  });
}

void random_fill(RandomDist dist, const View& out, std::uint64_t seed, std::uint64_t offset,
                 double a, double b) {
  random_args::check_output(dist, out);
  visit_dtype(out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::uint8_t>)  // u8: rejected by check_output
      fill_any(make_params<T>(dist, out, a, b), out, seed, offset);
  });
}

const RandomKernels random_table = {.random_uniform_by_thread = &random_uniform_by_thread,
                                    .random_fill = &random_fill};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
