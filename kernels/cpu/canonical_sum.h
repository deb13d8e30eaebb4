// ditto — the canonical order of long reductions (docs/determinism.md, "Long reductions"), as
// inline templates, so that every CPU kernel that reduces a long range (sum/mean/var, BatchNorm
// statistics, weight and bias gradients, scatter-add segments) uses exactly the same order, and
// the CUDA kernels can be checked against it bit for bit.
//
// The canonical reduction of a logical range x[0..n) with operator op and identity e (sum: + and
// +0; max/min: see CanonMax/CanonMin) in the element type T:
//   - n == 0 -> e.
//   - Chunks of 1024 consecutive elements (the last may be partial): m = ceil(n / 1024) chunks.
//     For chunk c, 256 lanes: lane j starts at p[j] = e and, for t = 0, 1, 2, 3 in that order,
//     p[j] = op(p[j], x[1024c + 256t + j]) if that index is < n. Then a fixed pairwise tree:
//     for s = 128, 64, 32, 16, 8, 4, 2, 1: for j < s: p[j] = op(p[j], p[j + s]).
//     partial[c] = p[0].
//   - m == 1: the result is partial[0]; otherwise it is the canonical reduction of
//     partial[0..m) (the same procedure, recursively).
// The result depends only on n and the values: never on threads, tiles or the device.
//
// Shortcuts used below that keep the bits of the spec exactly:
//   - A lane that receives no element stays e, and op(a, e) == a bit for bit for every a that can
//     occur: for sum, a lane starts at +0 and IEEE round-to-nearest addition only returns -0 when
//     both operands are -0, so no lane or tree value is ever -0, and a + (+0) == a (NaN payloads
//     included on x86, which returns the quieted NaN operand; a lane NaN is already quiet). For
//     max/min, op(a, -inf) / op(a, +inf) returns a for every a, NaN and -0 included. So the tree
//     skips levels and lanes that would only combine with untouched lanes (chunks shorter than
//     256 elements cost O(len), not O(256)).
//   - Lanes are independent, so each j loop is plain element-wise arithmetic that the compiler
//     vectorises without any reassociation: the vector code performs the spec's scalar
//     operations exactly.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/common/hd.h"
#include "kernels/cpu/level.h"

// In a CPU kernel variant, inside the variant's namespace (kernels/cpu/level.h); elsewhere (the
// GPU reduction shares these constants and combiners, tests) in ditto::kernels::cpu.
#if defined(DITTO_CPU_VARIANT)
namespace ditto::kernels::cpu::DITTO_CPU_NS {
#else
namespace ditto::kernels::cpu {
#endif

/// Chunk length, lanes per chunk and sequential steps per lane of the canonical order.
inline constexpr std::int64_t kCanonChunk = 1024;
inline constexpr int kCanonLanes = 256;
inline constexpr int kCanonSteps = 4;

/// Canonical sum operator: identity +0, op(a, b) = a + b.
struct CanonSum {
  template <class T>
  static constexpr T identity() {
    return T(0);
  }
  template <class T>
  DITTO_HD static T apply(T a, T b) {
    return a + b;
  }
};

/// Canonical max: identity -inf (integers: lowest), op(a, b) = (a > b || a != a) ? a : b.
/// NaN propagates (the first NaN operand in tree order wins); max(+0, -0) returns the right
/// operand, so the sign of a zero result follows the tree.
struct CanonMax {
  template <class T>
  static constexpr T identity() {
    if constexpr (std::numeric_limits<T>::has_infinity) return -std::numeric_limits<T>::infinity();
    return std::numeric_limits<T>::lowest();
  }
  template <class T>
  DITTO_HD static T apply(T a, T b) {
    return (a > b || a != a) ? a : b;  // NOLINT(misc-redundant-expression): NaN test
  }
};

/// Canonical min: identity +inf (integers: max), op(a, b) = (a < b || a != a) ? a : b.
struct CanonMin {
  template <class T>
  static constexpr T identity() {
    if constexpr (std::numeric_limits<T>::has_infinity) return std::numeric_limits<T>::infinity();
    return std::numeric_limits<T>::max();
  }
  template <class T>
  DITTO_HD static T apply(T a, T b) {
    return (a < b || a != a) ? a : b;  // NOLINT(misc-redundant-expression): NaN test
  }
};

namespace canon_detail {

/// One tree level over B interleaved lane sets: p[j*B + b] = op(p[j*B + b], p[(j+S)*B + b]) for
/// j < S. S and B are compile-time constants so the loop vectorises without an epilogue.
template <class T, class Op, int S, int B>
inline void level(T* p) {
  for (int q = 0; q < S * B; ++q) p[q] = Op::apply(p[q], p[q + S * B]);
}

/// The full tree (s = 128 ... 1) over 256 lanes, B lane sets interleaved: p is (256, B).
template <class T, class Op, int B>
inline void tree_full(T* p) {
  level<T, Op, 128, B>(p);
  level<T, Op, 64, B>(p);
  level<T, Op, 32, B>(p);
  level<T, Op, 16, B>(p);
  level<T, Op, 8, B>(p);
  level<T, Op, 4, B>(p);
  level<T, Op, 2, B>(p);
  level<T, Op, 1, B>(p);
}

/// dst[q] = op(dst[q], src[q]) for q < cnt, where the two ranges never overlap. With a
/// runtime level s the compiler cannot prove that p[q] and p[q + s] are apart and kept the loop
/// scalar (a (1024, 784) inner-dims sum ran ~8x slower than Fast); restrict lets it vectorise.
/// The operations are the spec's, one per lane, in the same operand order.
/// At -O2 GCC's "very cheap" vectoriser also refuses loops whose trip count is only known at
/// run time, so the body is blocks of 16 (a constant-length loop it does vectorise), then a
/// scalar tail: still exactly one operation per element.
template <class T, class Op>
inline void combine_disjoint(T* __restrict dst, const T* __restrict src, std::int64_t cnt) {
  constexpr int W = 16;
  std::int64_t q = 0;
  for (; q + W <= cnt; q += W) {
    for (int i = 0; i < W; ++i) dst[q + i] = Op::apply(dst[q + i], src[q + i]);
  }
  for (; q < cnt; ++q) dst[q] = Op::apply(dst[q], src[q]);
}

/// The tree when only lanes [0, active) may differ from the identity (see the file comment): a
/// level s combines lane j with lane j + s only where j + s < active, then s lanes remain.
/// At every level that runs active <= 2s, so it reads lanes [s, active) and writes
/// [0, active - s): disjoint ranges.
template <class T, class Op, int B>
inline void tree_partial(T* p, int active) {
  if (active == kCanonLanes) {  // every lane touched: the full tree, unrolled
    tree_full<T, Op, B>(p);
    return;
  }
  for (int s = kCanonLanes / 2; s >= 1; s /= 2) {
    if (s >= active) continue;
    combine_disjoint<T, Op>(p, p + s * B, (active - s) * B);
    active = s;
  }
}

}  // namespace canon_detail

/// Partial of one canonical chunk: the 256-lane / 4-step / pairwise-tree reduction of the
/// contiguous elements x[0..len), 0 <= len <= 1024 (len == 0 gives the identity).
template <class T, class Op = CanonSum>
inline T canonical_chunk(const T* x, std::int64_t len) {
  constexpr T e = Op::template identity<T>();
  alignas(64) T p[kCanonLanes];  // (256,) lanes
  if (len == kCanonChunk) {
    // t outer, as in the spec: one sequential stream through x (reading the four quarters of
    // the chunk side by side measured ~1.5x slower from DRAM: four streams 1 KiB apart).
    for (int j = 0; j < kCanonLanes; ++j) p[j] = Op::apply(e, x[j]);
    for (int t = 1; t < kCanonSteps; ++t) {
      for (int j = 0; j < kCanonLanes; ++j) p[j] = Op::apply(p[j], x[kCanonLanes * t + j]);
    }
    canon_detail::tree_full<T, Op, 1>(p);
    return p[0];
  }
  if (len <= 0) return e;
  const int active = static_cast<int>(std::min<std::int64_t>(len, kCanonLanes));
  // Lanes start at e and step t adds x[256t + j] where it exists: op(e, x[j]) first, as in the
  // spec. The runtime-length steps go through combine_disjoint so that they vectorise.
  for (int j = 0; j < kCanonLanes; ++j) p[j] = e;
  for (int t = 0; t < kCanonSteps; ++t) {
    const std::int64_t hi = std::min<std::int64_t>(len - std::int64_t{256} * t, kCanonLanes);
    if (hi <= 0) break;
    canon_detail::combine_disjoint<T, Op>(p, x + std::int64_t{256} * t, hi);
  }
  canon_detail::tree_partial<T, Op, 1>(p, active);
  return p[0];
}

/// canonical_chunk over a strided range: element k is x[k * stride].
template <class T, class Op = CanonSum>
inline T canonical_chunk_strided(const T* x, std::int64_t len, std::int64_t stride) {
  constexpr T e = Op::template identity<T>();
  T p[kCanonLanes];  // (256,) lanes
  if (len <= 0) return e;
  const int active = static_cast<int>(std::min<std::int64_t>(len, kCanonLanes));
  for (int j = 0; j < active; ++j) p[j] = Op::apply(e, x[j * stride]);
  for (std::int64_t k = kCanonLanes; k < len; ++k) {
    p[k & (kCanonLanes - 1)] = Op::apply(p[k & (kCanonLanes - 1)], x[k * stride]);
  }
  canon_detail::tree_partial<T, Op, 1>(p, active);
  return p[0];
}

/// The lane state of B canonical chunks reduced side by side, fed one logical element (one
/// "row" of B values, one per chunk) at a time, for reductions whose outputs are adjacent in
/// memory but whose elements are strided (e.g. dim 0 of a row-major (N, C) tensor): each row is
/// read straight from the tensor, no gathering. Rows must come in order k = 0, 1, ..., len - 1
/// (the spec's t-outer, j-inner order is exactly increasing k); add(0, ...) restarts the state.
/// Keep it off small stacks: it holds 256 * B values.
template <class T, class Op, int B>
class CanonLanes {
 public:
  /// Element k (0 <= k < 1024) of all B chunks: row[b] belongs to chunk b.
  void add(std::int64_t k, const T* row) {
    T* q = p_ + (k & (kCanonLanes - 1)) * B;  // (B,) lane j = k mod 256 of every chunk
    if (k < kCanonLanes) {
      for (int b = 0; b < B; ++b) q[b] = Op::apply(Op::template identity<T>(), row[b]);
    } else {
      for (int b = 0; b < B; ++b) q[b] = Op::apply(q[b], row[b]);
    }
  }
  /// After rows 0..len-1 were added: out[b] = the canonical_chunk partial of chunk b.
  void finish(std::int64_t len, T* out) {
    if (len <= 0) {
      for (int b = 0; b < B; ++b) out[b] = Op::template identity<T>();
      return;
    }
    if (len >= kCanonLanes) {
      canon_detail::tree_full<T, Op, B>(p_);
    } else {
      canon_detail::tree_partial<T, Op, B>(p_, static_cast<int>(len));
    }
    for (int b = 0; b < B; ++b) out[b] = p_[b];
  }

 private:
  alignas(64) T p_[kCanonLanes * B];  // (256, B) lanes
};

/// The canonical reduction of a range of n elements given its chunk partials:
/// chunk(c, k0, len) must return the canonical_chunk partial of elements [k0, k0 + len) (chunk c,
/// k0 = 1024 c). Chunks are requested in ascending order; the tree over the partials recurses.
template <class T, class Op = CanonSum, class ChunkFn>
inline T canonical_reduce_chunks(std::int64_t n, ChunkFn&& chunk);

/// Canonical reduction of the contiguous x[0..n).
template <class T, class Op = CanonSum>
inline T canonical_reduce(const T* x, std::int64_t n) {
  return canonical_reduce_chunks<T, Op>(n, [x](std::int64_t, std::int64_t k0, std::int64_t len) {
    return canonical_chunk<T, Op>(x + k0, len);
  });
}

/// The result from the m >= 1 chunk partials of a range, in chunk order (partial[0] when m == 1).
template <class T, class Op = CanonSum>
inline T canonical_combine(const T* partial, std::int64_t m) {
  return m == 1 ? partial[0] : canonical_reduce<T, Op>(partial, m);
}

template <class T, class Op, class ChunkFn>
inline T canonical_reduce_chunks(std::int64_t n, ChunkFn&& chunk) {
  const std::int64_t m = (n + kCanonChunk - 1) / kCanonChunk;
  if (m <= 1) return chunk(std::int64_t{0}, std::int64_t{0}, n);  // n == 0 gives the identity
  auto fill = [&](T* part) {
    for (std::int64_t c = 0; c < m; ++c) {
      part[c] = chunk(c, c * kCanonChunk, std::min(kCanonChunk, n - c * kCanonChunk));
    }
  };
  if (m <= kCanonChunk) {
    T part[kCanonChunk];  // (m,) chunk partials: one more chunk level finishes the tree
    fill(part);
    return canonical_chunk<T, Op>(part, m);
  }
  std::vector<T> part(static_cast<std::size_t>(m));  // (m,)
  fill(part.data());
  return canonical_reduce<T, Op>(part.data(), m);
}

/// Canonical sum of the contiguous x[0..n) (T = float or double accumulates in T).
template <class T>
inline T canonical_sum(const T* x, std::int64_t n) {
  return canonical_reduce<T, CanonSum>(x, n);
}

/// Canonical sum of x[0], x[stride], ..., x[(n - 1) * stride].
template <class T>
inline T canonical_sum_strided(const T* x, std::int64_t n, std::int64_t stride) {
  if (stride == 1) return canonical_sum(x, n);
  return canonical_reduce_chunks<T, CanonSum>(
      n, [x, stride](std::int64_t, std::int64_t k0, std::int64_t len) {
        return canonical_chunk_strided<T, CanonSum>(x + k0 * stride, len, stride);
      });
}

/// Canonical sum of load(0), ..., load(n - 1), where load(i) returns logical element i as T
/// (for ranges that are computed, e.g. products or centred squares, or that have an irregular
/// layout). Each chunk is materialised in a 1024-element buffer and reduced like memory.
template <class T, class Load>
inline T canonical_sum_fn(std::int64_t n, Load&& load) {
  return canonical_reduce_chunks<T, CanonSum>(
      n, [&load](std::int64_t, std::int64_t k0, std::int64_t len) {
        alignas(64) T buf[kCanonChunk];  // (len,) logical elements of this chunk
        for (std::int64_t k = 0; k < len; ++k) buf[k] = static_cast<T>(load(k0 + k));
        return canonical_chunk<T, CanonSum>(buf, len);
      });
}

/// The most elements canonical_serial reduces (64 chunks: its partials fit one local array).
inline constexpr std::int64_t kCanonSerialMax = 64 * kCanonChunk;

/// The canonical reduction of load(0), ..., load(n - 1) (0 <= n <= kCanonSerialMax) by one thread
/// with two small local arrays — the same bits as canonical_reduce, for kernels in which each
/// thread owns an output of a short reduction (pool windows; one GPU thread per output). `e` is
/// Op's identity in T, passed in because device code cannot call the host-side identity().
template <class T, class Op, class Load>
DITTO_HD inline T canonical_serial(std::int64_t n, T e, Load&& load) {
  if (n <= 0) return e;
  // canonical_chunk of elements [k0, k0 + len), 1 <= len <= kCanonChunk.
  auto chunk = [&](std::int64_t k0, std::int64_t len) -> T {
    T p[kCanonLanes];  // (256,) lanes
    int active = len < kCanonLanes ? static_cast<int>(len) : kCanonLanes;
    for (int j = 0; j < active; ++j) p[j] = Op::apply(e, static_cast<T>(load(k0 + j)));
    for (int t = 1; t < kCanonSteps; ++t) {
      const std::int64_t rest = len - std::int64_t{kCanonLanes} * t;
      const std::int64_t hi = rest < kCanonLanes ? rest : kCanonLanes;
      for (std::int64_t j = 0; j < hi; ++j)
        p[j] = Op::apply(p[j], static_cast<T>(load(k0 + std::int64_t{kCanonLanes} * t + j)));
    }
    // tree_partial: only lanes [0, active) can differ from the identity.
    for (int s = kCanonLanes / 2; s >= 1; s /= 2) {
      if (s >= active) continue;
      for (int q = 0; q < active - s; ++q) p[q] = Op::apply(p[q], p[q + s]);
      active = s;
    }
    return p[0];
  };
  const std::int64_t m = (n + kCanonChunk - 1) / kCanonChunk;
  if (m == 1) return chunk(0, n);
  T part[kCanonSerialMax / kCanonChunk];  // (m,) chunk partials, then one more chunk level
  for (std::int64_t c = 0; c < m; ++c) {
    const std::int64_t rest = n - c * kCanonChunk;
    part[c] = chunk(c * kCanonChunk, rest < kCanonChunk ? rest : kCanonChunk);
  }
  int active = static_cast<int>(m);
  for (int j = 0; j < active; ++j) part[j] = Op::apply(e, part[j]);
  for (int s = kCanonLanes / 2; s >= 1; s /= 2) {
    if (s >= active) continue;
    for (int q = 0; q < active - s; ++q) part[q] = Op::apply(part[q], part[q + s]);
    active = s;
  }
  return part[0];
}

}  // namespace ditto::kernels::cpu (or the variant's)
