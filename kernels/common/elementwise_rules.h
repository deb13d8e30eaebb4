// ditto — the element rules of the elementwise ops, written once for the CPU kernels
// (kernels/cpu/elementwise.cpp) and the GPU kernels (kernels/cuda/elementwise.cuh, cuda and sim).
// The contract they implement is docs/determinism.md, "Elementwise ops"; in short:
//   neg       -x: floats flip the sign bit (NaN included); i64 wraps (neg(INT64_MIN) == INT64_MIN).
//   abs       floats clear the sign bit (abs(-0) == +0, abs(-NaN) == +NaN); i64 wraps like neg.
//   relu      x <= 0 ? +0 : x (relu(-0) == +0, NaN passes through).
//   exp, log, log1p, sigmoid, tanh: ditto::dmath (kernels/common/dmath.h), never libm / CUDA's.
//   sqrt      IEEE sqrt.
//   clamp     minimum(maximum(x, lo), hi), the bounds converted to the element type.
//   pow_scalar  by PowKind, chosen once per call from the exponent (elementwise_args.h):
//             1, x, x*x, sqrt(x), 1/x; intpow: squaring in a fixed order, then 1/r if p < 0;
//             general, q = T(p): x > 0 → exp(q * log(x)); x == 0 → +0 (q > 0), +inf (q < 0),
//             NaN (q NaN); x < 0 → the positive quiet NaN; x NaN → x.
//   add sub mul  one IEEE operation; i64 (and u8 add) wrap. div: IEEE; i64 truncates toward
//             zero, INT64_MIN / -1 wraps, a zero divisor writes 0 and is reported by the caller.
//   maximum/minimum  IEEE 754-2019: NaN if either is NaN (a's first), -0 < +0.
//   comparisons  IEEE, written as u8 0/1.
//   convert   (copy, fill) same type: the bits; to float: C++ conversion (nearest even);
//             float → i64: truncation, NaN → 0, saturating outside [-2^63, 2^63); → u8: the
//             i64 value modulo 256; u8 → i64: the value.
// Why bit operations rather than `-x`, fabs, fmaxf: PTX leaves the NaN result of neg/abs
// unspecified and fmaxf/fminf are not IEEE 754-2019; the bit forms are what x86 does for -x and
// fabs, so both devices give the same bits.
//
// The op is a template argument: the CPU kernels pick it once per call and run a vectorisable
// loop; the GPU kernels switch per element on a grid-uniform op (elementwise.cuh).
#pragma once
#include <math.h>
#include <stdint.h>

#include <type_traits>

#include "kernels/common/dmath.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/elementwise_args.h"
#include "kernels/common/hd.h"
#include "kernels/elementwise.h"

// In a CPU kernel variant, inside the variant's namespace (kernels/cpu/level.h says why).
#if defined(DITTO_CPU_VARIANT)
#include "kernels/cpu/level.h"
namespace ditto::kernels::cpu::DITTO_CPU_NS::ew_rules {
#else
namespace ditto::kernels::ew_rules {
#endif

using i64 = std::int64_t;
using u64 = std::uint64_t;
using u32 = std::uint32_t;
using u8 = std::uint8_t;
using ew_args::PowKind;

template <class T>
struct Bits;
template <>
struct Bits<float> {
  using U = u32;
  static constexpr U kSign = 0x80000000u;
};
template <>
struct Bits<double> {
  using U = u64;
  static constexpr U kSign = 0x8000000000000000ull;
};

template <class T>
DITTO_HD inline typename Bits<T>::U to_bits(T x) {
  typename Bits<T>::U u;
  __builtin_memcpy(&u, &x, sizeof u);
  return u;
}
template <class T>
DITTO_HD inline T from_bits(typename Bits<T>::U u) {
  T x;
  __builtin_memcpy(&x, &u, sizeof x);
  return x;
}
template <class T>
DITTO_HD inline bool sign_bit(T x) {
  return (to_bits(x) & Bits<T>::kSign) != 0;
}

template <class T>
DITTO_HD inline T wrap_neg(T x) {
  if constexpr (std::is_same_v<T, i64>)
    return static_cast<i64>(u64(0) - static_cast<u64>(x));
  else
    return from_bits<T>(to_bits(x) ^ Bits<T>::kSign);
}

template <class T>
DITTO_HD inline T abs_elem(T x) {
  if constexpr (std::is_same_v<T, i64>)
    return x < 0 ? wrap_neg(x) : x;
  else
    return from_bits<T>(to_bits(x) & ~Bits<T>::kSign);
}

template <class T>
DITTO_HD inline T elem_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    return a != a ? a : b != b ? b : a > b ? a : b > a ? b : sign_bit(a) ? b : a;
  else
    return a > b ? a : b;
}

template <class T>
DITTO_HD inline T elem_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    return a != a ? a : b != b ? b : a < b ? a : b < a ? b : sign_bit(a) ? a : b;
  else
    return a < b ? a : b;
}

/// Float → i64: truncate toward zero, NaN → 0, saturate outside [-2^63, 2^63).
template <class F>
DITTO_HD inline i64 float_to_i64(F x) {
  const F two63 = F(9223372036854775808.0);
  if (x != x) return 0;
  if (x >= two63) return INT64_MAX;
  if (x < -two63) return INT64_MIN;
  return static_cast<i64>(x);  // in range: truncation toward zero (-2^63 itself is exact)
}

/// The copy/fill conversion rule.
template <class To, class From>
DITTO_HD inline To convert(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(x);  // round to nearest even (f64→f32, i64→float); u8 exact
  } else if constexpr (std::is_floating_point_v<From>) {
    const i64 v = float_to_i64(x);
    if constexpr (std::is_same_v<To, i64>)
      return v;
    else
      return static_cast<To>(static_cast<u64>(v));  // modulo 256
  } else {
    return static_cast<To>(x);  // i64 → u8 wraps modulo 256; u8 → i64 keeps the value
  }
}

DITTO_HD inline float sqrt_elem(float x) { return sqrtf(x); }
DITTO_HD inline double sqrt_elem(double x) { return sqrt(x); }

/// PowKind::intpow: exponentiation by squaring in a fixed order, then 1 / r for p < 0 (the
/// special kinds give the same bits; they exist for speed).
template <class T>
DITTO_HD inline T pow_int(T x, unsigned e, bool recip) {
  T r = T(1), b = x;
  for (;;) {
    if (e & 1u) r = r * b;
    e >>= 1;
    if (e == 0) break;
    b = b * b;
  }
  return recip ? T(1) / r : r;
}

/// PowKind::general.
template <class T>
DITTO_HD inline T pow_general(T x, T q) {
  if (x > T(0)) {
    const T l = dmath::log(x);
    const T ql = q * l;  // one rounding (contraction is off everywhere)
    return dmath::exp(ql);
  }
  if (x == T(0)) {
    return q > T(0) ? T(0) : q < T(0) ? dmath::detail::inf<T>() : dmath::detail::qnan<T>();
  }
  return x != x ? x : dmath::detail::qnan<T>();
}

/// Per-call constants of a unary op, in the element type (made on the host once per call).
template <class T>
struct UnaryArgs {
  UnaryOp op = UnaryOp::neg;
  PowKind pow = PowKind::general;
  unsigned e = 0;          // |p| for intpow
  bool recip = false;      // p < 0 for intpow
  T lo = T(0), hi = T(0);  // clamp bounds
  T q = T(0);              // pow general exponent
};

template <class T>
inline UnaryArgs<T> make_unary_args(UnaryOp op, UnaryParams p) {
  UnaryArgs<T> a;
  a.op = op;
  if (op == UnaryOp::clamp) {
    a.lo = convert<T>(p.a);
    a.hi = convert<T>(p.b);
  }
  if (op == UnaryOp::pow_scalar) {
    const ew_args::PowRule r = ew_args::pow_rule(p.a);
    a.pow = r.kind;
    a.e = r.e;
    a.recip = r.recip;
    a.q = static_cast<T>(p.a);
  }
  return a;
}

/// A compile-time constant standing for a runtime value (what the visitors below pass).
template <auto V>
struct Const {
  static constexpr auto value = V;
};

/// f(Const<op>{}) for the runtime op: the one switch over UnaryOp, run once per call by the CPU
/// kernels (outside their loops) and per element by the GPU kernels (a grid-uniform value).
// Called with host lambdas by launchers and with device lambdas by kernels; nvcc checks the
// execution space per instantiation unless told not to.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class F>
DITTO_HD inline decltype(auto) visit_unary(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::neg: return f(Const<UnaryOp::neg>{});
    case UnaryOp::abs: return f(Const<UnaryOp::abs>{});
    case UnaryOp::exp: return f(Const<UnaryOp::exp>{});
    case UnaryOp::log: return f(Const<UnaryOp::log>{});
    case UnaryOp::log1p: return f(Const<UnaryOp::log1p>{});
    case UnaryOp::sqrt: return f(Const<UnaryOp::sqrt>{});
    case UnaryOp::relu: return f(Const<UnaryOp::relu>{});
    case UnaryOp::sigmoid: return f(Const<UnaryOp::sigmoid>{});
    case UnaryOp::tanh: return f(Const<UnaryOp::tanh>{});
    case UnaryOp::pow_scalar: return f(Const<UnaryOp::pow_scalar>{});
    case UnaryOp::clamp: break;
  }
  return f(Const<UnaryOp::clamp>{});
}

/// f(Const<kind>{}) for pow_scalar's kind.
// Called with host lambdas by launchers and with device lambdas by kernels; nvcc checks the
// execution space per instantiation unless told not to.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class F>
DITTO_HD inline decltype(auto) visit_pow(PowKind k, F&& f) {
  switch (k) {
    case PowKind::one: return f(Const<PowKind::one>{});
    case PowKind::identity: return f(Const<PowKind::identity>{});
    case PowKind::square: return f(Const<PowKind::square>{});
    case PowKind::sqrt: return f(Const<PowKind::sqrt>{});
    case PowKind::recip: return f(Const<PowKind::recip>{});
    case PowKind::intpow: return f(Const<PowKind::intpow>{});
    case PowKind::general: break;
  }
  return f(Const<PowKind::general>{});
}

/// f(Const<op>{}) for the runtime binary op (as visit_unary).
// Called with host lambdas by launchers and with device lambdas by kernels; nvcc checks the
// execution space per instantiation unless told not to.
#if defined(__CUDACC__)
#pragma nv_exec_check_disable
#endif
template <class F>
DITTO_HD inline decltype(auto) visit_binary(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::add: return f(Const<BinaryOp::add>{});
    case BinaryOp::sub: return f(Const<BinaryOp::sub>{});
    case BinaryOp::mul: return f(Const<BinaryOp::mul>{});
    case BinaryOp::div: return f(Const<BinaryOp::div>{});
    case BinaryOp::maximum: return f(Const<BinaryOp::maximum>{});
    case BinaryOp::minimum: return f(Const<BinaryOp::minimum>{});
    case BinaryOp::eq: return f(Const<BinaryOp::eq>{});
    case BinaryOp::ne: return f(Const<BinaryOp::ne>{});
    case BinaryOp::lt: return f(Const<BinaryOp::lt>{});
    case BinaryOp::le: return f(Const<BinaryOp::le>{});
    case BinaryOp::gt: return f(Const<BinaryOp::gt>{});
    case BinaryOp::ge: break;
  }
  return f(Const<BinaryOp::ge>{});
}

DITTO_HD constexpr bool is_comparison(BinaryOp op) {
  return op == BinaryOp::eq || op == BinaryOp::ne || op == BinaryOp::lt || op == BinaryOp::le ||
         op == BinaryOp::gt || op == BinaryOp::ge;
}
DITTO_HD constexpr bool is_float_only(UnaryOp op) {
  return op != UnaryOp::neg && op != UnaryOp::abs && op != UnaryOp::relu && op != UnaryOp::clamp;
}

/// pow_scalar of kind K.
template <PowKind K, class T>
DITTO_HD inline T pow_rule(const UnaryArgs<T>& a, T x) {
  if constexpr (!std::is_floating_point_v<T>)
    return x;  // pow is float-only (never called)
  else if constexpr (K == PowKind::one)
    return T(1);
  else if constexpr (K == PowKind::identity)
    return x;
  else if constexpr (K == PowKind::square)
    return x * x;
  else if constexpr (K == PowKind::sqrt)
    return sqrt_elem(x);
  else if constexpr (K == PowKind::recip)
    return T(1) / x;
  else if constexpr (K == PowKind::intpow)
    return pow_int(x, a.e, a.recip);
  else
    return pow_general(x, a.q);
}

/// The unary op Op on one element (pow_scalar: see pow_rule; float-only ops exist for floats).
template <UnaryOp Op, class T>
DITTO_HD inline T unary_rule(const UnaryArgs<T>& a, T x) {
  // Instantiated for every (op, type) by the visitors; combinations the launchers reject
  // (float-only ops on i64, anything on u8) are never called.
  if constexpr (std::is_same_v<T, u8> || (is_float_only(Op) && !std::is_floating_point_v<T>))
    return x;
  else if constexpr (Op == UnaryOp::pow_scalar)
    return visit_pow(a.pow, [&](auto k) -> T { return pow_rule<decltype(k)::value>(a, x); });
  else if constexpr (Op == UnaryOp::neg)
    return wrap_neg(x);
  else if constexpr (Op == UnaryOp::abs)
    return abs_elem(x);
  else if constexpr (Op == UnaryOp::relu)
    return x <= T(0) ? T(0) : x;
  else if constexpr (Op == UnaryOp::clamp)
    return elem_min(elem_max(x, a.lo), a.hi);
  else if constexpr (Op == UnaryOp::exp)
    return dmath::exp(x);
  else if constexpr (Op == UnaryOp::log)
    return dmath::log(x);
  else if constexpr (Op == UnaryOp::log1p)
    return dmath::log1p(x);
  else if constexpr (Op == UnaryOp::sqrt)
    return sqrt_elem(x);
  else if constexpr (Op == UnaryOp::sigmoid)
    return dmath::sigmoid(x);
  else
    return dmath::tanh(x);  // UnaryOp::tanh
}

/// The arithmetic binary op Op (add sub mul div maximum minimum) on one pair; i64 division by
/// zero returns 0 and sets *zero.
template <BinaryOp Op, class T>
DITTO_HD inline T binary_rule(T a, T b, bool* zero) {
  using W = std::conditional_t<std::is_floating_point_v<T>, T, u64>;  // wrapping integer math
  if constexpr (Op == BinaryOp::add)
    return static_cast<T>(W(a) + W(b));
  else if constexpr (Op == BinaryOp::sub)
    return static_cast<T>(W(a) - W(b));
  else if constexpr (Op == BinaryOp::mul)
    return static_cast<T>(W(a) * W(b));
  else if constexpr (Op == BinaryOp::maximum)
    return elem_max(a, b);
  else if constexpr (Op == BinaryOp::minimum)
    return elem_min(a, b);
  else if constexpr (std::is_floating_point_v<T>)
    return a / b;  // BinaryOp::div
  else if constexpr (std::is_same_v<T, u8>)
    return T(0);  // u8 div: rejected by the launchers
  else {
    if (b == 0) {
      *zero = true;
      return T(0);
    }
    return b == -1 ? wrap_neg(a) : a / b;  // INT64_MIN / -1 would trap: wrap instead
  }
}

/// The comparison Op on one pair, as u8 0/1.
template <BinaryOp Op, class T>
DITTO_HD inline u8 compare_rule(T a, T b) {
  if constexpr (Op == BinaryOp::eq)
    return u8(a == b);
  else if constexpr (Op == BinaryOp::ne)
    return u8(a != b);
  else if constexpr (Op == BinaryOp::lt)
    return u8(a < b);
  else if constexpr (Op == BinaryOp::le)
    return u8(a <= b);
  else if constexpr (Op == BinaryOp::gt)
    return u8(a > b);
  else
    return u8(a >= b);  // BinaryOp::ge
}

/// The value a fill writes, converted once on the host: the bits of the output's element (in the
/// low bytes).
inline u64 fill_bits(DType t, double value) {
  return visit_dtype(t, [value](auto tag) -> u64 {
    using T = typename decltype(tag)::type;
    const T v = convert<T>(value);
    if constexpr (std::is_floating_point_v<T>)
      return to_bits(v);
    else
      return static_cast<u64>(v);
  });
}

}  // namespace ditto::kernels::ew_rules (or the CPU variant's)
