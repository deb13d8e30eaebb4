// ditto — accuracy report for kernels/common/dmath.h.
//
// For every function and for f32 and f64 it draws N inputs (default 10^7) from the function's
// input distribution (documented in docs/math.md and in `segments_for` below), compares against a
// long double (x87 80-bit, 64-bit significand) reference and prints a markdown table of max and
// mean ULP error, plus the input where the max occurred.
//
// ULP error: |y - ref| / ulp_T(ref), evaluated in long double, where ulp_T(ref) is the spacing of
// the result type T's numbers at ref (2^(e - p + 1) with e = floor(log2 |ref|), clamped below at
// the subnormal spacing 2^(emin - p + 1) and above at the largest binade). Overflowed results
// (y = inf) count as 0 error when ref also rounds to inf.
//
// Usage:
//   ulp_report [--n N] [--seed S]           random inputs, markdown table on stdout
//   ulp_report --exhaustive NAME [--stride K]
//                                           every K-th (default 1) of all 2^32 f32 bit patterns
//                                           for one function (exp expm1 log log1p tanh sigmoid
//                                           sin_2pi cos_2pi); K = 1 takes minutes per function.
//
// Build: g++ -std=c++20 -O2 -march=x86-64-v3 -ffp-contract=off -fno-math-errno -I.
//            bench/ulp_report.cpp -o ulp_report
#include <math.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/common/dmath.h"

namespace {

namespace dm = ditto::dmath;
using LD = long double;

// ---- deterministic RNG ------------------------------------------------------------------------
struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1p-53; }  // [0, 1)
};

// ---- input distributions ----------------------------------------------------------------------
// A segment draws x = center + sign * magnitude, magnitude uniform in [a, b] (kind Uniform) or
// log-uniform in [a, b] (kind LogUniform, a > 0); sign is +1 or -1, or random when 0. The sum is
// formed in double and rounded to T.
enum class Kind { Uniform, LogUniform };
struct Segment {
  Kind kind;
  double a, b;
  int sign;
  double center;
};

template <class T> T draw(SplitMix64& g, const Segment& s) {
  double m = s.kind == Kind::Uniform ? s.a + (s.b - s.a) * g.uniform()
                                     : ::exp2(::log2(s.a) + (::log2(s.b) - ::log2(s.a)) * g.uniform());
  if (s.sign < 0 || (s.sign == 0 && (g.next() >> 63))) m = -m;
  return T(s.center + m);
}

template <class T> constexpr bool is_f32 = sizeof(T) == 4;

// The input distributions, per function. Ranges cover everything where the result is neither
// trivially saturated nor NaN, with extra weight near 0, near thresholds and at subnormals.
template <class T> std::vector<Segment> segments_for(const std::string& fn) {
  const double tiny = is_f32<T> ? 0x1p-149 : 0x1p-1074;
  const double ovf = is_f32<T> ? 88.7228 : 709.7827;       // exp overflow threshold
  const double unf = is_f32<T> ? 103.97 : 745.13;          // exp underflow-to-0 threshold
  const double sub = is_f32<T> ? 87.3365 : 708.3964;       // exp becomes subnormal below -sub
  const double big = is_f32<T> ? 3.4e38 : 1.7e308;
  using K = Kind;
  if (fn == "exp")
    return {{K::Uniform, -unf, ovf, 1, 0}, {K::LogUniform, 0x1p-30, ovf, 0, 0},
            {K::LogUniform, tiny, 0x1p-20, 0, 0}, {K::Uniform, 0, 0.5, 0, ovf - 0.5},
            {K::Uniform, 0, unf - sub + 0.5, 0, -(sub + unf) / 2}};
  if (fn == "expm1")
    return {{K::Uniform, -40, ovf, 1, 0}, {K::LogUniform, 0x1p-40, ovf, 0, 0},
            {K::LogUniform, tiny, 0x1p-20, 0, 0}, {K::Uniform, 0, 1.5, 0, 0},
            {K::Uniform, 0, 0.5, 0, ovf - 0.5}};
  if (fn == "log")
    return {{K::LogUniform, tiny, big, 1, 0}, {K::Uniform, 0, 0.5, 0, 1},
            {K::LogUniform, 0x1p-60, 0x1p-3, 0, 1}, {K::LogUniform, tiny, 0x1p-120, 1, 0}};
  if (fn == "log1p")
    return {{K::LogUniform, tiny, big, 1, 0}, {K::LogUniform, tiny, 1, 1, 0},
            {K::LogUniform, 0x1p-60, 1, 1, -1},  // x in (-1, 0), denser near -1 ...
            {K::LogUniform, tiny, 1, -1, 0},     // ... and near 0
            {K::Uniform, -0.5, 1.0, 1, 0}};
  if (fn == "tanh")
    return {{K::LogUniform, 0x1p-30, 25, 0, 0}, {K::Uniform, 0, 10, 0, 0},
            {K::LogUniform, tiny, 0x1p-20, 0, 0}, {K::Uniform, 0, 1, 0, 0}};
  if (fn == "sigmoid")
    return {{K::Uniform, -unf - 1, 45, 1, 0}, {K::LogUniform, 0x1p-30, 50, 0, 0},
            {K::LogUniform, tiny, 0x1p-20, 0, 0}, {K::Uniform, 0, 20, 0, 0}};
  // sin_2pi / cos_2pi: u in [0, 1), u near the quarter points k/4 where sin or cos is ~0, and
  // tiny u down to the subnormals.
  return {{K::Uniform, 0, 1, 1, 0}, {K::LogUniform, 0x1p-40, 0x1p-4, 1, 0},
          {K::LogUniform, 0x1p-40, 0x1p-4, 0, 0.25}, {K::LogUniform, 0x1p-40, 0x1p-4, 0, 0.5},
          {K::LogUniform, 0x1p-40, 0x1p-4, 0, 0.75}, {K::LogUniform, 0x1p-40, 0x1p-4, -1, 1},
          {K::LogUniform, tiny, 0x1p-40, 0, 0}};
}

template <class T> T draw_input(SplitMix64& g, const std::string& fn, const std::vector<Segment>& seg) {
  (void)fn;
  return draw<T>(g, seg[g.next() % seg.size()]);
}

// ---- reference and ULP ------------------------------------------------------------------------
// sin/cos(2 pi u): the reduction u -> t = u - j/4 is exact (as in dmath), so the reference is
// sinl/cosl of 2 pi t in long double with the quadrant applied exactly. (sinl(2 pi u) directly
// would give e.g. cos(pi/2) ~ 1e-20 instead of 0, an "error" of billions of ULPs.)
inline void ref_sincos_2pi(LD u, LD* s, LD* c) {
  const LD two_pi = 6.283185307179586476925286766559005768L;
  LD n = nearbyintl(u), r = u - n, jf = nearbyintl(4 * r), t = r - jf / 4;
  LD st = sinl(two_pi * t), ct = cosl(two_pi * t);
  switch (int(jf) & 3) {
    case 0: *s = st; *c = ct; break;
    case 1: *s = ct; *c = -st; break;
    case 2: *s = -st; *c = -ct; break;
    default: *s = -ct; *c = st; break;
  }
}

LD reference(const std::string& fn, LD x) {
  if (fn == "exp") return expl(x);
  if (fn == "expm1") return expm1l(x);
  if (fn == "log") return logl(x);
  if (fn == "log1p") return log1pl(x);
  if (fn == "tanh") return tanhl(x);
  if (fn == "sigmoid") return x < 0 ? expl(x) / (1 + expl(x)) : 1 / (1 + expl(-x));
  LD s, c;
  ref_sincos_2pi(x, &s, &c);
  return fn == "sin_2pi" ? s : c;
}

template <class T> T ours(const std::string& fn, T x) {
  if (fn == "exp") return dm::exp(x);
  if (fn == "expm1") return dm::expm1(x);
  if (fn == "log") return dm::log(x);
  if (fn == "log1p") return dm::log1p(x);
  if (fn == "tanh") return dm::tanh(x);
  if (fn == "sigmoid") return dm::sigmoid(x);
  T s, c;
  dm::sincos_2pi(x, &s, &c);
  return fn == "sin_2pi" ? s : c;
}

/// Spacing of T's numbers at |ref| (see file comment).
template <class T> LD ulp_of(LD ref) {
  constexpr int p = is_f32<T> ? 24 : 53, emin = is_f32<T> ? -126 : -1022,
                emax = is_f32<T> ? 127 : 1023;
  int e = ref == 0 ? emin : ilogbl(ref);
  if (e < emin) e = emin;
  if (e > emax) e = emax;
  return ldexpl(1.0L, e - p + 1);
}

/// ULP error of y against ref; NaN/inf mismatches give +inf.
template <class T> LD ulp_error(T y, LD ref) {
  if (isnan(ref) || isnan(y)) return isnan(ref) && isnan(y) ? 0 : INFINITY;
  if (isinf(y) || isinf(ref)) {
    T r = T(ref);  // rounding ref to T tells whether the exact result overflows
    return (isinf(r) && r == y) ? 0 : INFINITY;
  }
  return fabsl(LD(y) - ref) / ulp_of<T>(ref);
}

struct Stat {
  LD max = 0, sum = 0;
  double worst_x = 0;
  uint64_t n = 0;
  void add(LD e, double x) {
    if (n == 0 || e > max) {
      max = e;
      worst_x = x;
    }
    sum += e;
    ++n;
  }
};

template <class T> Stat measure(const std::string& fn, uint64_t n, uint64_t seed) {
  SplitMix64 g{seed};
  auto seg = segments_for<T>(fn);
  Stat st;
  for (uint64_t i = 0; i < n; ++i) {
    T x = draw_input<T>(g, fn, seg);
    st.add(ulp_error<T>(ours<T>(fn, x), reference(fn, LD(x))), double(x));
  }
  return st;
}

/// f32 result vs our own f64 function at the same input (the f64 value as reference).
Stat measure_vs_f64(const std::string& fn, uint64_t n, uint64_t seed) {
  SplitMix64 g{seed};
  auto seg = segments_for<float>(fn);
  Stat st;
  for (uint64_t i = 0; i < n; ++i) {
    float x = draw_input<float>(g, fn, seg);
    st.add(ulp_error<float>(ours<float>(fn, x), LD(ours<double>(fn, double(x)))), double(x));
  }
  return st;
}

int exhaustive(const std::string& fn, uint64_t stride) {
  Stat st;
  uint64_t nan_mismatch = 0;
  for (uint64_t b = 0; b < (1ull << 32); b += stride) {
    uint32_t bits = uint32_t(b);
    float x;
    std::memcpy(&x, &bits, 4);
    if ((fn == "sin_2pi" || fn == "cos_2pi") && isinf(x)) continue;
    LD e = ulp_error<float>(ours<float>(fn, x), reference(fn, LD(x)));
    if (isinf(e)) ++nan_mismatch;
    st.add(e, double(x));
  }
  std::printf("%s f32 exhaustive (stride %llu): %llu inputs, max %.4Lf ULP at x = %a, mean %.5Lf"
              " ULP, special-value mismatches %llu\n",
              fn.c_str(), (unsigned long long)stride, (unsigned long long)st.n, st.max, st.worst_x,
              st.sum / st.n, (unsigned long long)nan_mismatch);
  return nan_mismatch == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = 10000000, seed = 12345, stride = 1;
  std::string exh;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--n" && i + 1 < argc) n = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--exhaustive" && i + 1 < argc) exh = argv[++i];
    else if (a == "--stride" && i + 1 < argc) stride = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: %s [--n N] [--seed S] | --exhaustive NAME [--stride K]\n",
                   argv[0]);
      return 2;
    }
  }
  if (!exh.empty()) return exhaustive(exh, stride ? stride : 1);
  const char* fns[] = {"exp", "expm1", "log", "log1p", "tanh", "sigmoid", "sin_2pi", "cos_2pi"};
  std::printf("N = %llu inputs per function and type, seed %llu; reference: long double\n\n",
              (unsigned long long)n, (unsigned long long)seed);
  std::printf("| function | f32 max ULP | f32 mean ULP | f32 worst x | f64 max ULP | f64 mean ULP"
              " | f64 worst x | f32 vs own f64: max ULP |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  int bad = 0;
  for (const char* f : fns) {
    Stat a = measure<float>(f, n, seed), b = measure<double>(f, n, seed + 1),
         c = measure_vs_f64(f, n, seed);
    std::printf("| %s | %.4Lf | %.5Lf | %a | %.4Lf | %.5Lf | %a | %.4Lf |\n", f, a.max,
                a.sum / a.n, a.worst_x, b.max, b.sum / b.n, b.worst_x, c.max);
    std::fflush(stdout);
    if (isinf(a.max) || isinf(b.max)) bad = 1;
  }
  return bad;
}
