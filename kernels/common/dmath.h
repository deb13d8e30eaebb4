// ditto — deterministic transcendental functions: exp, expm1, log, log1p, tanh, sigmoid and
// sincos_2pi, for float and double.
//
// Why this file exists: libm (and CUDA's math library) may return different bits for the same
// input on different machines, library versions, or host vs device. docs/design.md requires that a
// deterministic kernel's output bits depend on its input bits only, so every transcendental used
// inside a deterministic kernel comes from here. The functions use ONLY correctly rounded IEEE
// operations (+ - * / and explicit ::fmaf / ::fma) plus integer bit manipulation, with literal
// coefficients, so every IEEE-754 machine evaluating them in round-to-nearest-even produces the
// same bits: the host with -ffp-contract=off, CUDA with -fmad=false (no flush-to-zero, no
// --use_fast_math). No tables, no libm calls, no long double.
//
// Accuracy (see docs/math.md, bench/ulp_report.cpp): documented bound 1 ULP for every function,
// float and double; measured maximum 0.62 ULP (10^7 random inputs per function and type, plus a
// strided sweep over all f32 bit patterns). Special values follow C99 Annex F; NaN results are
// the canonical quiet NaN.
//
// Common technique: results are carried as unevaluated "double-word" sums hi + lo (|lo| <= half an
// ulp of hi) through the last few steps, so the only error that reaches the output is the final
// rounding plus tiny polynomial/truncation terms. Two-Sum/Fast-Two-Sum and fma-based product
// splitting produce the exact rounding errors of additions and products.
#pragma once
#include <math.h>
#include <stdint.h>

#include "kernels/common/hd.h"

// In a CPU kernel variant these inline functions live in the variant's namespace
// (kernels/cpu/level.h says why); everywhere else (GPU sources, core, tests) in ditto::dmath.
#if defined(DITTO_CPU_VARIANT)
#include "kernels/cpu/level.h"
namespace ditto::kernels::cpu::DITTO_CPU_NS::dmath {
#else
namespace ditto::dmath {
#endif
namespace detail {

DITTO_HD inline float fma_(float a, float b, float c) { return ::fmaf(a, b, c); }
DITTO_HD inline double fma_(double a, double b, double c) { return ::fma(a, b, c); }

// Bit casts via __builtin_memcpy: well defined, constant-folded by gcc/clang, and usable in CUDA
// device code (std::bit_cast is not available there).
DITTO_HD inline uint32_t to_bits(float x) { uint32_t b; __builtin_memcpy(&b, &x, 4); return b; }
DITTO_HD inline uint64_t to_bits(double x) { uint64_t b; __builtin_memcpy(&b, &x, 8); return b; }
DITTO_HD inline float from_bits(uint32_t b) { float x; __builtin_memcpy(&x, &b, 4); return x; }
DITTO_HD inline double from_bits(uint64_t b) { double x; __builtin_memcpy(&x, &b, 8); return x; }

/// Per-format constants. Hex literals are the exact binary values (generated with mpmath at 300
/// bits, rounded to nearest); a hi/lo pair represents a constant to ~2p bits.
template <class T> struct Fp;
template <> struct Fp<float> {
  using Bits = uint32_t;
  static constexpr int kMant = 23, kBias = 127, kMaxExp = 127;
  static constexpr Bits kSignMask = 0x80000000u, kExpMask = 0x7f800000u, kMantMask = 0x007fffffu;
  static constexpr float kLn2Hi = 0x1.62e43p-1f, kLn2Lo = -0x1.05c61p-29f;
  static constexpr float kLog2e = 0x1.715476p+0f, kSqrt2 = 0x1.6a09e6p+0f;
  static constexpr float kRoundMagic = 0x1.8p23f;  // (v + M) - M rounds v to an integer, |v| < 2^22
  static constexpr float kTwoPowPm1 = 0x1p23f;     // 2^(p-1): ulp is 1 in [2^(p-1), 2^p)
  static constexpr float kMinNormal = 0x1p-126f, kTwoPowP = 0x1p24f;
  static constexpr int kSubShift = 64;  // see round_subnormal: 2^-64 keeps lo * 2^(k+64) normal
  static constexpr float kSubShiftDown = 0x1p-64f, kSubShiftUp = 0x1p64f;
  static constexpr float kMinSub = 0x1p-149f, kHalfSubScaled = 0x1p-86f;  // 2^-149 * 2^64 / 2
  static constexpr float kExpHi = 88.75f;      // above: exp overflows (ln(FLT_MAX) = 88.7228)
  static constexpr float kExpLo = -110.0f;     // below: exp < 2^-151, rounds to 0
  static constexpr float kExpm1Lo = -17.5f;    // below: e^x < 2^-25, expm1 rounds to -1
  static constexpr int kExpm1BigK = 60;        // 2^k > 2^(2p+2): the "-1" is below 2^-(p+3) ulp
  static constexpr float kTanhOne = 9.125f;    // above: 1 - tanh < 2^-25, rounds to 1
  static constexpr float kSigOne = 20.0f;      // above: 1 - sigmoid < e^-20 < 2^-25, rounds to 1
  static constexpr float kSigExpOnly = -40.0f; // below: sigmoid = e(1 - e + ..) == exp to 2^-57
  static constexpr float k2PiHi = 0x1.921fb6p+2f, k2PiLo = -0x1.777a5cp-23f;
  static constexpr float kC1Hi = -0x1.3bd3ccp+4f, kC1Lo = -0x1.37c8bcp-21f;  // -(2 pi)^2 / 2
  static constexpr float kS1Hi = -0x1.4abbcep+5f, kS1Lo = -0x1.896f94p-21f;  // -(2 pi)^3 / 6
  static constexpr float kSinTiny = 0x1p-30f;  // below: sin(2 pi t) = 2 pi t (1 - 2^-55 ...)
};
template <> struct Fp<double> {
  using Bits = uint64_t;
  static constexpr int kMant = 52, kBias = 1023, kMaxExp = 1023;
  static constexpr Bits kSignMask = 0x8000000000000000ull, kExpMask = 0x7ff0000000000000ull,
                        kMantMask = 0x000fffffffffffffull;
  static constexpr double kLn2Hi = 0x1.62e42fefa39efp-1, kLn2Lo = 0x1.abc9e3b39803fp-56;
  static constexpr double kLog2e = 0x1.71547652b82fep+0, kSqrt2 = 0x1.6a09e667f3bcdp+0;
  static constexpr double kRoundMagic = 0x1.8p52, kTwoPowPm1 = 0x1p52;
  static constexpr double kMinNormal = 0x1p-1022, kTwoPowP = 0x1p53;
  static constexpr int kSubShift = 128;
  static constexpr double kSubShiftDown = 0x1p-128, kSubShiftUp = 0x1p128;
  static constexpr double kMinSub = 0x1p-1074, kHalfSubScaled = 0x1p-947;
  static constexpr double kExpHi = 709.875;  // ln(DBL_MAX) = 709.7827
  static constexpr double kExpLo = -750.0;   // exp < 2^-1076 rounds to 0
  static constexpr double kExpm1Lo = -38.0;  // e^x < 2^-54
  static constexpr int kExpm1BigK = 120;     // > 2p + 2
  static constexpr double kTanhOne = 19.125;  // 1 - tanh < 2^-54
  static constexpr double kSigOne = 40.0;     // e^-40 < 2^-54
  static constexpr double kSigExpOnly = -60.0;
  static constexpr double k2PiHi = 0x1.921fb54442d18p+2, k2PiLo = 0x1.1a62633145c07p-52;
  static constexpr double kC1Hi = -0x1.3bd3cc9be45dep+4, kC1Lo = -0x1.692b71366cc04p-50;
  static constexpr double kS1Hi = -0x1.4abbce625be53p+5, kS1Lo = 0x1.05511c68476a8p-49;
  static constexpr double kSinTiny = 0x1p-60;
};

template <class T> DITTO_HD inline T inf() { return from_bits(Fp<T>::kExpMask); }
template <class T> DITTO_HD inline T qnan() {  // the default quiet NaN, positive
  using Bits = typename Fp<T>::Bits;
  return from_bits(Bits(Fp<T>::kExpMask | (Bits(1) << (Fp<T>::kMant - 1))));
}
template <class T> DITTO_HD inline T abs_(T x) { return from_bits(to_bits(x) & ~Fp<T>::kSignMask); }

/// 2^k for k in the normal exponent range, built from bits (exact).
template <class T> DITTO_HD inline T pow2i(int k) {
  using Bits = typename Fp<T>::Bits;
  return from_bits(Bits(k + Fp<T>::kBias) << Fp<T>::kMant);
}

/// p * 2^k rounded once, for p in [0.5, 2) and k in [kMinExp - 66, kMaxExp + 1]. Two steps where
/// 2^k itself is not a normal number: for huge k, 2^(k-1) then *2 (exact unless it overflows,
/// and then IEEE overflow gives inf). For tiny k, first p * 2^(k+64), which stays normal and is
/// therefore exact, then * 2^-64, the only rounding, which lands on the subnormal grid with correct
/// gradual underflow. (A single multiply by a subnormal 2^k would also round once, but 2^k is not
/// representable below 2^-149 / 2^-1074; splitting anywhere else could round twice.)
template <class T> DITTO_HD inline T scale(T p, int k) {
  if (k > Fp<T>::kMaxExp) return (p * pow2i<T>(k - 1)) * T(2);
  if (k < 2 - Fp<T>::kBias) return (p * pow2i<T>(k + 64)) * T(0x1p-64);
  return p * pow2i<T>(k);
}

/// Unevaluated sum hi + lo.
template <class T> struct DW { T hi, lo; };

/// RN(2^k (hi + lo)) for a result in the subnormal range, where hi * 2^(k + kSubShift) and
/// lo * 2^(k + kSubShift) are normal (e.g. hi in [0.5, 2), -kBias - 66 <= k <= 1 - kBias).
/// scale(hi, k) would round twice (hi is already rounded to p bits, then again to the coarser
/// subnormal grid), which can cost up to ~0.25 ULP extra. Instead: scale up by 2^kSubShift so
/// everything is normal and exact, round once onto the grid, recover exactly what that rounding
/// dropped, add lo, and step one grid point if the true value lies beyond the half-way point.
template <class T> DITTO_HD inline T round_subnormal(DW<T> v, int k) {
  using F = Fp<T>;
  T up = pow2i<T>(k + F::kSubShift);
  T hi = v.hi * up, lo = v.lo * up;           // exact, both normal
  T s = hi * F::kSubShiftDown;                // the one rounding onto the subnormal grid
  T d = (hi - s * F::kSubShiftUp) + lo;       // hi - s * 2^shift is exact (same binade)
  if (d > F::kHalfSubScaled) s = s + F::kMinSub;
  else if (d < -F::kHalfSubScaled) s = s - F::kMinSub;
  return s;
}
/// Knuth's Two-Sum: s + e == a + b exactly, for any a, b (no overflow).
template <class T> DITTO_HD inline DW<T> two_sum(T a, T b) {
  T s = a + b, bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
/// Dekker's Fast-Two-Sum: exact when |a| >= |b| (or a == 0).
template <class T> DITTO_HD inline DW<T> fast_two_sum(T a, T b) {
  T s = a + b;
  return {s, b - (s - a)};
}

// ---- polynomials (Horner with explicit fma; Taylor coefficients rounded to nearest) ------------
// exp(r) = 1 + r + r^2/2 + r^3 q3(r), |r| <= ln2/2 + tiny. Degree 8 (f32) / 14 (f64): the first
// omitted term is < 2^-33 / 2^-66 relative, i.e. < 0.005 ULP.
DITTO_HD inline float exp_q3(float r) {
  float q = 0x1.a01a02p-16f;
  q = fma_(q, r, 0x1.a01a02p-13f);
  q = fma_(q, r, 0x1.6c16c2p-10f);
  q = fma_(q, r, 0x1.111112p-7f);
  q = fma_(q, r, 0x1.555556p-5f);
  return fma_(q, r, 0x1.555556p-3f);
}
DITTO_HD inline double exp_q3(double r) {
  double q = 0x1.93974a8c07c9dp-37;
  q = fma_(q, r, 0x1.6124613a86d09p-33);
  q = fma_(q, r, 0x1.1eed8eff8d898p-29);
  q = fma_(q, r, 0x1.ae64567f544e4p-26);
  q = fma_(q, r, 0x1.27e4fb7789f5cp-22);
  q = fma_(q, r, 0x1.71de3a556c734p-19);
  q = fma_(q, r, 0x1.a01a01a01a01ap-16);
  q = fma_(q, r, 0x1.a01a01a01a01ap-13);
  q = fma_(q, r, 0x1.6c16c16c16c17p-10);
  q = fma_(q, r, 0x1.1111111111111p-7);
  q = fma_(q, r, 0x1.5555555555555p-5);
  return fma_(q, r, 0x1.5555555555555p-3);
}
// log(1+f) = 2 atanh(s) = 2s + s R(z), s = f/(2+f), z = s^2 <= 0.0295, R(z) = sum_n 2 z^n/(2n+1).
// n <= 4 (f32) / 10 (f64): omitted term < 0.03 / 0.002 ULP.
DITTO_HD inline float log_r(float z) {
  float q = 0x1.c71c72p-3f;
  q = fma_(q, z, 0x1.24924ap-2f);
  q = fma_(q, z, 0x1.99999ap-2f);
  q = fma_(q, z, 0x1.555556p-1f);
  return q * z;
}
DITTO_HD inline double log_r(double z) {
  double q = 0x1.8618618618618p-4;
  q = fma_(q, z, 0x1.af286bca1af28p-4);
  q = fma_(q, z, 0x1.e1e1e1e1e1e1ep-4);
  q = fma_(q, z, 0x1.1111111111111p-3);
  q = fma_(q, z, 0x1.3b13b13b13b14p-3);
  q = fma_(q, z, 0x1.745d1745d1746p-3);
  q = fma_(q, z, 0x1.c71c71c71c71cp-3);
  q = fma_(q, z, 0x1.2492492492492p-2);
  q = fma_(q, z, 0x1.999999999999ap-2);
  q = fma_(q, z, 0x1.5555555555555p-1);
  return q * z;
}
// sin(2 pi t) = 2pi t + S1 t^3 + t^5 Ps(t^2), cos(2 pi t) = 1 + C1 t^2 + t^4 Pc(t^2), |t| <= 1/8
// (|2 pi t| <= pi/4). Omitted terms < 0.005 ULP.
DITTO_HD inline float sin_p(float tt) {
  float q = 0x1.507834p+5f;
  q = fma_(q, tt, -0x1.32d2ccp+6f);
  return fma_(q, tt, 0x1.466bc6p+6f);
}
DITTO_HD inline double sin_p(double tt) {
  double q = 0x1.aaec32af93359p-4;
  q = fma_(q, tt, -0x1.6fadb9f155744p-1);
  q = fma_(q, tt, 0x1.e8f434d018d63p+1);
  q = fma_(q, tt, -0x1.e3074fde8871fp+3);
  q = fma_(q, tt, 0x1.50783487ee782p+5);
  q = fma_(q, tt, -0x1.32d2cce62bd86p+6);
  return fma_(q, tt, 0x1.466bc6775aae2p+6);
}
DITTO_HD inline float cos_p(float tt) {
  float q = -0x1.a6d1f2p+4f;
  q = fma_(q, tt, 0x1.e1f506p+5f);
  q = fma_(q, tt, -0x1.55d3c8p+6f);
  return fma_(q, tt, 0x1.03c1fp+6f);
}
DITTO_HD inline double cos_p(double tt) {
  double q = -0x1.2a0c591af8314p-5;
  q = fma_(q, tt, 0x1.20c62c2f2d7f5p-2);
  q = fma_(q, tt, -0x1.b6e24f44b128fp+0);
  q = fma_(q, tt, 0x1.f9d38a3763cc3p+2);
  q = fma_(q, tt, -0x1.a6d1f2a204a8cp+4);
  q = fma_(q, tt, 0x1.e1f506891babbp+5);
  q = fma_(q, tt, -0x1.55d3c7e3cbffap+6);
  return fma_(q, tt, 0x1.03c1f081b5ac4p+6);
}

// ---- exp -------------------------------------------------------------------------------------

/// exp(x) = 2^k * (hi + lo), hi + lo in [0.7, 1.42], |lo| <= ulp(hi)/2, error ~2^-(2p-4).
/// Requires kExpLo <= x <= kExpHi (so |k| stays in the range scale() accepts).
template <class T> DITTO_HD inline DW<T> exp_core(T x, int* k_out) {
  using F = Fp<T>;
  // k = round(x / ln2) via the add-magic trick (exact integer-valued result, ties to even). Any k
  // near x/ln2 works; this one keeps |r| <= ln2/2 + tiny.
  T kf = (x * F::kLog2e + F::kRoundMagic) - F::kRoundMagic;
  // Cody-Waite reduction r = x - k ln2 with ln2 = Hi + Lo. x - k*Hi is exact: both are multiples
  // of ulp(Hi)/2 (or k == 0), and the difference is < 0.35 < 2^p such units, so the fma's single
  // rounding is exact. Subtracting k*Lo rounds; dr recovers what that rounding lost (its own
  // error is ~ulp(k*Lo), negligible) so the reduced argument is r + dr to ~2p bits.
  T r_hi = fma_(-kf, F::kLn2Hi, x);
  T r = fma_(-kf, F::kLn2Lo, r_hi);
  T dr = fma_(-kf, F::kLn2Lo, r_hi - r);
  // exp(r + dr) = 1 + r + r^2/2 + r^3 q3(r) + dr (1 + r) + O(dr^2). The two leading terms are
  // summed exactly (1 + r, then + r^2/2 from an exact square split by fma), so only the small
  // tail carries rounding error: its contribution to the result is < 0.02 ULP.
  T rr = r * r;
  T rr_err = fma_(r, r, -rr);  // r^2 == rr + rr_err exactly
  DW<T> a = fast_two_sum(T(1), r);
  DW<T> b = fast_two_sum(a.hi, T(0.5) * rr);
  T tail = fma_(r * rr, exp_q3(r), fma_(dr, r, dr));
  T lo = (a.lo + b.lo) + (fma_(T(0.5), rr_err, tail));
  *k_out = int(kf);
  return fast_two_sum(b.hi, lo);
}

template <class T> DITTO_HD inline T exp_impl(T x) {
  // NaN in, NaN out. Always the canonical quiet NaN rather than x + x: x86 would propagate the
  // payload, GPUs return their own canonical NaN, and the bits must not depend on the device.
  if (!(x == x)) return qnan<T>();
  if (x > Fp<T>::kExpHi) return inf<T>();
  if (x < Fp<T>::kExpLo) return T(0);  // includes -inf
  int k;
  DW<T> e = exp_core(x, &k);
  // Normal results: hi is already RN(hi + lo) and scaling is exact (or overflows to inf).
  if (k >= 2 - Fp<T>::kBias) return scale(e.hi, k);
  return round_subnormal(e, k);
}

// ---- expm1 -----------------------------------------------------------------------------------

/// expm1(x) as a normalized double-word, for kExpm1Lo <= x <= kExpHi, x != 0, and (k = round(
/// x/ln2)) k <= kExpm1BigK (callers handle larger x through exp).
template <class T> DITTO_HD inline DW<T> expm1_core(T x, int* k_out) {
  using F = Fp<T>;
  T kf = (x * F::kLog2e + F::kRoundMagic) - F::kRoundMagic;
  if (kf == T(0)) {
    // |x| <= ln2/2: direct series x + x^2/2 + x^3 q3(x), with x + x^2/2 summed exactly so tiny x
    // returns x itself and the relative error stays ~0.5 ULP (no cancellation: x^2/2 < |x|/5).
    *k_out = 0;
    T xx = x * x;
    T xx_err = fma_(x, x, -xx);
    DW<T> a = fast_two_sum(x, T(0.5) * xx);
    T tail = fma_(x * xx, exp_q3(x), T(0.5) * xx_err);
    return fast_two_sum(a.hi, a.lo + tail);
  }
  // expm1(x) = 2^k (h + l) - 1 with exp_core's double-word h + l. A = 2^k h is exact (no
  // overflow: k <= kExpm1BigK), A - 1 is formed exactly by Two-Sum, and the low parts are added
  // last, so the cancellation for x < 0 and the "-1" for moderate k are both exact.
  int k;
  DW<T> e = exp_core(x, &k);
  *k_out = k;
  T two_k = pow2i<T>(k);
  DW<T> s = two_sum(e.hi * two_k, T(-1));
  return fast_two_sum(s.hi, s.lo + e.lo * two_k);
}

template <class T> DITTO_HD inline T expm1_impl(T x) {
  using F = Fp<T>;
  if (!(x == x)) return qnan<T>();
  if (x == T(0)) return x;  // keeps the sign of -0
  if (x > F::kExpHi) return inf<T>();
  if (x < F::kExpm1Lo) return T(-1);  // -1 + e^x with e^x < half an ulp of 1: rounds to -1
  if (x > T(F::kExpm1BigK) * T(0.69)) {
    // 2^k >= 2^(2p+3): subtracting 1 moves the value by < 2^-(p+3) ULP; use exp's result.
    int k;
    DW<T> e = exp_core(x, &k);
    return scale(e.hi, k);
  }
  int k;
  return expm1_core(x, &k).hi;
}

// ---- log / log1p -----------------------------------------------------------------------------

/// log(2^e (1 + f)) + extra for f in [sqrt(1/2) - 1, sqrt(2) - 1] given exactly, extra tiny
/// (a first-order correction from log1p). Uses log(1+f) = f - f^2/2 + s (f^2/2 + R(s^2)),
/// s = f/(2+f) (fdlibm's identity), with e*ln2 + f - f^2/2 summed exactly by Two-Sum so that only
/// the small term s(...) (< 0.06 |result|) and the final rounding contribute error.
template <class T> DITTO_HD inline T log_finish(T e, T f, T extra) {
  using F = Fp<T>;
  // s = f / (2 + f) to ~2p bits: 2 + f and the quotient both round, and s multiplies a term of
  // up to 6% of the result, so plain s would cost ~0.15 ULP; s_lo recovers both roundings.
  DW<T> d = fast_two_sum(T(2), f);
  T s = f / d.hi;
  T s_lo = (fma_(-s, d.hi, f) - s * d.lo) / d.hi;
  T z = s * s;
  T ff = f * f;
  T ff_err = fma_(f, f, -ff);  // f^2 == ff + ff_err exactly
  T hfsq = T(0.5) * ff;
  // e*ln2 = p_hi + p_lo: p_hi = e*Hi rounded, its error exact via fma; e*Lo only needs ~p bits.
  T p_hi = e * F::kLn2Hi;
  T p_lo = fma_(e, F::kLn2Lo, fma_(e, F::kLn2Hi, -p_hi));
  DW<T> a = two_sum(p_hi, f);
  DW<T> b = two_sum(a.hi, -hfsq);
  // small = s (f^2/2 + R) + s_lo (...) + extra - ff_err/2, ordered so the biggest part (s * hfsq,
  // ~5% of the result) goes in with the last single rounding (each rounding here costs up to 1/32
  // ULP of the result).
  T r = log_r(z);
  T low = fma_(s_lo, hfsq + r, extra) - T(0.5) * ff_err;
  T small = fma_(s, hfsq, fma_(s, r, low));
  return b.hi + (((a.lo + b.lo) + p_lo) + small);
}

template <class T> DITTO_HD inline T log_impl(T x) {
  using F = Fp<T>;
  using Bits = typename F::Bits;
  if (!(x == x)) return qnan<T>();
  if (x < T(0)) return qnan<T>();     // log(<0) = NaN (including -inf)
  if (x == T(0)) return -inf<T>();    // log(+-0) = -inf
  if (x == inf<T>()) return x;
  int e = 0;
  if (x < F::kMinNormal) {  // subnormal: scale up exactly so the exponent field is meaningful
    x = x * F::kTwoPowP;
    e = -(F::kMant + 1);
  }
  Bits bx = to_bits(x);
  e += int(bx >> F::kMant) - F::kBias;
  // m in [1, 2) from the mantissa bits; fold [sqrt2, 2) to [sqrt2/2, 1) so |log m| <= ln2/2 and the
  // series argument |s| <= 0.1716 (halving is exact).
  T m = from_bits(Bits((bx & F::kMantMask) | (Bits(F::kBias) << F::kMant)));
  if (m > F::kSqrt2) {
    m = m * T(0.5);
    e += 1;
  }
  return log_finish(T(e), m - T(1), T(0));  // m - 1 is exact (Sterbenz)
}

template <class T> DITTO_HD inline T log1p_impl(T x) {
  using F = Fp<T>;
  using Bits = typename F::Bits;
  if (!(x == x)) return qnan<T>();
  if (x < T(-1)) return qnan<T>();
  if (x == T(-1)) return -inf<T>();
  if (x == T(0) || x == inf<T>()) return x;  // keeps -0
  // Small |x|: f = x is exact, no need to form 1 + x at all.
  if (x >= T(-0.29) && x <= T(0.41)) return log_finish(T(0), x, T(0));
  // Otherwise u = 1 + x rounds; Two-Sum gives the exact error c, and
  // log1p(x) = log(u + c) = log(u) + c/u + O((c/u)^2), with |c/u| <= 2^-p.
  DW<T> u = two_sum(T(1), x);
  Bits bu = to_bits(u.hi);  // u.hi >= 2^-p (normal): 1 + x for x > -1 never rounds below that
  int e = int(bu >> F::kMant) - F::kBias;
  T m = from_bits(Bits((bu & F::kMantMask) | (Bits(F::kBias) << F::kMant)));
  if (m > F::kSqrt2) {
    m = m * T(0.5);
    e += 1;
  }
  return log_finish(T(e), m - T(1), u.lo / u.hi);
}

// ---- tanh / sigmoid --------------------------------------------------------------------------

/// (n_hi + n_lo) / (d_hi + d_lo), rounded once (error ~0.5 ULP + 2^-2p relative): q = n_hi/d_hi,
/// then the exact remainder n_hi - q d_hi (one fma) gives the correction.
template <class T> DITTO_HD inline T div_dw(T n_hi, T n_lo, T d_hi, T d_lo) {
  T q = n_hi / d_hi;
  T rem = fma_(-q, d_hi, n_hi);
  return q + (rem + n_lo - q * d_lo) / d_hi;
}

template <class T> DITTO_HD inline T tanh_impl(T x) {
  using F = Fp<T>;
  if (!(x == x)) return qnan<T>();
  if (x == T(0)) return x;  // keeps -0
  T a = abs_(x);
  T r;
  if (a > F::kTanhOne) {
    r = T(1);  // also +-inf
  } else if (a < T(0.5)) {
    // tanh(a) = E / (E + 2), E = expm1(2a) (no cancellation), all in double-word.
    int k;
    DW<T> em = expm1_core(T(2) * a, &k);
    DW<T> d = two_sum(T(2), em.hi);
    r = div_dw(em.hi, em.lo, d.hi, d.lo + em.lo);
  } else {
    // tanh(a) = 1 - 2 / (E + 1), E = exp(2a) in [e, e^18.3]: 1 - q with q <= 0.54 does not cancel.
    int k;
    DW<T> e = exp_core(T(2) * a, &k);
    T two_k = pow2i<T>(k);  // 1 <= k <= 56: exact scaling
    DW<T> d = fast_two_sum(e.hi * two_k, T(1));
    T d_lo = d.lo + e.lo * two_k;
    T q = T(2) / d.hi;
    T q_lo = (fma_(-q, d.hi, T(2)) - q * d_lo) / d.hi;
    DW<T> s = fast_two_sum(T(1), -q);
    r = s.hi + (s.lo - q_lo);
  }
  return x < T(0) ? -r : r;
}

template <class T> DITTO_HD inline T sigmoid_impl(T x) {
  using F = Fp<T>;
  if (!(x == x)) return qnan<T>();
  if (x > F::kSigOne) return T(1);        // also +inf
  if (x < F::kSigExpOnly) return exp_impl(x);  // e/(1+e) == e to 2^-57 relative; no overflow
  // x >= 0: 1 / (1 + e^-x); x < 0: e^x / (1 + e^x). Either way e = exp(-|x|) in (0, 1] never
  // overflows (the naive 1/(1+exp(-x)) would compute exp(+large) for very negative x).
  int k;
  DW<T> e = exp_core(x < T(0) ? x : -x, &k);
  T two_k = pow2i<T>(k);  // k in [-87, 0]: e.hi * 2^k and e.lo * 2^k stay normal, exact
  T e_hi = e.hi * two_k, e_lo = e.lo * two_k;
  DW<T> d = fast_two_sum(T(1), e_hi);
  T d_lo = d.lo + e_lo;
  if (x < T(0)) return div_dw(e_hi, e_lo, d.hi, d_lo);
  return div_dw(T(1), T(0), d.hi, d_lo);
}

// ---- sincos_2pi ------------------------------------------------------------------------------

/// sin(2 pi u), cos(2 pi u). The reduction is exact because the period is 1 in u (no pi in the
/// reduction): u -> r = |u| - nearest integer in [-1/2, 1/2] -> quadrant j = round(4r), t = r - j/4
/// in [-1/8, 1/8]; then sin and cos of 2 pi t by polynomials whose leading terms are double-word.
template <class T> DITTO_HD inline void sincos_2pi_impl(T u, T* s_out, T* c_out) {
  using F = Fp<T>;
  if (!(u - u == T(0))) {  // NaN or +-inf
    *s_out = *c_out = qnan<T>();
    return;
  }
  T a = abs_(u);
  // Nearest integer: for a < 2^(p-1), a + 2^(p-1) lies where the ulp is 1, so the addition rounds a
  // to an integer; above that a is already an integer.
  T n = a < F::kTwoPowPm1 ? (a + F::kTwoPowPm1) - F::kTwoPowPm1 : a;
  T r = a - n;  // exact: both multiples of ulp(a), |r| <= 1/2
  T jf = (T(4) * r + F::kRoundMagic) - F::kRoundMagic;  // -2..2
  T t = fma_(jf, T(-0.25), r);  // exact: |t| <= 1/8, multiple of ulp(r)
  int j = int(jf) & 3;
  T sn, cs;  // sin and cos of 2 pi t
  if (t != T(0) && abs_(t) < F::kSinTiny) {
    // Tiny nonzero t happens only for tiny |u| (elsewhere t is a multiple of ulp(u) >= 2^-27 or
    // 2^-56). sin = 2 pi t to far below an ulp, cos = 1. Computed at t * 2^kSubShift so the hi/lo
    // product split cannot underflow, then scaled back with one rounding (round_subnormal when
    // the result is subnormal); plain evaluation would lose up to 0.5 ULP in the lo parts.
    T ts = t * F::kSubShiftUp;  // exact
    T p = F::k2PiHi * ts;
    DW<T> v = fast_two_sum(p, fma_(F::k2PiHi, ts, -p) + F::k2PiLo * ts);
    sn = abs_(v.hi) < F::kMinNormal * F::kSubShiftUp ? round_subnormal(v, -F::kSubShift)
                                                      : v.hi * F::kSubShiftDown;
    cs = T(1);
  } else {
    T tt = t * t;
    T tt_err = fma_(t, t, -tt);
    // sin(2 pi t) = 2pi t + S1 t^3 + t^5 Ps(t^2). The first two terms (up to 0.785 and 0.08) are
    // formed as double-words (fma gives each product's rounding error exactly; 2pi and S1 are
    // hi + lo constants) and summed exactly, so only the t^5 tail (< 0.0025) is rounded before
    // the final addition.
    T p = F::k2PiHi * t;
    T p_lo = fma_(F::k2PiHi, t, -p) + F::k2PiLo * t;
    T t3 = t * tt;
    T t3_lo = fma_(t, tt, -t3) + t * tt_err;  // t^3 = t3 + t3_lo to ~2p bits
    T m = F::kS1Hi * t3;
    T m_lo = fma_(F::kS1Hi, t3, -m) + fma_(F::kS1Hi, t3_lo, F::kS1Lo * t3);
    DW<T> ps = fast_two_sum(p, m);  // |m| <= |p| / 10
    sn = ps.hi + ((ps.lo + (p_lo + m_lo)) + (t3 * tt) * sin_p(tt));
    // cos(2 pi t) = 1 + C1 t^2 + t^4 Pc(t^2), 1 + C1_hi*tt summed exactly, the rest added last.
    T c1 = F::kC1Hi * tt;
    T c1_lo = fma_(F::kC1Hi, tt, -c1) + fma_(F::kC1Hi, tt_err, F::kC1Lo * tt);
    DW<T> h = fast_two_sum(T(1), c1);
    cs = h.hi + ((h.lo + c1_lo) + (tt * tt) * cos_p(tt));
  }
  T s, c;
  switch (j) {
    case 0: s = sn; c = cs; break;
    case 1: s = cs; c = -sn; break;
    case 2: s = -sn; c = -cs; break;
    default: s = -cs; c = sn; break;
  }
  if (u < T(0)) s = -s;
  // Exact zeros get IEEE 754-2008 sinPi/cosPi signs: sin zero has the sign of u, cos zero is +0.
  if (s == T(0)) s = u * T(0);
  if (c == T(0)) c = T(0);
  *s_out = s;
  *c_out = c;
}

}  // namespace detail

/// e^x, within 1 ULP (docs/math.md). exp(NaN) = NaN, exp(-inf) = +0, exp(+inf) = +inf,
/// overflow -> +inf, gradual underflow to subnormals and +0.
DITTO_HD inline float exp(float x) { return detail::exp_impl(x); }
DITTO_HD inline double exp(double x) { return detail::exp_impl(x); }
/// e^x - 1, accurate near 0. expm1(+-0) = +-0, expm1(-inf) = -1, overflow -> +inf.
DITTO_HD inline float expm1(float x) { return detail::expm1_impl(x); }
DITTO_HD inline double expm1(double x) { return detail::expm1_impl(x); }
/// Natural log. log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, log(1) = +0; subnormals ok.
DITTO_HD inline float log(float x) { return detail::log_impl(x); }
DITTO_HD inline double log(double x) { return detail::log_impl(x); }
/// log(1 + x), accurate near 0. log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+-0) = +-0.
DITTO_HD inline float log1p(float x) { return detail::log1p_impl(x); }
DITTO_HD inline double log1p(double x) { return detail::log1p_impl(x); }
/// Hyperbolic tangent. tanh(+-0) = +-0, tanh(+-inf) = +-1 (and +-1 exactly for |x| >= 9.125 f32,
/// 19.125 f64, where that is the correctly rounded value).
DITTO_HD inline float tanh(float x) { return detail::tanh_impl(x); }
DITTO_HD inline double tanh(double x) { return detail::tanh_impl(x); }
/// Logistic function 1 / (1 + e^-x). sigmoid(-inf) = +0, sigmoid(+inf) = 1; for x < 0 it is
/// computed as e/(1+e), e = e^x, so very negative x gives tiny/subnormal/0 results without
/// overflowing.
DITTO_HD inline float sigmoid(float x) { return detail::sigmoid_impl(x); }
DITTO_HD inline double sigmoid(double x) { return detail::sigmoid_impl(x); }
/// cos(2*pi*u) and sin(2*pi*u) for u in [0, 1) (used by the Box-Muller normal sampler). Any
/// finite u works (period 1, exact reduction); NaN or inf gives NaN in both. Exact zeros: sin has
/// the sign of u, cos is +0.
DITTO_HD inline void sincos_2pi(float u, float* s, float* c) { detail::sincos_2pi_impl(u, s, c); }
DITTO_HD inline void sincos_2pi(double u, double* s, double* c) {
  detail::sincos_2pi_impl(u, s, c);
}

}  // namespace ditto::dmath (or the CPU variant's dmath)
