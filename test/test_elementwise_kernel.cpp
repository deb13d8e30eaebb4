// ditto — tests of the CPU elementwise kernels (kernels/cpu/elementwise.cpp).
// Every kernel output element must equal, bit for bit, a scalar reference written here from the
// element rules in the kernel's header comment (transcendentals: ditto::dmath called directly),
// for every dtype, for contiguous, transposed, padded, broadcast (stride 0), negative-stride and
// in-place operands, 0-d and empty tensors, sizes on both sides of the vector width and of the
// parallel threshold, and for thread counts 1, 2 and 3. Padding in outputs must stay untouched.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/common/dmath.h"
#include "kernels/elementwise.h"
#include "test/fixtures/views.h"

namespace {

using ditto::DType;
using ditto::kernels::BinaryOp;
using ditto::kernels::UnaryOp;
using ditto::kernels::UnaryParams;
using ditto::kernels::View;
using namespace ditto::test_fixtures;  // test/fixtures/views.h
using u64 = std::uint64_t;
using u8 = std::uint8_t;
using Shape = std::vector<i64>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr i64 kI64Min = std::numeric_limits<i64>::min();
constexpr i64 kI64Max = std::numeric_limits<i64>::max();

/// Restores the thread count a test changed.
struct ThreadsGuard {
  int prev = ditto::get_num_threads();
  ~ThreadsGuard() { ditto::set_num_threads(prev); }
};

/// Calls f(T{}) with the C++ type of dtype t.
template <class F>
void with_type(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::i64: f(i64{}); break;
    case DType::u8: f(u8{}); break;
  }
}

template <class T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <class T>
void store(unsigned char* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// ---- operands ------------------------------------------------------------------------------

/// Memory layout of a test operand.
enum class Layout {
  contiguous,
  transposed,  // stored with the dims reversed (column-major)
  padded,      // innermost stride 2, and 3 spare elements after every outer row
  broadcast,   // the first dim of extent > 1 has stride 0 (inputs only)
  flipped,     // the innermost dim runs backwards (negative stride)
};

const char* layout_name(Layout l) {
  static const char* names[] = {"contiguous", "transposed", "padded", "broadcast", "flipped"};
  return names[static_cast<int>(l)];
}

std::string shape_name(const Shape& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

constexpr unsigned char kSentinel = 0xA5;

/// A strided tensor over its own byte buffer (filled with kSentinel until written).
struct Operand {
  std::vector<unsigned char> mem;
  View v;

  Operand(const Shape& shape, DType t, Layout l) {
    const int nd = static_cast<int>(shape.size());
    const i64 es = static_cast<i64>(ditto::dtype_size(t));
    v.dtype = t;
    v.ndim = nd;
    for (int d = 0; d < nd; ++d) v.shape[d] = shape[d];
    i64 acc = 1;  // row-major (transposed: column-major) strides; padded adds gaps
    for (int i = 0; i < nd; ++i) {
      const int d = l == Layout::transposed ? i : nd - 1 - i;
      v.strides[d] = l != Layout::padded ? acc : i == 0 ? 2 : acc + 3;
      acc = v.strides[d] * shape[d];
    }
    if (l == Layout::broadcast)
      for (int d = 0; d < nd; ++d)
        if (shape[d] > 1) {
          v.strides[d] = 0;
          break;
        }
    if (l == Layout::flipped && nd > 0) v.strides[nd - 1] = -v.strides[nd - 1];
    // Span of the addressed elements; the base sits past the negative-stride extents.
    i64 lo = 0, hi = 0;
    bool empty = false;
    for (int d = 0; d < nd; ++d) {
      if (shape[d] == 0) empty = true;
      const i64 ext = (shape[d] - 1) * v.strides[d];
      (ext < 0 ? lo : hi) += shape[d] > 0 ? ext : 0;
    }
    const i64 span = empty ? 1 : hi - lo + 1;
    mem.assign(static_cast<std::size_t>((span + 2) * es), kSentinel);  // +2: guard elements
    v.data = mem.data() + (1 - lo) * es;
  }

  i64 numel() const { return v.numel(); }
  /// Address of logical (row-major) element `flat`.
  unsigned char* at(i64 flat) const {
    i64 off = 0;
    for (int d = v.ndim - 1; d >= 0; --d) {
      off += (flat % v.shape[d]) * v.strides[d];
      flat /= v.shape[d];
    }
    return static_cast<unsigned char*>(v.data) + off * static_cast<i64>(ditto::dtype_size(v.dtype));
  }
};

/// Random values with the interesting specials mixed in.
template <class T>
T random_value(std::mt19937_64& g) {
  const unsigned r = static_cast<unsigned>(g() % 32);
  if constexpr (std::is_floating_point_v<T>) {
    using L = std::numeric_limits<T>;
    const T specials[] = {
        0,  -T(0),           1,       2, T(0.5), -3, L::infinity(), -L::infinity(), L::quiet_NaN(),
        -1, L::denorm_min(), L::max()};
    if (r < 12) return specials[r];
    const double u = std::uniform_real_distribution<double>(-1, 1)(g);
    if (r < 26) return static_cast<T>(u * 12);  // exp/tanh range
    return static_cast<T>(u * std::ldexp(1.0, static_cast<int>(g() % 200) - 100));  // wide
  } else if constexpr (std::is_same_v<T, i64>) {
    const i64 specials[] = {0, 1, -1, kI64Min, kI64Max, 2, -2};
    if (r < 7) return specials[r];
    if (r < 26) return static_cast<i64>(g() % 201) - 100;
    return static_cast<i64>(g());
  } else {
    return static_cast<T>(g());
  }
}

void fill_random(Operand& op, std::mt19937_64& g) {
  with_type(op.v.dtype, [&](auto tag) {
    using T = decltype(tag);
    for (i64 i = 0; i < op.numel(); ++i) store<T>(op.at(i), random_value<T>(g));
  });
}

/// Bytes of the output buffer that no logical element occupies.
std::vector<bool> occupied(const Operand& op) {
  std::vector<bool> used(op.mem.size(), false);
  const std::size_t es = ditto::dtype_size(op.v.dtype);
  for (i64 i = 0; i < op.numel(); ++i) {
    const std::size_t off = static_cast<std::size_t>(op.at(i) - op.mem.data());
    for (std::size_t b = 0; b < es; ++b) used[off + b] = true;
  }
  return used;
}

/// Little-endian bytes as one hex number (most significant first), for failure messages.
std::string hex_bytes(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string r = "0x";
  for (std::size_t b = n; b-- > 0;) {
    r += digits[p[b] >> 4];
    r += digits[p[b] & 15];
  }
  return r;
}

/// Reference for one output element from the input elements' addresses.
using RefFn = std::function<void(const unsigned char* const* in, unsigned char* out)>;
/// Runs the kernel on (inputs, output).
using RunFn = std::function<void(const std::vector<const View*>& in, const View& out)>;

/// Operands of `shape` in the given dtypes and layouts, filled with random_value().
std::vector<Operand> random_inputs(const Shape& shape, const std::vector<DType>& types,
                                   const std::vector<Layout>& layouts, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<Operand> ins;
  for (std::size_t k = 0; k < types.size(); ++k) {
    ins.emplace_back(shape, types[k], layouts[k]);
    fill_random(ins.back(), g);
  }
  return ins;
}

std::vector<const View*> views_of(const std::vector<Operand>& ops) {
  std::vector<const View*> views;
  for (const Operand& o : ops) views.push_back(&o.v);
  return views;
}

/// Checks one case: random inputs in the given layouts, the kernel vs the reference bit for bit,
/// and the output's padding untouched. `patch` may adjust inputs (e.g. remove zero divisors).
void check_case(const std::string& what, const Shape& shape, const std::vector<DType>& in_types,
                const std::vector<Layout>& in_layouts, DType out_type, Layout out_layout,
                const RunFn& run, const RefFn& ref, std::uint64_t seed,
                const std::function<void(std::vector<Operand>&)>& patch = {}) {
  CAPTURE(what);
  const std::string where_str = shape_name(shape) + " out " + layout_name(out_layout);
  CAPTURE(where_str);
  std::vector<Operand> ins = random_inputs(shape, in_types, in_layouts, seed);
  if (patch) patch(ins);
  Operand out(shape, out_type, out_layout);
  run(views_of(ins), out.v);

  const std::size_t es = ditto::dtype_size(out_type);
  i64 bad = 0;
  std::vector<const unsigned char*> ptrs(ins.size());
  unsigned char expect[8];
  for (i64 i = 0; i < out.numel(); ++i) {
    for (std::size_t k = 0; k < ins.size(); ++k) ptrs[k] = ins[k].at(i);
    ref(ptrs.data(), expect);
    if (std::memcmp(expect, out.at(i), es) != 0 && bad++ < 3) {
      CAPTURE(i);
      std::string inputs;
      for (std::size_t k = 0; k < ins.size(); ++k)
        inputs += hex_bytes(ptrs[k], ditto::dtype_size(ins[k].v.dtype)) + " ";
      const std::string want = hex_bytes(expect, es), got = hex_bytes(out.at(i), es);
      CAPTURE(inputs);
      CAPTURE(want);
      CAPTURE(got);
      FAIL_CHECK("element differs from the reference");
    }
  }
  CHECK(bad == 0);
  const std::vector<bool> used = occupied(out);
  i64 touched = 0;
  for (std::size_t b = 0; b < out.mem.size(); ++b) touched += !used[b] && out.mem[b] != kSentinel;
  CHECK(touched == 0);
}

// ---- scalar references (the element rules, written independently of the kernel) -------------

template <class T>
T ref_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
    if (a == b) return std::signbit(a) ? b : a;
  }
  return a > b ? a : b;
}
template <class T>
T ref_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
    if (a == b) return std::signbit(a) ? a : b;
  }
  return a < b ? a : b;
}

template <class To, class From>
To ref_convert(From x) {
  if constexpr (std::is_floating_point_v<To> || std::is_same_v<To, From>) {
    return static_cast<To>(x);
  } else {
    i64 v;
    if constexpr (std::is_floating_point_v<From>) {
      const From two63 = From(9223372036854775808.0);
      v = std::isnan(x) ? 0 : x >= two63 ? kI64Max : x < -two63 ? kI64Min : i64(std::trunc(x));
    } else {
      v = static_cast<i64>(x);
    }
    return static_cast<To>(static_cast<u64>(v));
  }
}

i64 wrap_neg(i64 x) { return static_cast<i64>(u64(0) - u64(x)); }

template <class T>
T ref_pow(T x, double p) {
  if (p == 0.5) return std::sqrt(x);
  if (std::trunc(p) == p && std::fabs(p) <= 64) {
    T r = 1, b = x;
    for (unsigned e = static_cast<unsigned>(std::fabs(p)); e != 0; e >>= 1) {
      if (e & 1u) r = r * b;
      if (e > 1) b = b * b;
    }
    return p < 0 ? T(1) / r : r;
  }
  const T q = static_cast<T>(p);
  if (std::isnan(x)) return x;
  if (x < 0) return std::numeric_limits<T>::quiet_NaN();
  if (x == 0) return q > 0 ? T(0) : q < 0 ? std::numeric_limits<T>::infinity() : T(NAN);
  return ditto::dmath::exp(q * ditto::dmath::log(x));
}

template <class T>
T ref_unary(UnaryOp op, T x, UnaryParams p) {
  if constexpr (std::is_same_v<T, i64>) {
    switch (op) {
      case UnaryOp::neg: return wrap_neg(x);
      case UnaryOp::abs: return x < 0 ? wrap_neg(x) : x;
      case UnaryOp::relu: return x > 0 ? x : 0;
      case UnaryOp::clamp: return ref_min(ref_max(x, ref_convert<i64>(p.a)), ref_convert<i64>(p.b));
      default: return 0;
    }
  } else {
    namespace dm = ditto::dmath;
    switch (op) {
      case UnaryOp::neg: return -x;
      case UnaryOp::abs: return std::copysign(x, T(1));
      case UnaryOp::relu: return std::isnan(x) ? x : x > 0 ? x : T(0);
      case UnaryOp::exp: return dm::exp(x);
      case UnaryOp::log: return dm::log(x);
      case UnaryOp::log1p: return dm::log1p(x);
      case UnaryOp::sqrt: return std::sqrt(x);
      case UnaryOp::sigmoid: return dm::sigmoid(x);
      case UnaryOp::tanh: return dm::tanh(x);
      case UnaryOp::pow_scalar: return ref_pow(x, p.a);
      case UnaryOp::clamp: return ref_min(ref_max(x, T(p.a)), T(p.b));
    }
    return 0;
  }
}

template <class T>
T ref_arith(BinaryOp op, T a, T b) {
  using W = std::conditional_t<std::is_floating_point_v<T>, T, u64>;  // integers wrap
  switch (op) {
    case BinaryOp::add: return static_cast<T>(W(a) + W(b));
    case BinaryOp::sub: return static_cast<T>(W(a) - W(b));
    case BinaryOp::mul: return static_cast<T>(W(a) * W(b));
    case BinaryOp::div:
      if constexpr (std::is_same_v<T, i64>)
        return b == -1 ? wrap_neg(a) : a / b;
      else
        return a / b;
    case BinaryOp::maximum: return ref_max(a, b);
    default: return ref_min(a, b);
  }
}

template <class T>
bool ref_compare(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::eq: return a == b;
    case BinaryOp::ne: return !(a == b);
    case BinaryOp::lt: return a < b;
    case BinaryOp::le: return a <= b;
    case BinaryOp::gt: return a > b;
    default: return a >= b;
  }
}

bool is_comparison(BinaryOp op) { return static_cast<int>(op) >= static_cast<int>(BinaryOp::eq); }

// ---- the sweep -----------------------------------------------------------------------------

const std::vector<Shape> kSmallShapes = {
    {},     {0},      {3, 0, 2},    {1},          {7},       {1023},         {1025},
    {5, 7}, {33, 31}, {2, 3, 4, 5}, {1, 1, 7, 1}, {2, 1, 3}, {4, 1, 5, 1, 3}};
const std::vector<Shape> kLargeShapes = {{100003}, {317, 331}};

/// (input layouts..., output layout) combinations run on every small shape.
struct LayoutCase {
  Layout in, out;
};
const std::vector<LayoutCase> kUnaryLayouts = {
    {Layout::contiguous, Layout::contiguous}, {Layout::transposed, Layout::contiguous},
    {Layout::contiguous, Layout::transposed}, {Layout::transposed, Layout::transposed},
    {Layout::padded, Layout::padded},         {Layout::broadcast, Layout::contiguous},
    {Layout::flipped, Layout::padded},        {Layout::contiguous, Layout::flipped}};

const UnaryOp kUnaryOps[] = {UnaryOp::neg,   UnaryOp::abs,        UnaryOp::exp,  UnaryOp::log,
                             UnaryOp::log1p, UnaryOp::sqrt,       UnaryOp::relu, UnaryOp::sigmoid,
                             UnaryOp::tanh,  UnaryOp::pow_scalar, UnaryOp::clamp};

bool unary_supports(UnaryOp op, DType t) {
  if (ditto::is_floating(t)) return true;
  return t == DType::i64 &&
         (op == UnaryOp::neg || op == UnaryOp::abs || op == UnaryOp::relu || op == UnaryOp::clamp);
}

void check_unary(UnaryOp op, DType t, UnaryParams p, const Shape& shape, LayoutCase lc,
                 std::uint64_t seed) {
  const std::string what = "unary op " + std::to_string(static_cast<int>(op)) + " " +
                           std::string(ditto::dtype_name(t)) + " p=" + std::to_string(p.a) +
                           " in " + layout_name(lc.in);
  with_type(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, u8>) {
      check_case(
          what, shape, {t}, {lc.in}, t, lc.out,
          [&](const std::vector<const View*>& in, const View& out) {
            ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(op, *in[0], out, p);
          },
          [&](const unsigned char* const* in, unsigned char* out) {
            store<T>(out, ref_unary<T>(op, load<T>(in[0]), p));
          },
          seed);
    }
  });
}

std::vector<UnaryParams> params_for(UnaryOp op) {
  if (op == UnaryOp::pow_scalar)
    return {{0, 0}, {1, 0},  {2, 0},   {0.5, 0}, {-1, 0},  {3, 0},     {-2, 0},
            {7, 0}, {64, 0}, {-33, 0}, {65, 0},  {2.5, 0}, {-0.75, 0}, {1e-3, 0}};
  if (op == UnaryOp::clamp) return {{-1.5, 2.25}, {0, 0}, {-kInf, 1e30}, {3, 3}};
  return {{0, 0}};
}

TEST_SUITE_BEGIN("elementwise_kernel");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE("elementwise kernel: unary ops follow the element rules bit for bit") {
  ThreadsGuard tg;
  ditto::set_num_threads(3);
  std::uint64_t seed = 1;
  for (UnaryOp op : kUnaryOps)
    for (DType t : {DType::f32, DType::f64, DType::i64}) {
      if (!unary_supports(op, t)) continue;
      for (UnaryParams p : params_for(op)) {
        for (const Shape& s : kSmallShapes)
          for (LayoutCase lc : kUnaryLayouts) check_unary(op, t, p, s, lc, seed++);
        // Large sizes: every layout kind for the first parameter, one case for the others.
        const bool first = p.a == params_for(op)[0].a;
        for (const Shape& s : kLargeShapes)
          for (LayoutCase lc : {kUnaryLayouts[0], kUnaryLayouts[1], kUnaryLayouts[3]})
            if (first || (s.size() == 2 && lc.in == lc.out && lc.in == Layout::transposed))
              check_unary(op, t, p, s, lc, seed++);
      }
    }
}

TEST_CASE("elementwise kernel: unary ops in place (out aliases in)") {
  std::mt19937_64 g(7);
  for (Layout l : {Layout::contiguous, Layout::transposed, Layout::padded}) {
    for (const Shape& s : {Shape{1025}, Shape{33, 31}, Shape{317, 331}}) {
      Operand x(s, DType::f32, l);
      fill_random(x, g);
      std::vector<float> before(static_cast<std::size_t>(x.numel()));
      for (i64 i = 0; i < x.numel(); ++i) before[i] = load<float>(x.at(i));
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(UnaryOp::tanh, x.v, x.v, {});
      i64 bad = 0;
      for (i64 i = 0; i < x.numel(); ++i) {
        const float e = ditto::dmath::tanh(before[i]), got = load<float>(x.at(i));
        bad += std::memcmp(&e, &got, 4) != 0;
      }
      CHECK(bad == 0);
    }
  }
}

const BinaryOp kBinaryOps[] = {BinaryOp::add,     BinaryOp::sub,     BinaryOp::mul, BinaryOp::div,
                               BinaryOp::maximum, BinaryOp::minimum, BinaryOp::eq,  BinaryOp::ne,
                               BinaryOp::lt,      BinaryOp::le,      BinaryOp::gt,  BinaryOp::ge};

bool binary_supports(BinaryOp op, DType t) {
  return t != DType::u8 || op == BinaryOp::add || op == BinaryOp::maximum ||
         op == BinaryOp::minimum || is_comparison(op);
}

struct BinaryLayouts {
  Layout a, b, out;
};
const std::vector<BinaryLayouts> kBinaryLayouts = {
    {Layout::contiguous, Layout::contiguous, Layout::contiguous},
    {Layout::contiguous, Layout::broadcast, Layout::contiguous},
    {Layout::broadcast, Layout::contiguous, Layout::contiguous},
    {Layout::transposed, Layout::contiguous, Layout::padded},
    {Layout::padded, Layout::flipped, Layout::transposed},
    {Layout::transposed, Layout::transposed, Layout::transposed}};

void check_binary(BinaryOp op, DType t, const Shape& shape, BinaryLayouts bl, std::uint64_t seed,
                  bool b_scalar = false) {
  const std::string what = "binary op " + std::to_string(static_cast<int>(op)) + " " +
                           std::string(ditto::dtype_name(t)) + " a " + layout_name(bl.a) + " b " +
                           (b_scalar ? "scalar" : layout_name(bl.b));
  const DType out_t = is_comparison(op) ? DType::u8 : t;
  with_type(t, [&](auto tag) {
    using T = decltype(tag);
    auto patch = [&](std::vector<Operand>& ins) {
      if (b_scalar)  // every element of b aliases the first one
        for (int d = 0; d < ins[1].v.ndim; ++d) ins[1].v.strides[d] = 0;
      if (std::is_same_v<T, i64> && op == BinaryOp::div)  // zero divisors are tested elsewhere
        for (i64 i = 0; i < ins[1].numel(); ++i)
          if (load<T>(ins[1].at(i)) == T(0)) store<T>(ins[1].at(i), T(3));
    };
    check_case(
        what, shape, {t, t}, {bl.a, bl.b}, out_t, bl.out,
        [&](const std::vector<const View*>& in, const View& out) {
          ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(op, *in[0], *in[1], out);
        },
        [&](const unsigned char* const* in, unsigned char* out) {
          const T a = load<T>(in[0]), b = load<T>(in[1]);
          if (is_comparison(op)) {
            store<u8>(out, ref_compare(op, a, b) ? 1 : 0);
          } else {
            store<T>(out, ref_arith(op, a, b));
          }
        },
        seed, patch);
  });
}

TEST_CASE("elementwise kernel: binary ops follow the element rules bit for bit") {
  ThreadsGuard tg;
  ditto::set_num_threads(3);
  std::uint64_t seed = 1000;
  for (BinaryOp op : kBinaryOps)
    for (DType t : {DType::f32, DType::f64, DType::i64, DType::u8}) {
      if (!binary_supports(op, t)) continue;
      for (const Shape& s : kSmallShapes) {
        for (const BinaryLayouts& bl : kBinaryLayouts) check_binary(op, t, s, bl, seed++);
        check_binary(op, t, s, kBinaryLayouts[0], seed++, /*b_scalar=*/true);
      }
      check_binary(op, t, kLargeShapes[0], kBinaryLayouts[0], seed++, /*b_scalar=*/true);
      check_binary(op, t, kLargeShapes[1], kBinaryLayouts[1], seed++);
      check_binary(op, t, kLargeShapes[1], kBinaryLayouts[5], seed++);
    }
}

TEST_CASE("elementwise kernel: where selects bits") {
  ThreadsGuard tg;
  ditto::set_num_threads(3);
  std::uint64_t seed = 5000;
  const std::vector<std::vector<Layout>> layouts = {
      {Layout::contiguous, Layout::contiguous, Layout::contiguous, Layout::contiguous},
      {Layout::broadcast, Layout::contiguous, Layout::transposed, Layout::contiguous},
      {Layout::transposed, Layout::broadcast, Layout::flipped, Layout::padded},
      {Layout::padded, Layout::padded, Layout::broadcast, Layout::transposed}};
  for (DType t : {DType::f32, DType::f64, DType::i64, DType::u8})
    for (const auto* shapes : {&kSmallShapes, &kLargeShapes})
      for (const Shape& s : *shapes)
        for (const auto& l : layouts) {
          if (shapes == &kLargeShapes && &l != &layouts[0] && &l != &layouts.back()) continue;
          const std::size_t es = ditto::dtype_size(t);
          check_case(
              std::string("where ") + std::string(ditto::dtype_name(t)), s, {DType::u8, t, t},
              {l[0], l[1], l[2]}, t, l[3],
              [&](const std::vector<const View*>& in, const View& out) {
                ditto::kernels::elementwise_kernels(ditto::Device::cpu())
                    .where(*in[0], *in[1], *in[2], out);
              },
              [&](const unsigned char* const* in, unsigned char* out) {
                std::memcpy(out, *in[0] ? in[1] : in[2], es);
              },
              seed++, [](std::vector<Operand>& ins) {  // as many false as true conditions
                for (i64 i = 0; i < ins[0].numel(); ++i) *ins[0].at(i) &= 1;
              });
        }
}

TEST_CASE("elementwise kernel: copy converts between all dtypes") {
  ThreadsGuard tg;
  ditto::set_num_threads(3);
  std::uint64_t seed = 9000;
  const std::vector<LayoutCase> layouts = {{Layout::contiguous, Layout::contiguous},
                                           {Layout::transposed, Layout::contiguous},
                                           {Layout::broadcast, Layout::padded},
                                           {Layout::flipped, Layout::transposed}};
  const DType all[] = {DType::f32, DType::f64, DType::i64, DType::u8};
  for (DType from : all)
    for (DType to : all)
      for (const auto* shapes : {&kSmallShapes, &kLargeShapes})
        for (const Shape& s : *shapes)
          for (LayoutCase lc : layouts) {
            if (shapes == &kLargeShapes && lc.in != Layout::flipped && lc.in != Layout::transposed)
              continue;
            with_type(from, [&](auto ftag) {
              with_type(to, [&](auto ttag) {
                using F = decltype(ftag);
                using T = decltype(ttag);
                check_case(
                    std::string("copy ") + std::string(ditto::dtype_name(from)) + "->" +
                        std::string(ditto::dtype_name(to)) + " in " + layout_name(lc.in),
                    s, {from}, {lc.in}, to, lc.out,
                    [&](const std::vector<const View*>& in, const View& out) {
                      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).copy(*in[0], out);
                    },
                    [&](const unsigned char* const* in, unsigned char* out) {
                      if constexpr (std::is_same_v<F, T>)
                        std::memcpy(out, in[0], sizeof(T));  // bits, NaN payloads included
                      else
                        store<T>(out, ref_convert<T>(load<F>(in[0])));
                    },
                    seed++);
              });
            });
          }
}

TEST_CASE("elementwise kernel: fill writes the converted value") {
  ThreadsGuard tg;
  ditto::set_num_threads(3);
  for (double value : {0.0, -0.0, 1.5, -2.7, 300.7, -1.5, kNaN, kInf, -kInf, 1e30, 0.1})
    for (DType t : {DType::f32, DType::f64, DType::i64, DType::u8})
      for (const Shape& s : {Shape{}, Shape{0}, Shape{7}, Shape{33, 31}, Shape{317, 331}})
        for (Layout l : {Layout::contiguous, Layout::padded, Layout::transposed}) {
          if (s.size() == 2 && s[0] == 317 && l != Layout::padded) continue;
          with_type(t, [&](auto tag) {
            using T = decltype(tag);
            check_case(
                "fill " + std::to_string(value) + " " + std::string(ditto::dtype_name(t)), s, {},
                {}, t, l,
                [&](const std::vector<const View*>&, const View& out) {
                  ditto::kernels::elementwise_kernels(ditto::Device::cpu()).fill(out, value);
                },
                [&](const unsigned char* const*, unsigned char* out) {
                  store<T>(out, ref_convert<T>(value));
                },
                1);
          });
        }
}

// ---- thread counts -------------------------------------------------------------------------

TEST_CASE("elementwise kernel: bits do not depend on the thread count (1, 2, 3)") {
  ThreadsGuard tg;
  // Runs `run` on the same random operands at 1, 2 and 3 threads; the whole output buffers
  // (padding included) must be identical.
  auto sweep = [](const std::string& name, std::vector<DType> in_types, std::vector<Layout> in_l,
                  DType out_type, Layout out_l, const RunFn& run) {
    CAPTURE(name);
    for (const Shape& s : {Shape{100003}, Shape{317, 331}, Shape{3, 65, 257}}) {
      const std::string shape_str = shape_name(s);
      CAPTURE(shape_str);
      std::vector<unsigned char> first;
      for (int threads : {1, 2, 3}) {
        ditto::set_num_threads(threads);
        std::vector<Operand> ins = random_inputs(s, in_types, in_l, 42);
        Operand out(s, out_type, out_l);
        run(views_of(ins), out.v);
        if (threads == 1)
          first = out.mem;
        else
          CHECK(out.mem == first);
      }
    }
  };
  for (UnaryOp op : kUnaryOps)
    for (DType t : {DType::f32, DType::f64})
      sweep("unary " + std::to_string(static_cast<int>(op)), {t}, {Layout::transposed}, t,
            Layout::contiguous, [op](const std::vector<const View*>& in, const View& out) {
              ditto::kernels::elementwise_kernels(ditto::Device::cpu())
                  .unary(op, *in[0], out, {2.5, 3.0});
            });
  for (BinaryOp op : {BinaryOp::add, BinaryOp::div, BinaryOp::maximum, BinaryOp::lt})
    for (DType t : {DType::f32, DType::f64})
      sweep("binary " + std::to_string(static_cast<int>(op)), {t, t},
            {Layout::contiguous, Layout::broadcast}, is_comparison(op) ? DType::u8 : t,
            Layout::padded, [op](const std::vector<const View*>& in, const View& out) {
              ditto::kernels::elementwise_kernels(ditto::Device::cpu())
                  .binary(op, *in[0], *in[1], out);
            });
  sweep("where", {DType::u8, DType::f32, DType::f32},
        {Layout::contiguous, Layout::transposed, Layout::broadcast}, DType::f32, Layout::contiguous,
        [](const std::vector<const View*>& in, const View& out) {
          ditto::kernels::elementwise_kernels(ditto::Device::cpu())
              .where(*in[0], *in[1], *in[2], out);
        });
  sweep("copy f64->i64", {DType::f64}, {Layout::flipped}, DType::i64, Layout::transposed,
        [](const std::vector<const View*>& in, const View& out) {
          ditto::kernels::elementwise_kernels(ditto::Device::cpu()).copy(*in[0], out);
        });
  sweep("fill", {}, {}, DType::f32, Layout::padded,
        [](const std::vector<const View*>&, const View& out) {
          ditto::kernels::elementwise_kernels(ditto::Device::cpu()).fill(out, -2.5);
        });
}

// ---- specific rules ------------------------------------------------------------------------

template <class T>
std::vector<T> unary_vec(UnaryOp op, std::vector<T> x, UnaryParams p = {}) {
  std::vector<T> y(x.size());
  ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(op, view_of(x), view_of(y), p);
  return y;
}

template <class T, class O = T>
std::vector<O> binary_vec(BinaryOp op, std::vector<T> a, std::vector<T> b) {
  std::vector<O> y(a.size());
  ditto::kernels::elementwise_kernels(ditto::Device::cpu())
      .binary(op, view_of(a), view_of(b), view_of(y));
  return y;
}

/// copy of one value (0-d views) from From to To.
template <class To, class From>
To copy_one(From x) {
  std::vector<From> in{x};
  std::vector<To> out(1);
  View vi = view_of(in), vo = view_of(out);
  vi.ndim = vo.ndim = 0;
  ditto::kernels::elementwise_kernels(ditto::Device::cpu()).copy(vi, vo);
  return out[0];
}

template <class T>
bool bits_eq(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// Element by element: the same bits, or both NaN (NaN payloads are not part of these checks).
template <class T>
bool same(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!bits_eq(got[i], want[i]) && !(std::isnan(got[i]) && std::isnan(want[i]))) return false;
  return true;
}

TEST_CASE("elementwise kernel: pow_scalar rule") {
  using V = std::vector<double>;
  const double nan = kNaN;
  // p == 0 gives 1 even for NaN and inf; integer exponents keep the sign of negative bases.
  CHECK(same(unary_vec<double>(UnaryOp::pow_scalar, {nan, kInf, -3, 0}, {0, 0}), V{1, 1, 1, 1}));
  CHECK(same(unary_vec<double>(UnaryOp::pow_scalar, {2, -2, 0.5, -0.0}, {3, 0}),
             V{8, -8, 0.125, -0.0}));
  CHECK(same(unary_vec<double>(UnaryOp::pow_scalar, {-2, 0, 4, -0.0}, {-2, 0}),
             V{0.25, kInf, 0.0625, kInf}));
  // The squaring order: x^5 = (1*x) * ((x*x)*(x*x)), x^6 = (1*(x*x)) * ((x*x)*(x*x)).
  const float x = 1.1f, x2 = x * x, x4 = x2 * x2;
  CHECK(bits_eq(unary_vec<float>(UnaryOp::pow_scalar, {x}, {5, 0})[0], x * x4));
  CHECK(bits_eq(unary_vec<float>(UnaryOp::pow_scalar, {x}, {6, 0})[0], x2 * x4));
  CHECK(bits_eq(unary_vec<float>(UnaryOp::pow_scalar, {x}, {-6, 0})[0], 1 / (x2 * x4)));
  // p = 0.5 is sqrt (so pow(-0, 0.5) = -0 and negative bases give NaN).
  CHECK(same(unary_vec<double>(UnaryOp::pow_scalar, {4, 2, -1, -0.0}, {0.5, 0}),
             V{2, std::sqrt(2.0), nan, -0.0}));
  // General exponents: exp(p * log x) with ditto's functions; x == 0, x < 0 and NaN rules.
  namespace dm = ditto::dmath;
  const V g = unary_vec<double>(UnaryOp::pow_scalar, {3, 0, -2, nan, kInf}, {2.5, 0});
  CHECK(same(g, V{dm::exp(2.5 * dm::log(3.0)), 0, nan, nan, kInf}));
  CHECK(bits_eq(g[2], std::numeric_limits<double>::quiet_NaN()));  // the documented NaN
  CHECK(same(unary_vec<double>(UnaryOp::pow_scalar, {0, -1}, {-2.5, 0}), V{kInf, nan}));
  CHECK(same(unary_vec<double>(UnaryOp::pow_scalar, {0, 2}, {nan, 0}), V{nan, nan}));
  // |p| > 64 integers use the general path: negative bases give NaN.
  CHECK(same(unary_vec<double>(UnaryOp::pow_scalar, {-1, 1}, {65, 0}),
             V{nan, dm::exp(65.0 * dm::log(1.0))}));
  // f32 converts p to f32 before the general path.
  CHECK(bits_eq(unary_vec<float>(UnaryOp::pow_scalar, {3.0f}, {0.1, 0})[0],
                dm::exp(0.1f * dm::log(3.0f))));
  CHECK_THROWS_AS(unary_vec<i64>(UnaryOp::pow_scalar, {2}, {2, 0}), ditto::Error);
}

TEST_CASE("elementwise kernel: NaN, signed zero and wraparound rules") {
  using V = std::vector<double>;
  using F = std::vector<float>;
  using I = std::vector<i64>;
  const double nan = kNaN;
  const float fnan = NAN;
  CHECK(same(unary_vec<double>(UnaryOp::clamp, {nan, -0.0, 5, -5, 1}, {0, 2}), V{nan, 0, 2, 0, 1}));
  CHECK(same(unary_vec<double>(UnaryOp::clamp, {-0.0, 0.0}, {-1, -0.0}), V{-0.0, -0.0}));
  CHECK(same(unary_vec<float>(UnaryOp::relu, {fnan, -0.0f, -1, 2}), F{fnan, 0, 0, 2}));
  const V a = unary_vec<double>(UnaryOp::abs, {-0.0, -nan, -kInf});
  CHECK(same(a, V{0, nan, kInf}));
  CHECK(!std::signbit(a[1]));
  CHECK(same(binary_vec<double>(BinaryOp::maximum, {nan, 1, -0.0, 0.0, 2}, {1, nan, 0.0, -0.0, 3}),
             V{nan, nan, 0, 0, 3}));
  CHECK(same(binary_vec<float>(BinaryOp::minimum, {fnan, 1, -0.0f, 0.0f}, {1, fnan, 0.0f, -0.0f}),
             F{fnan, fnan, -0.0f, -0.0f}));
  CHECK(binary_vec<double, u8>(BinaryOp::ne, {nan, 1}, {nan, 1}) == std::vector<u8>{1, 0});
  CHECK(binary_vec<double, u8>(BinaryOp::eq, {nan, -0.0}, {nan, 0.0}) == std::vector<u8>{0, 1});
  // i64 wraps instead of overflowing.
  CHECK(unary_vec<i64>(UnaryOp::neg, {kI64Min, 5}) == I{kI64Min, -5});
  CHECK(unary_vec<i64>(UnaryOp::abs, {kI64Min, -7}) == I{kI64Min, 7});
  CHECK(binary_vec<i64>(BinaryOp::add, {kI64Max}, {1}) == I{kI64Min});
  CHECK(binary_vec<i64>(BinaryOp::mul, {kI64Max}, {2}) == I{-2});
  CHECK(binary_vec<u8>(BinaryOp::add, {200, 255}, {100, 1}) == std::vector<u8>{44, 0});
  // Integer clamp bounds convert like copy: -inf saturates, 2.9 truncates.
  CHECK(unary_vec<i64>(UnaryOp::clamp, {kI64Min, 10, 3}, {-kInf, 2.9}) == I{kI64Min, 2, 2});
}

TEST_CASE("elementwise kernel: integer division truncates and rejects zero divisors") {
  CHECK(binary_vec<i64>(BinaryOp::div, {-7, 7, 7, -7, kI64Min, kI64Min, 0},
                        {2, -2, 2, -2, -1, 1, 5}) ==
        std::vector<i64>{-3, -3, 3, 3, kI64Min, kI64Min, 0});
  try {
    binary_vec<i64>(BinaryOp::div, {1, 2, 3}, {1, 0, 1});
    FAIL("expected ditto::Error");
  } catch (const ditto::Error& e) {
    CHECK(std::string(e.what()).find("div: integer division by zero") != std::string::npos);
  }
  // A zero divisor deep in a parallel run is reported after the parallel region.
  ThreadsGuard tg;
  for (int threads : {1, 2, 3}) {
    ditto::set_num_threads(threads);
    std::vector<i64> a(100003, 6), b(100003, 2);
    b[99999] = 0;
    CHECK_THROWS_AS(binary_vec<i64>(BinaryOp::div, a, b), ditto::Error);
  }
  // Float division by zero is IEEE.
  CHECK(same(binary_vec<double>(BinaryOp::div, {1, -1, 0}, {0, 0, 0}), {kInf, -kInf, kNaN}));
}

TEST_CASE("elementwise kernel: copy conversion rules") {
  CHECK(copy_one<i64>(kNaN) == 0);
  CHECK(copy_one<i64>(kInf) == kI64Max);
  CHECK(copy_one<i64>(-kInf) == kI64Min);
  CHECK(copy_one<i64>(1e19) == kI64Max);
  CHECK(copy_one<i64>(-1e19) == kI64Min);
  CHECK(copy_one<i64>(9223372036854775808.0) == kI64Max);
  CHECK(copy_one<i64>(-9223372036854775808.0) == kI64Min);
  CHECK(copy_one<i64>(9223371487098961920.0f) == 9223371487098961920LL);  // largest f32 < 2^63
  CHECK(copy_one<i64>(-2.7) == -2);
  CHECK(copy_one<i64>(2.7f) == 2);
  CHECK(copy_one<i64>(-0.0) == 0);
  CHECK(copy_one<u8>(300.7) == 44);
  CHECK(copy_one<u8>(-1.5) == 255);
  CHECK(copy_one<u8>(kNaN) == 0);
  CHECK(copy_one<u8>(std::numeric_limits<float>::infinity()) == 255);  // INT64_MAX mod 256
  CHECK(copy_one<u8>(i64(-1)) == 255);
  CHECK(copy_one<u8>(i64(256 + 7)) == 7);
  CHECK(copy_one<i64>(u8(200)) == 200);
  CHECK(copy_one<double>(i64((1LL << 53) + 1)) == 9007199254740992.0);  // ties to even
  CHECK(bits_eq(copy_one<float>(0.1), 0.1f));
  CHECK(bits_eq(copy_one<float>(-0.0), -0.0f));
  CHECK(copy_one<double>(u8(255)) == 255.0);
  // Same dtype copies bits, NaN payload included.
  double payload;
  const u64 payload_bits = 0x7ff8000000012345ULL;
  std::memcpy(&payload, &payload_bits, 8);
  CHECK(bits_eq(copy_one<double>(payload), payload));
}

TEST_CASE("elementwise kernel: bad arguments throw ditto::Error") {
  std::vector<double> buf(8);
  std::vector<u8> ubuf(8);
  std::vector<i64> ibuf(8);
  const View f8 = view_of(buf), u = view_of(ubuf), i = view_of(ibuf);
  View f24 = f8;  // the same memory as [2,4]
  f24.ndim = 2;
  f24.shape[0] = 2;
  f24.shape[1] = 4;
  f24.strides[0] = 4;
  f24.strides[1] = 1;
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(UnaryOp::exp, i, i, {}),
      ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(UnaryOp::neg, u, u, {}),
      ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(UnaryOp::neg, f8, i, {}),
      ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(UnaryOp::neg, f8, f24, {}),
      ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(BinaryOp::sub, u, u, u),
      ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(BinaryOp::div, u, u, u),
      ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(BinaryOp::add, f8, i, f8),
      ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(BinaryOp::lt, f8, f8, f8),
      ditto::Error);  // output must be u8
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(BinaryOp::add, f8, f24, f8),
      ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::cpu()).where(f8, f8, f8, f8),
                  ditto::Error);  // condition must be u8
  CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::cpu()).where(u, i, f8, f8),
                  ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::cpu()).copy(f8, f24),
                  ditto::Error);
  std::string msg;
  try {
    ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(BinaryOp::add, f8, f24, f8);
  } catch (const ditto::Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("add") != std::string::npos);
  CHECK(msg.find("[2,4]") != std::string::npos);
}

}  // namespace

TEST_SUITE_END();
