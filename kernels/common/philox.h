// ditto — Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2,
// 3", SC11) and the conversions from its output words to uniform, normal and integer values.
// Header-only; every function is DITTO_HD so the CUDA random kernels use this very code.
//
// ---- The stream convention (part of the determinism contract; docs/determinism.md copies it) ----
// A ditto::Generator is (seed, offset). A draw of n elements with state (seed, offset) computes
// element i (the row-major logical index of the output, whatever its strides) from ONE Philox call:
//     key     = (lo32(seed), hi32(seed))
//     counter = (lo32(offset + i), hi32(offset + i), 0, 0)     (offset + i modulo 2^64)
//     (w0, w1, w2, w3) = philox4x32_10(counter, key)
// and then advances offset by n. Nothing depends on which thread/block computes element i, so the
// values are the same on the CPU (any thread count), the simulator and every GPU. Conversions
// (all bit-exact: only exact integer->float conversions, exact power-of-two scalings, and single
// correctly rounded IEEE operations written as separate statements, never contracted):
//   uniform f32 in [0, 1):  u = (w0 >> 8) * 2^-24                                  (24 bits)
//   uniform f64 in [0, 1):  u = ((uint64(w0) << 32 | w1) >> 11) * 2^-53             (53 bits)
//   uniform [a, b) in T:    a, b rounded to T first; v = u * (b - a) + a with (b - a), the
//                           product and the sum each rounded in T (three roundings, no fma);
//                           if v >= b (upward rounding) v = the largest T below b. v >= a always.
//   normal(mean, std) in T (Box-Muller, cosine branch; mean, std rounded to T first):
//     f32: u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1],  u2 = (w1 >> 8) * 2^-24 in [0, 1)
//     f64: u1 = (((uint64(w0) << 32 | w1) >> 11) + 1) * 2^-53 in (0, 1],
//          u2 = ((uint64(w2) << 32 | w3) >> 11) * 2^-53 in [0, 1)
//     r = sqrt(-2 * dmath::log(u1));  c = cos(2 pi u2) from dmath::sincos_2pi(u2, &s, &c);
//     z = r * c;  result = z * std + mean   (two separate roundings, NO fma)
//     log and sincos_2pi are ditto's own (kernels/common/dmath.h), never libm, so they are
//     identical on every device; -2 * log(u1) is exact (power-of-two scaling), sqrt is IEEE.
//   randint [a, b) (integers, r = b - a with 1 <= r < 2^64):
//     x = uint64(w0) << 32 | w1;  v = a + (x mod r), the addition in uint64 modulo 2^64 then
//     read as int64 (equal to plain int64 a + int64(x mod r), which cannot overflow because the
//     result lies in [a, b)). For f32/f64 outputs v is then converted to T (round to nearest even;
//     beyond 2^24 / 2^53 in magnitude that rounding may reach b).
//     (x mod r has a bias of at most r / 2^64 relative; accepted for simplicity and bit-equality.)
#pragma once
#include <math.h>
#include <stdint.h>

#include "kernels/common/dmath.h"
#include "kernels/common/hd.h"

// In a CPU kernel variant these inline functions live in the variant's namespace
// (kernels/cpu/level.h says why); everywhere else (GPU sources, core, tests) in ditto::philox.
#if defined(DITTO_CPU_VARIANT)
#include "kernels/cpu/level.h"
namespace ditto::kernels::cpu::DITTO_CPU_NS::philox {
#else
namespace ditto::philox {
#endif

// Round multipliers and Weyl key increments (Salmon et al., table 2; Random123's defaults).
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
constexpr int kRounds = 10;

/// The four output words of one Philox call.
struct Words {
  uint32_t w[4];
};

/// Philox4x32-10 bijection: out = philox(ctr) under key. Round (i = 0..9), with the key bumped by
/// (kW0, kW1) between rounds (9 bumps, modulo 2^32):
///   (hi0, lo0) = mulhilo(M0, c0); (hi1, lo1) = mulhilo(M1, c2);
///   c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0).
/// `out` may alias `ctr`. (kernels/cpu/random.cpp has a lane-parallel copy of these rounds for
/// SIMD; test/test_philox.cpp checks the two agree.)
DITTO_HD inline void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < kRounds; ++r) {
    if (r > 0) {
      k0 += kW0;  // wraps modulo 2^32 by design
      k1 += kW1;
    }
    const uint64_t p0 = uint64_t(kM0) * c0;  // mulhilo(M0, c0)
    const uint64_t p1 = uint64_t(kM1) * c2;  // mulhilo(M1, c2)
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/// The words for stream element `index` (= offset + i, modulo 2^64) of generator seed `seed`:
/// key = (lo32(seed), hi32(seed)), counter = (lo32(index), hi32(index), 0, 0).
DITTO_HD inline Words draw(uint64_t seed, uint64_t index) {
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  const uint32_t ctr[4] = {uint32_t(index), uint32_t(index >> 32), 0u, 0u};
  Words r;
  philox4x32_10(ctr, key, r.w);
  return r;
}

/// The words for draw `index` of stream `stream` (stream 0 is draw()): counter = (lo32(index),
/// hi32(index), lo32(stream), hi32(stream)). Only the thread-keyed Fast-mode dropout source
/// (kernels/random.h random_uniform_by_thread) uses streams >= 1.
DITTO_HD inline Words draw_stream(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  const uint32_t ctr[4] = {uint32_t(index), uint32_t(index >> 32), uint32_t(stream),
                           uint32_t(stream >> 32)};
  Words r;
  philox4x32_10(ctr, key, r.w);
  return r;
}

/// Uniform f32 in [0, 1): the top 24 bits of w0 times 2^-24 (exact).
DITTO_HD inline float uniform01_f32(uint32_t w0) { return float(w0 >> 8) * 0x1p-24f; }

/// Uniform f64 in [0, 1): the top 53 bits of (w0 << 32 | w1) times 2^-53 (exact).
DITTO_HD inline double uniform01_f64(uint32_t w0, uint32_t w1) {
  const uint64_t x = (uint64_t(w0) << 32) | w1;
  return double(x >> 11) * 0x1p-53;
}

/// Uniform [0, 1) in T from the words: uniform01_f32(w0) or uniform01_f64(w0, w1) (what rand
/// gives for [0, 1): uniform_ab(u, 0, 1) == u).
template <class T>
DITTO_HD inline T uniform01(const Words& d) {
  if constexpr (sizeof(T) == 4)
    return uniform01_f32(d.w[0]);
  else
    return uniform01_f64(d.w[0], d.w[1]);
}

/// The largest T strictly below b (b finite), from the bits: nextafter(b, -inf).
DITTO_HD inline float next_below(float b) {
  uint32_t bits;
  __builtin_memcpy(&bits, &b, 4);
  if ((bits & 0x7fffffffu) == 0) bits = 0x80000001u;  // +-0 -> -smallest subnormal
  else if (bits >> 31) bits += 1;                      // negative: magnitude up
  else bits -= 1;                                      // positive: magnitude down
  float r;
  __builtin_memcpy(&r, &bits, 4);
  return r;
}
DITTO_HD inline double next_below(double b) {
  uint64_t bits;
  __builtin_memcpy(&bits, &b, 8);
  if ((bits & 0x7fffffffffffffffull) == 0) bits = 0x8000000000000001ull;
  else if (bits >> 63) bits += 1;
  else bits -= 1;
  double r;
  __builtin_memcpy(&r, &bits, 8);
  return r;
}

/// u in [0, 1) mapped to [a, b) in T (a < b finite, b - a finite in T): u * (b - a) + a with
/// three separate roundings; a result rounded up to b becomes the largest T below b.
template <class T>
DITTO_HD inline T uniform_ab(T u, T a, T b) {
  const T range = b - a;
  const T scaled = u * range;  // separate statement: never contracted into an fma
  T v = scaled + a;
  if (v >= b) v = next_below(b);
  return v;
}

/// Uniform [a, b) element from words (f32 uses w0; f64 uses w0, w1).
DITTO_HD inline float uniform_f32(const Words& d, float a, float b) {
  return uniform_ab(uniform01_f32(d.w[0]), a, b);
}
DITTO_HD inline double uniform_f64(const Words& d, double a, double b) {
  return uniform_ab(uniform01_f64(d.w[0], d.w[1]), a, b);
}

/// Standard normal z by Box-Muller (cosine branch), f32 from (w0, w1).
DITTO_HD inline float std_normal_f32(const Words& d) {
  const float u1 = float((d.w[0] >> 8) + 1u) * 0x1p-24f;  // (0, 1]: log(u1) is finite
  const float u2 = float(d.w[1] >> 8) * 0x1p-24f;         // [0, 1)
  const float m2log = -2.0f * dmath::log(u1);              // exact scaling, >= 0
  const float r = ::sqrtf(m2log);  // :: so that ditto::sqrt(Tensor) never shadows it
  float s, c;
  dmath::sincos_2pi(u2, &s, &c);
  return r * c;
}
/// Standard normal z by Box-Muller (cosine branch), f64 from (w0, w1) and (w2, w3).
DITTO_HD inline double std_normal_f64(const Words& d) {
  const uint64_t x1 = (uint64_t(d.w[0]) << 32) | d.w[1];
  const uint64_t x2 = (uint64_t(d.w[2]) << 32) | d.w[3];
  const double u1 = double((x1 >> 11) + 1u) * 0x1p-53;  // (0, 1]
  const double u2 = double(x2 >> 11) * 0x1p-53;         // [0, 1)
  const double m2log = -2.0 * dmath::log(u1);
  const double r = ::sqrt(m2log);  // :: as above
  double s, c;
  dmath::sincos_2pi(u2, &s, &c);
  return r * c;
}

/// normal(mean, stddev): z * stddev + mean, two roundings (no fma; the convention above).
template <class T>
DITTO_HD inline T scale_shift(T z, T mean, T stddev) {
  const T scaled = z * stddev;  // separate statement: never contracted into an fma
  return scaled + mean;
}
DITTO_HD inline float normal_f32(const Words& d, float mean, float stddev) {
  return scale_shift(std_normal_f32(d), mean, stddev);
}
DITTO_HD inline double normal_f64(const Words& d, double mean, double stddev) {
  return scale_shift(std_normal_f64(d), mean, stddev);
}

/// Integer in [a, a + range) (range >= 1; the top of the range may wrap past INT64_MAX only if
/// the caller allowed it, which ditto's kernels do not): a + ((w0 << 32 | w1) mod range).
DITTO_HD inline int64_t randint_i64(const Words& d, int64_t a, uint64_t range) {
  const uint64_t x = (uint64_t(d.w[0]) << 32) | d.w[1];
  return int64_t(uint64_t(a) + x % range);  // modulo 2^64; no overflow for in-range results
}

}  // namespace ditto::philox (or the CPU variant's philox)
