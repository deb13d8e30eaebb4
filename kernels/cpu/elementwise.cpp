// ditto — CPU elementwise kernels (interface: kernels/elementwise.h; loop driver:
// kernels/cpu/strided_loop.h).
//
// Every result is a function of the same-index input elements only, so thread count, loop order
// and vectorisation cannot change a bit (vectorised + - * / sqrt are the same correctly rounded
// IEEE operations, contraction is off, and no loop here reduces). The element rules below are
// the determinism contract for these ops; kernels/cuda/elementwise.cuh must implement them
// identically (docs/determinism.md, "Elementwise ops", copies them).
//
// Element rules
//   neg       -x. i64: two's-complement wraparound (neg(INT64_MIN) == INT64_MIN).
//   abs       float: the sign bit cleared (abs(-0) == +0, abs(-NaN) == +NaN). i64: wraps like
//             neg (abs(INT64_MIN) == INT64_MIN).
//   relu      x <= 0 ? +0 : x. So relu(-0) == +0 and relu(NaN) == NaN (the NaN passes through).
//   exp, log, log1p, sigmoid, tanh: ditto::dmath (kernels/common/dmath.h), never libm.
//   sqrt      IEEE sqrt (correctly rounded).
//   clamp     min(max(x, lo), hi) with lo = T(p.a), hi = T(p.b) (float→i64 by the conversion
//             rule below) and max/min as for the binary ops: NaN x stays NaN (a NaN bound makes
//             every result NaN).
//   pow_scalar  x ^ p with p = p.a (f32/f64 only; i64 rejected), decided once per call from p:
//             p == 0                    → 1 (for every x, NaN included)
//             p == 1                    → x
//             p == 2                    → x * x
//             p == 0.5                  → sqrt(x)
//             p == -1                   → 1 / x
//             p integer, |p| <= 64      → exponentiation by squaring, fixed order:
//                                         r = 1; b = x; e = |p|;
//                                         loop { if (e & 1) r = r * b; e >>= 1;
//                                                if (e == 0) break; b = b * b; }
//                                         then r = 1 / r if p < 0.
//                                         (The special cases above give the same bits as this
//                                         loop; they exist for speed.)
//             otherwise, with q = T(p): x > 0 → dmath::exp(q * dmath::log(x));
//                                       x == 0 → +0 if q > 0, +inf if q < 0, NaN if q is NaN;
//                                       x < 0 → the quiet NaN std::numeric_limits<T>::quiet_NaN()
//                                       (positive sign, top mantissa bit only); x NaN → x.
//   add sub mul div  one IEEE operation on the operands (f32 in f32, f64 in f64). i64: add, sub
//             and mul wrap (two's complement); div truncates toward zero, INT64_MIN / -1 wraps to
//             INT64_MIN, and a zero divisor throws ditto::Error("div: integer division by
//             zero") after the kernel finishes (the output is then unspecified). u8: only add
//             (wraps modulo 256), maximum, minimum and the comparisons.
//   maximum/minimum  IEEE 754-2019 maximum/minimum: NaN if either operand is NaN (the first NaN
//             operand is returned, a before b), and -0 < +0 (maximum(-0, +0) == +0,
//             minimum(-0, +0) == -0 in either argument order).
//   eq ne lt le gt ge  IEEE comparisons written as u8 0/1 (a NaN compares unequal to everything,
//             so ne is 1 and the others 0).
//   where     cond != 0 ? a : b, bits copied unchanged.
//   copy/fill conversions (value x of type From to To):
//             same type             → the bits, unchanged (NaN payloads kept).
//             f32 ↔ f64, i64/u8 → float  → C++ conversion, round to nearest even.
//             float → i64           → truncation toward zero; NaN → 0; x >= 2^63 → INT64_MAX;
//                                     x < -2^63 → INT64_MIN (so ±inf saturate).
//             anything → u8         → the i64 value (floats converted by the rule above) modulo
//                                     256 (C++ unsigned conversion): 300.7 → 44, -1.5 → 255,
//                                     NaN → 0.
//             u8 → i64              → the value.
#include "kernels/elementwise.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "core/error.h"
#include "kernels/common/dmath.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/elementwise_args.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/strided_loop.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;
using u8 = std::uint8_t;

// ---- element rules ------------------------------------------------------------------------

template <class T>
inline T wrap_neg(T x) {
  if constexpr (std::is_same_v<T, i64>)
    return static_cast<i64>(u64(0) - static_cast<u64>(x));
  else
    return -x;
}

template <class T>
inline T elem_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    // NaN first (a before b); then the larger; equal values differ only in the sign of zero,
    // and the positive one wins.
    return a != a ? a : b != b ? b : a > b ? a : b > a ? b : std::signbit(a) ? b : a;
  } else {
    return a > b ? a : b;
  }
}

template <class T>
inline T elem_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a != a ? a : b != b ? b : a < b ? a : b < a ? b : std::signbit(a) ? a : b;
  } else {
    return a < b ? a : b;
  }
}

/// Float → i64: truncate toward zero, NaN → 0, saturate outside [-2^63, 2^63).
template <class F>
inline i64 float_to_i64(F x) {
  constexpr F two63 = F(9223372036854775808.0);
  if (x != x) return 0;
  if (x >= two63) return std::numeric_limits<i64>::max();
  if (x < -two63) return std::numeric_limits<i64>::min();
  return static_cast<i64>(x);  // in range: C++ truncates toward zero (-2^63 itself is exact)
}

/// The conversion rule of copy/fill (see the header comment).
template <class To, class From>
inline To convert(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(x);
  } else if constexpr (std::is_floating_point_v<From>) {
    const i64 v = float_to_i64(x);
    if constexpr (std::is_same_v<To, i64>)
      return v;
    else
      return static_cast<To>(static_cast<u64>(v));
  } else {
    return static_cast<To>(x);  // i64 → u8 wraps modulo 256; u8 → i64 keeps the value
  }
}

// pow_scalar, decided once per call from the exponent (shared with the GPU kernels).
using ew_args::pow_rule;
using ew_args::PowKind;
using ew_args::pow_int;
using ew_args::PowRule;

template <class T>
inline T pow_general(T x, T q) {
  if (x > T(0)) return dmath::exp(q * dmath::log(x));
  if (x == T(0)) {
    return q > T(0)   ? T(0)
           : q < T(0) ? std::numeric_limits<T>::infinity()
                      : std::numeric_limits<T>::quiet_NaN();
  }
  return x != x ? x : std::numeric_limits<T>::quiet_NaN();
}

// ---- loop shapes ---------------------------------------------------------------------------
// Operand 0 is the output. The contiguous (and broadcast-scalar) branches are `omp simd` loops:
// that lets GCC vectorise at -O2 (whose default cost model refuses loops needing an epilogue) and
// tells it iterations are independent (an in-place op has out == in, which is fine per element).
// `omp simd` never reassociates anything here: there is no reduction clause.

template <class O, class A, class F>
inline void map1(char* const* ptrs, const i64* s, i64 n, F f) {
  O* o = reinterpret_cast<O*>(ptrs[0]);
  const A* a = reinterpret_cast<const A*>(ptrs[1]);
  const i64 os = s[0], as = s[1];
  if (os == 1 && as == 1) {
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = f(a[i]);
  } else if (as == 0) {
    const O v = f(a[0]);
    for (i64 i = 0; i < n; ++i) o[i * os] = v;
  } else {
    for (i64 i = 0; i < n; ++i) o[i * os] = f(a[i * as]);
  }
}

template <class O, class A, class F>
inline void map2(char* const* ptrs, const i64* s, i64 n, F f) {
  O* o = reinterpret_cast<O*>(ptrs[0]);
  const A* a = reinterpret_cast<const A*>(ptrs[1]);
  const A* b = reinterpret_cast<const A*>(ptrs[2]);
  const i64 os = s[0], as = s[1], bs = s[2];
  if (os == 1 && as == 1 && bs == 1) {
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (os == 1 && as == 1 && bs == 0) {
    const A bv = b[0];
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (os == 1 && as == 0 && bs == 1) {
    const A av = a[0];
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    for (i64 i = 0; i < n; ++i) o[i * os] = f(a[i * as], b[i * bs]);
  }
}

// ---- unary ---------------------------------------------------------------------------------

struct UnaryCtx {
  UnaryOp op;
  UnaryParams p;
  PowRule pow;
};

template <class T>
void unary_inner(const void* vctx, char* const* ptrs, const i64* s, i64 n) {
  const UnaryCtx& c = *static_cast<const UnaryCtx*>(vctx);
  switch (c.op) {
    case UnaryOp::neg: return map1<T, T>(ptrs, s, n, [](T x) { return wrap_neg(x); });
    case UnaryOp::abs:
      if constexpr (std::is_floating_point_v<T>)
        return map1<T, T>(ptrs, s, n, [](T x) { return std::fabs(x); });
      else
        return map1<T, T>(ptrs, s, n, [](T x) { return x < 0 ? wrap_neg(x) : x; });
    case UnaryOp::relu: return map1<T, T>(ptrs, s, n, [](T x) { return x <= T(0) ? T(0) : x; });
    case UnaryOp::clamp: {
      const T lo = convert<T>(c.p.a), hi = convert<T>(c.p.b);
      return map1<T, T>(ptrs, s, n, [lo, hi](T x) { return elem_min(elem_max(x, lo), hi); });
    }
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (c.op) {
      case UnaryOp::exp: return map1<T, T>(ptrs, s, n, [](T x) { return dmath::exp(x); });
      case UnaryOp::log: return map1<T, T>(ptrs, s, n, [](T x) { return dmath::log(x); });
      case UnaryOp::log1p: return map1<T, T>(ptrs, s, n, [](T x) { return dmath::log1p(x); });
      case UnaryOp::sqrt: return map1<T, T>(ptrs, s, n, [](T x) { return std::sqrt(x); });
      case UnaryOp::sigmoid: return map1<T, T>(ptrs, s, n, [](T x) { return dmath::sigmoid(x); });
      case UnaryOp::tanh: return map1<T, T>(ptrs, s, n, [](T x) { return dmath::tanh(x); });
      case UnaryOp::pow_scalar: {
        switch (c.pow.kind) {
          case PowKind::one: return map1<T, T>(ptrs, s, n, [](T) { return T(1); });
          case PowKind::identity: return map1<T, T>(ptrs, s, n, [](T x) { return x; });
          case PowKind::square: return map1<T, T>(ptrs, s, n, [](T x) { return x * x; });
          case PowKind::sqrt: return map1<T, T>(ptrs, s, n, [](T x) { return std::sqrt(x); });
          case PowKind::recip: return map1<T, T>(ptrs, s, n, [](T x) { return T(1) / x; });
          case PowKind::intpow: {
            const unsigned e = c.pow.e;
            const bool recip = c.pow.recip;
            return map1<T, T>(ptrs, s, n, [e, recip](T x) { return pow_int(x, e, recip); });
          }
          case PowKind::general: {
            const T q = static_cast<T>(c.p.a);
            return map1<T, T>(ptrs, s, n, [q](T x) { return pow_general(x, q); });
          }
        }
        return;
      }
      default: return;
    }
  }
}

// ---- binary --------------------------------------------------------------------------------

struct BinaryCtx {
  BinaryOp op;
  std::atomic<bool>* div_by_zero;  // set by i64 div when a divisor is 0
};

template <class T>
void binary_inner(const void* vctx, char* const* ptrs, const i64* s, i64 n) {
  const BinaryCtx& c = *static_cast<const BinaryCtx*>(vctx);
  using W = std::conditional_t<std::is_floating_point_v<T>, T, u64>;  // wrapping arithmetic
  switch (c.op) {
    case BinaryOp::add:
      return map2<T, T>(ptrs, s, n, [](T a, T b) { return static_cast<T>(W(a) + W(b)); });
    case BinaryOp::maximum: return map2<T, T>(ptrs, s, n, [](T a, T b) { return elem_max(a, b); });
    case BinaryOp::minimum: return map2<T, T>(ptrs, s, n, [](T a, T b) { return elem_min(a, b); });
    case BinaryOp::eq: return map2<u8, T>(ptrs, s, n, [](T a, T b) { return u8(a == b); });
    case BinaryOp::ne: return map2<u8, T>(ptrs, s, n, [](T a, T b) { return u8(a != b); });
    case BinaryOp::lt: return map2<u8, T>(ptrs, s, n, [](T a, T b) { return u8(a < b); });
    case BinaryOp::le: return map2<u8, T>(ptrs, s, n, [](T a, T b) { return u8(a <= b); });
    case BinaryOp::gt: return map2<u8, T>(ptrs, s, n, [](T a, T b) { return u8(a > b); });
    case BinaryOp::ge: return map2<u8, T>(ptrs, s, n, [](T a, T b) { return u8(a >= b); });
    default: break;
  }
  if constexpr (!std::is_same_v<T, u8>) {
    switch (c.op) {
      case BinaryOp::sub:
        return map2<T, T>(ptrs, s, n, [](T a, T b) { return static_cast<T>(W(a) - W(b)); });
      case BinaryOp::mul:
        return map2<T, T>(ptrs, s, n, [](T a, T b) { return static_cast<T>(W(a) * W(b)); });
      case BinaryOp::div:
        if constexpr (std::is_floating_point_v<T>) {
          return map2<T, T>(ptrs, s, n, [](T a, T b) { return a / b; });
        } else {
          // Its own scalar loop (there is no vector i64 division anyway), so the zero flag is
          // a plain local; the error is raised by binary() once the parallel region is over.
          T* o = reinterpret_cast<T*>(ptrs[0]);
          const T* a = reinterpret_cast<const T*>(ptrs[1]);
          const T* b = reinterpret_cast<const T*>(ptrs[2]);
          bool zero = false;
          for (i64 i = 0; i < n; ++i) {
            const T x = a[i * s[1]], y = b[i * s[2]];
            T r = 0;
            if (y == 0)
              zero = true;
            else
              r = y == -1 ? wrap_neg(x) : x / y;  // INT64_MIN / -1 would trap: wrap instead
            o[i * s[0]] = r;
          }
          if (zero) c.div_by_zero->store(true, std::memory_order_relaxed);
          return;
        }
      default: return;
    }
  }
}

// ---- where / copy / fill -------------------------------------------------------------------
// where, same-dtype copy and fill move bits, so they are instantiated per element size with
// unsigned integer types (which also keeps NaN payloads intact).

template <class T>
void where_inner(const void*, char* const* ptrs, const i64* s, i64 n) {
  T* o = reinterpret_cast<T*>(ptrs[0]);
  const u8* c = reinterpret_cast<const u8*>(ptrs[1]);
  const T* a = reinterpret_cast<const T*>(ptrs[2]);
  const T* b = reinterpret_cast<const T*>(ptrs[3]);
  if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = c[i] ? a[i] : b[i];
  } else {
    for (i64 i = 0; i < n; ++i) o[i * s[0]] = c[i * s[1]] ? a[i * s[2]] : b[i * s[3]];
  }
}

template <class To, class From>
void copy_inner(const void*, char* const* ptrs, const i64* s, i64 n) {
  if constexpr (std::is_same_v<To, From>) {
    if (s[0] == 1 && s[1] == 1) {
      std::memmove(ptrs[0], ptrs[1], static_cast<std::size_t>(n) * sizeof(To));
      return;
    }
  }
  map1<To, From>(ptrs, s, n, [](From x) { return convert<To>(x); });
}

template <class T>
void fill_inner(const void* vctx, char* const* ptrs, const i64* s, i64 n) {
  const T v = *static_cast<const T*>(vctx);
  T* o = reinterpret_cast<T*>(ptrs[0]);
  const i64 os = s[0];
  if (os == 1) {
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = v;
  } else {
    for (i64 i = 0; i < n; ++i) o[i * os] = v;
  }
}

/// Bit-moving instantiation for an element size (1, 4 or 8 bytes).
template <template <class> class Fn>
InnerLoop by_size(DType t) {
  switch (dtype_size(t)) {
    case 1: return &Fn<std::uint8_t>::run;
    case 4: return &Fn<std::uint32_t>::run;
    default: return &Fn<std::uint64_t>::run;
  }
}
template <class T>
struct WhereFn {
  static void run(const void* c, char* const* p, const i64* s, i64 n) {
    where_inner<T>(c, p, s, n);
  }
};
template <class T>
struct CopyFn {
  static void run(const void* c, char* const* p, const i64* s, i64 n) {
    copy_inner<T, T>(c, p, s, n);
  }
};
template <class T>
struct FillFn {
  static void run(const void* c, char* const* p, const i64* s, i64 n) { fill_inner<T>(c, p, s, n); }
};

template <class To>
InnerLoop copy_from(DType from) {
  return visit_dtype(from, [](auto tag) -> InnerLoop {
    return &copy_inner<To, typename decltype(tag)::type>;
  });
}

}  // namespace

// ---- entry points --------------------------------------------------------------------------

void unary(UnaryOp op, const View& in, const View& out, UnaryParams p) {
  ew_args::check_unary(op, in, out);
  UnaryCtx ctx{op, p, op == UnaryOp::pow_scalar ? pow_rule(p.a) : PowRule{}};
  InnerLoop fn = in.dtype == DType::f32   ? &unary_inner<float>
                 : in.dtype == DType::f64 ? &unary_inner<double>
                                          : &unary_inner<i64>;
  const View* ops[] = {&out, &in};
  run_loop(plan_loop(ops, 2), fn, &ctx);
}

void binary(BinaryOp op, const View& a, const View& b, const View& out) {
  ew_args::check_binary(op, a, b, out);
  std::atomic<bool> div_by_zero{false};
  BinaryCtx ctx{op, &div_by_zero};
  const InnerLoop fn = visit_dtype(
      a.dtype, [](auto tag) -> InnerLoop { return &binary_inner<typename decltype(tag)::type>; });
  const View* ops[] = {&out, &a, &b};
  run_loop(plan_loop(ops, 3), fn, &ctx);
  ew_args::check_no_div_by_zero(div_by_zero.load(), out);
}

void where(const View& cond, const View& a, const View& b, const View& out) {
  ew_args::check_where(cond, a, b, out);
  const View* ops[] = {&out, &cond, &a, &b};
  run_loop(plan_loop(ops, 4), by_size<WhereFn>(out.dtype), nullptr);
}

void copy(const View& in, const View& out) {
  ew_args::check_copy(in, out);
  InnerLoop fn = nullptr;
  if (in.dtype == out.dtype) {
    fn = by_size<CopyFn>(out.dtype);
  } else {
    fn = visit_dtype(out.dtype, [&](auto tag) {
      return copy_from<typename decltype(tag)::type>(in.dtype);
    });
  }
  const View* ops[] = {&out, &in};
  run_loop(plan_loop(ops, 2), fn, nullptr);
}

void fill(const View& out, double value) {
  ew_args::check_fill(out);
  // The value in the output's type, stored as that type's bits.
  alignas(8) unsigned char bits[8] = {};
  switch (out.dtype) {
    case DType::f32: {
      float v = convert<float>(value);
      std::memcpy(bits, &v, 4);
      break;
    }
    case DType::f64: {
      double v = value;
      std::memcpy(bits, &v, 8);
      break;
    }
    case DType::i64: {
      i64 v = convert<i64>(value);
      std::memcpy(bits, &v, 8);
      break;
    }
    case DType::u8: {
      u8 v = convert<u8>(value);
      std::memcpy(bits, &v, 1);
      break;
    }
  }
  const View* ops[] = {&out};
  run_loop(plan_loop(ops, 1), by_size<FillFn>(out.dtype), bits);
}

const ElementwiseKernels elementwise_table = {
    .unary = &unary, .binary = &binary, .where = &where, .copy = &copy, .fill = &fill};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
