// ditto — CPU elementwise kernels (interface: kernels/elementwise.h; loop driver:
// kernels/cpu/strided_loop.h; element rules: kernels/common/elementwise_rules.h, shared with the
// GPU kernels).
//
// Every result is a function of the same-index input elements only, so thread count, loop order
// and vectorisation cannot change a bit (vectorised + - * / sqrt are the same correctly rounded
// IEEE operations, contraction is off, and no loop here reduces). The op is chosen once per
// inner loop (ew_rules::visit_unary / visit_binary), so every loop body is one element rule and
// vectorises.
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
#include "kernels/common/elementwise_rules.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/strided_loop.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;
using u8 = std::uint8_t;

using ew_rules::convert;
using ew_rules::UnaryArgs;

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

template <class T>
void unary_inner(const void* vctx, char* const* ptrs, const i64* s, i64 n) {
  const UnaryArgs<T> a = *static_cast<const UnaryArgs<T>*>(vctx);
  ew_rules::visit_unary(a.op, [&](auto op) {
    if constexpr (decltype(op)::value == UnaryOp::pow_scalar) {
      ew_rules::visit_pow(a.pow, [&](auto k) {
        map1<T, T>(ptrs, s, n, [a](T x) { return ew_rules::pow_rule<decltype(k)::value>(a, x); });
      });
    } else {
      map1<T, T>(ptrs, s, n, [a](T x) { return ew_rules::unary_rule<decltype(op)::value>(a, x); });
    }
  });
}

// ---- binary --------------------------------------------------------------------------------

struct BinaryCtx {
  BinaryOp op;
  std::atomic<bool>* div_by_zero;  // set by i64 div when a divisor is 0
};

template <class T>
void binary_inner(const void* vctx, char* const* ptrs, const i64* s, i64 n) {
  const BinaryCtx& c = *static_cast<const BinaryCtx*>(vctx);
  ew_rules::visit_binary(c.op, [&](auto op) {
    constexpr BinaryOp Op = decltype(op)::value;
    if constexpr (ew_rules::is_comparison(Op)) {
      map2<u8, T>(ptrs, s, n, [](T a, T b) { return ew_rules::compare_rule<Op>(a, b); });
    } else if constexpr (Op == BinaryOp::div && std::is_same_v<T, i64>) {
      // Its own scalar loop (there is no vector i64 division anyway), so the zero flag is a
      // plain local; the error is raised by binary() once the parallel region is over.
      T* o = reinterpret_cast<T*>(ptrs[0]);
      const T* x = reinterpret_cast<const T*>(ptrs[1]);
      const T* y = reinterpret_cast<const T*>(ptrs[2]);
      bool zero = false;
      for (i64 i = 0; i < n; ++i)
        o[i * s[0]] = ew_rules::binary_rule<Op>(x[i * s[1]], y[i * s[2]], &zero);
      if (zero) c.div_by_zero->store(true, std::memory_order_relaxed);
    } else {
      map2<T, T>(ptrs, s, n, [](T a, T b) { return ew_rules::binary_rule<Op>(a, b, nullptr); });
    }
  });
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
  } else if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 0) {
    // where(cond, x, scalar), e.g. relu's backward: vectorised like the dense case.
    const T bv = b[0];
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = c[i] ? a[i] : bv;
  } else if (s[0] == 1 && s[1] == 1 && s[2] == 0 && s[3] == 1) {
    const T av = a[0];
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = c[i] ? av : b[i];
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
  T v;  // the low bytes of the u64 that fill() passes (x86-64 is little-endian)
  std::memcpy(&v, vctx, sizeof v);
  T* o = reinterpret_cast<T*>(ptrs[0]);
  const i64 os = s[0];
  if (os == 1) {
#pragma omp simd
    for (i64 i = 0; i < n; ++i) o[i] = v;
  } else {
    for (i64 i = 0; i < n; ++i) o[i * os] = v;
  }
}

/// The bit-moving instantiation of Fn for t's element size (u8, u32 or u64).
template <template <class> class Fn>
InnerLoop by_size(DType t) {
  return visit_bits(t,
                    [](auto tag) -> InnerLoop { return &Fn<typename decltype(tag)::type>::run; });
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
  const View* ops[] = {&out, &in};
  visit_dtype(in.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const UnaryArgs<T> args = ew_rules::make_unary_args<T>(op, p);
    run_loop(plan_loop(ops, 2), &unary_inner<T>, &args);
  });
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
  // The value in the output's type, as that type's bits (the low bytes of a little-endian u64).
  const std::uint64_t bits = ew_rules::fill_bits(out.dtype, value);
  const View* ops[] = {&out};
  run_loop(plan_loop(ops, 1), by_size<FillFn>(out.dtype), &bits);
}

const ElementwiseKernels elementwise_table = {
    .unary = &unary, .binary = &binary, .where = &where, .copy = &copy, .fill = &fill};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
