// ditto — tests of the GPU elementwise and random-fill kernels (kernels/cuda/elementwise.cuh,
// kernels/cuda/random.cuh) on the sim device. Every sim result must equal the CPU kernel's
// (kernels/cpu/elementwise.cpp, kernels/cpu/random.cpp) bit for bit — for every op and dtype,
// contiguous, broadcast (stride-0), transposed, padded and 0-d views, odd sizes, several sim
// schedule seeds and forced launch configurations. Bit-moving and sign/selection ops are compared
// byte for byte (NaN payloads included); arithmetic results compare NaN as "is NaN", as
// docs/determinism.md specifies (a real GPU returns its canonical NaN, x86 the input's payload).
// Output buffers are pre-filled with a sentinel and compared whole, so a write outside the view
// (into padding) shows up as a difference too.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/elementwise.h"
#include "kernels/launch_config.h"
#include "kernels/random.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/views.h"

namespace {

using ditto::DType;
using ditto::kernels::BinaryOp;
using ditto::kernels::LaunchOverride;
using ditto::kernels::LaunchOverrideGuard;
using ditto::kernels::RandomDist;
using ditto::kernels::UnaryOp;
using ditto::kernels::UnaryParams;
using ditto::kernels::View;
using ditto::sim::Order;
using ditto::sim::Schedule;
using ditto::sim::ScheduleGuard;
using namespace ditto::test_fixtures;  // test/fixtures/views.h
using u64 = std::uint64_t;

constexpr DType kAll[] = {DType::f32, DType::f64, DType::i64, DType::u8};

// ---- launch configurations -------------------------------------------------------------------

/// A sim schedule, a worker count and a forced launch configuration (0 = the kernel's choice).
struct Config {
  Order order;
  u64 seed;
  int workers, blocks, threads;
};

/// Cases rotate through these, so every op meets several schedules and grid/block shapes;
/// "every configuration" tests run ops under all of them.
const Config kConfigs[] = {
    {Order::kInOrder, 0, 1, 0, 0}, {Order::kRandom, 1, 1, 0, 0},    {Order::kRandom, 2, 1, 1, 32},
    {Order::kRandom, 3, 2, 3, 96}, {Order::kRandom, 4, 1, 64, 256}, {Order::kRandom, 5, 2, 3, 0},
    {Order::kRandom, 6, 1, 0, 96}, {Order::kRandom, 7, 2, 1, 256},  {Order::kRandom, 8, 1, 64, 32},
};
constexpr int kNumConfigs = sizeof(kConfigs) / sizeof(kConfigs[0]);

/// Runs f under configuration c.
void under(const Config& c, const std::function<void()>& f) {
  ScheduleGuard g(Schedule{c.order, c.seed}, c.workers);
  LaunchOverrideGuard lo(LaunchOverride{c.blocks, c.threads});
  f();
}

/// The next configuration of the rotation.
const Config& next_config() {
  static int k = 0;
  return kConfigs[k++ % kNumConfigs];
}

std::string describe(const Config& c) {
  return std::string(c.order == Order::kInOrder ? "inorder" : "random") + " seed " +
         std::to_string(c.seed) + " workers " + std::to_string(c.workers) + " blocks " +
         std::to_string(c.blocks) + " threads " + std::to_string(c.threads);
}

// ---- test data -------------------------------------------------------------------------------

template <class T>
std::vector<T> specials() {
  if constexpr (std::is_floating_point_v<T>) {
    using L = std::numeric_limits<T>;
    return {T(0),
            -T(0),
            T(1),
            T(-1),
            T(0.5),
            T(2),
            T(-2.5),
            T(3),
            L::infinity(),
            -L::infinity(),
            L::quiet_NaN(),
            -L::quiet_NaN(),
            L::denorm_min(),
            -L::denorm_min(),
            L::min(),
            L::max(),
            -L::max(),
            T(300.7),
            T(-1.5),
            T(255.5),
            T(256),
            T(-0.999),
            T(9223372036854775808.0),
            T(-9223372036854775808.0),
            T(1.8e19),
            T(-1e30),
            T(88.7),
            T(-104),
            T(710),
            T(20),
            T(-20),
            T(1e-7)};
  } else if constexpr (std::is_same_v<T, i64>) {
    using L = std::numeric_limits<i64>;
    return {0,
            1,
            -1,
            2,
            -2,
            7,
            -7,
            255,
            256,
            -256,
            L::min(),
            L::max(),
            L::min() + 1,
            i64(1) << 53,
            (i64(1) << 53) + 1,
            (i64(1) << 24) + 1,
            -(i64(1) << 62)};
  } else {
    return {0, 1, 2, 127, 128, 254, 255};
  }
}

/// A random element of T: specials a quarter of the time, otherwise values of varied magnitude.
template <class T>
T random_value(std::mt19937_64& g) {
  static const std::vector<T> sp = specials<T>();
  if (g() % 4 == 0) return sp[g() % sp.size()];
  if constexpr (std::is_floating_point_v<T>) {
    std::uniform_real_distribution<double> u(0, 1);
    const double wide = g() % 8 == 0 ? 140 : 8;  // sometimes far out (overflow, subnormals)
    const double mag = std::exp2(u(g) * 2 * wide - wide) * (1 + u(g));
    return static_cast<T>(g() % 2 ? -mag : mag);
  } else if constexpr (std::is_same_v<T, i64>) {
    return g() % 2 ? static_cast<i64>(g()) : static_cast<i64>(g() % 2001) - 1000;
  } else {
    return static_cast<T>(g());
  }
}

/// Memory for one operand: storage plus a View on it. The logical shape is `shape`; dims are laid
/// out in storage in the order `perm` (perm[0] outermost), the innermost stored row padded by
/// `pad` elements, and dims flagged in `bcast` get stride 0 (stored once).
struct Operand {
  std::vector<u64> store;  // 8-byte aligned bytes
  View v;
  std::size_t bytes = 0;
  unsigned char* data() { return reinterpret_cast<unsigned char*>(store.data()); }
};

struct Layout {
  std::vector<i64> shape;
  std::vector<int> perm;  // empty: row-major
  unsigned bcast = 0;     // bit d: dim d broadcast
  i64 pad = 0;
};

Layout lay(std::vector<i64> shape, std::vector<int> perm = {}, unsigned bcast = 0, i64 pad = 0) {
  Layout l;
  l.shape = std::move(shape);
  l.perm = std::move(perm);
  l.bcast = bcast;
  l.pad = pad;
  return l;
}

Operand make_operand(DType t, const Layout& l) {
  Operand o;
  const int nd = static_cast<int>(l.shape.size());
  o.v.dtype = t;
  o.v.ndim = nd;
  std::vector<int> perm = l.perm;
  if (perm.empty())
    for (int d = 0; d < nd; ++d) perm.push_back(d);
  i64 stride = 1;
  for (int j = nd - 1; j >= 0; --j) {
    const int d = perm[j];
    o.v.shape[d] = l.shape[d];
    if (l.bcast >> d & 1u) {
      o.v.strides[d] = 0;
      continue;
    }
    o.v.strides[d] = stride;
    stride *= (j == nd - 1 ? l.shape[d] + l.pad : l.shape[d]);
  }
  o.bytes = static_cast<std::size_t>(stride) * ditto::dtype_size(t);
  o.store.assign(o.bytes / 8 + 1, 0);
  o.v.data = o.store.data();
  return o;
}

template <class T>
void fill_random_typed(Operand& o, std::mt19937_64& g) {
  const std::size_t n = o.bytes / sizeof(T);
  T* p = reinterpret_cast<T*>(o.data());
  for (std::size_t i = 0; i < n; ++i) p[i] = random_value<T>(g);
}

void fill_random(Operand& o, std::mt19937_64& g) {
  switch (o.v.dtype) {
    case DType::f32: return fill_random_typed<float>(o, g);
    case DType::f64: return fill_random_typed<double>(o, g);
    case DType::i64: return fill_random_typed<i64>(o, g);
    case DType::u8: return fill_random_typed<std::uint8_t>(o, g);
  }
}

Operand make_input(DType t, const Layout& l, std::mt19937_64& g) {
  Operand o = make_operand(t, l);
  fill_random(o, g);
  return o;
}

/// An output buffer prefilled with a sentinel byte pattern (the padding must keep it).
Operand make_output(DType t, const Layout& l) {
  Operand o = make_operand(t, l);
  std::memset(o.data(), 0xA5, o.store.size() * 8);
  return o;
}

template <class T>
bool same_nan_class(const unsigned char* a, const unsigned char* b, std::size_t bytes) {
  for (std::size_t i = 0; i + sizeof(T) <= bytes; i += sizeof(T)) {
    T x, y;
    std::memcpy(&x, a + i, sizeof(T));
    std::memcpy(&y, b + i, sizeof(T));
    if (x != x && y != y) continue;
    if (std::memcmp(a + i, b + i, sizeof(T)) != 0) return false;
  }
  return true;
}

/// Whole-buffer comparison: bytes, or with floats NaN == NaN whatever the payload.
bool same_result(Operand& a, Operand& b, bool nan_class) {
  const std::size_t n = a.store.size() * 8;
  if (!nan_class || !ditto::is_floating(a.v.dtype)) return std::memcmp(a.data(), b.data(), n) == 0;
  return a.v.dtype == DType::f32 ? same_nan_class<float>(a.data(), b.data(), n)
                                 : same_nan_class<double>(a.data(), b.data(), n);
}

/// Runs `op(out)` on cpu and (under `c`) on sim, over fresh sentinel-filled outputs, and checks the
/// buffers agree.
void check_op(DType out_t, const Layout& out_l, bool nan_class, const Config& c,
              const std::function<void(bool use_sim, const View& out)>& op) {
  Operand want = make_output(out_t, out_l), got = make_output(out_t, out_l);
  op(false, want.v);
  under(c, [&] { op(true, got.v); });
  INFO("config: ", describe(c));
  CHECK(same_result(want, got, nan_class));
}

/// Layouts of one shape family for elementwise cases. For a logical (R, C) problem: row-major,
/// an input read transposed, an input broadcast along rows or columns, a padded or transposed
/// output.
struct Geometry {
  std::string name;
  Layout out, in0, in1;
};

std::vector<Geometry> geometries(bool big) {
  std::vector<Geometry> g;
  for (i64 n : {i64(0), i64(1), i64(7), i64(1023), i64(1025)})
    g.push_back({"contiguous " + std::to_string(n), lay({n}), lay({n}), lay({n})});
  if (big) g.push_back({"contiguous 100003", lay({100003}), lay({100003}), lay({100003})});
  g.push_back({"0-d", lay({}), lay({}), lay({})});
  g.push_back({"empty 0x5", lay({0, 5}), lay({0, 5}, {1, 0}), lay({0, 5})});
  // (31, 33): first input stored transposed, second broadcast along dim 0, output padded.
  g.push_back({"31x33 transposed/bcast/pad", lay({31, 33}, {}, 0, 3), lay({31, 33}, {1, 0}),
               lay({31, 33}, {}, 1u)});
  // (25, 41): output transposed, first input broadcast along dim 1, second a 1x1 scalar bcast.
  g.push_back({"25x41 out transposed", lay({25, 41}, {1, 0}), lay({25, 41}, {}, 2u),
               lay({25, 41}, {}, 3u)});
  // (3, 5, 7): permuted storage for the inputs, padded output.
  g.push_back({"3x5x7 permuted", lay({3, 5, 7}, {}, 0, 1), lay({3, 5, 7}, {2, 0, 1}),
               lay({3, 5, 7}, {1, 2, 0}, 0, 2)});
  // (4, 1, 9) row-major: dims merge into one contiguous run; (300, 1) with pitch 3: one strided
  // dim after dropping the size-1 dim.
  g.push_back({"4x1x9 merged", lay({4, 1, 9}), lay({4, 1, 9}), lay({4, 1, 9}, {}, 4u)});
  g.push_back({"300x1 strided", lay({300, 1}, {}, 0, 2), lay({300, 1}, {}, 0, 1), lay({300, 1})});
  if (big) {
    g.push_back(
        {"317x316 transposed", lay({317, 316}), lay({317, 316}, {1, 0}), lay({317, 316}, {}, 1u)});
  }
  return g;
}

bool exact_unary(UnaryOp op) {
  return op == UnaryOp::neg || op == UnaryOp::abs || op == UnaryOp::relu || op == UnaryOp::clamp;
}
bool exact_binary(BinaryOp op) {
  return op == BinaryOp::maximum || op == BinaryOp::minimum || static_cast<int>(op) >= 6;
}

void check_unary(UnaryOp op, DType t, UnaryParams p, bool big, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  for (const Geometry& geo : geometries(big)) {
    INFO("unary op ", static_cast<int>(op), " dtype ", ditto::dtype_name(t), " p ", p.a, ",", p.b,
         " geometry ", geo.name);
    Operand in = make_input(t, geo.in0, g);
    check_op(t, geo.out, !exact_unary(op), next_config(), [&](bool s, const View& out) {
      s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).unary(op, in.v, out, p)
        : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(op, in.v, out, p);
    });
  }
}

template <class T>
void avoid_zero(Operand& o) {  // i64 div: replace zero divisors by 3
  T* p = reinterpret_cast<T*>(o.data());
  for (std::size_t i = 0; i < o.bytes / sizeof(T); ++i)
    if (p[i] == 0) p[i] = 3;
}

void check_binary(BinaryOp op, DType t, bool big, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  const DType out_t = static_cast<int>(op) >= 6 ? DType::u8 : t;
  for (const Geometry& geo : geometries(big)) {
    INFO("binary op ", static_cast<int>(op), " dtype ", ditto::dtype_name(t), " geometry ",
         geo.name);
    Operand a = make_input(t, geo.in0, g), b = make_input(t, geo.in1, g);
    if (op == BinaryOp::div && t == DType::i64) avoid_zero<i64>(b);
    check_op(out_t, geo.out, !exact_binary(op), next_config(), [&](bool s, const View& out) {
      s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).binary(op, a.v, b.v, out)
        : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(op, a.v, b.v, out);
    });
  }
}

constexpr UnaryOp kUnaryAll[] = {UnaryOp::neg,  UnaryOp::abs,     UnaryOp::exp,
                                 UnaryOp::log,  UnaryOp::log1p,   UnaryOp::sqrt,
                                 UnaryOp::relu, UnaryOp::sigmoid, UnaryOp::tanh};
constexpr BinaryOp kBinaryAll[] = {BinaryOp::add, BinaryOp::sub,     BinaryOp::mul,
                                   BinaryOp::div, BinaryOp::maximum, BinaryOp::minimum,
                                   BinaryOp::eq,  BinaryOp::ne,      BinaryOp::lt,
                                   BinaryOp::le,  BinaryOp::gt,      BinaryOp::ge};

}  // namespace

// ---- elementwise -----------------------------------------------------------------------------

TEST_SUITE_BEGIN("gpu_elementwise");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE("gpu elementwise: unary ops equal cpu bitwise, every op and dtype") {
  for (DType t : {DType::f32, DType::f64}) {
    for (UnaryOp op : kUnaryAll) {
      check_unary(op, t, {}, t == DType::f32, 100 + static_cast<int>(op));
    }
  }
  for (UnaryOp op : {UnaryOp::neg, UnaryOp::abs, UnaryOp::relu})
    check_unary(op, DType::i64, {}, op == UnaryOp::abs, 200 + static_cast<int>(op));
}

TEST_CASE("gpu elementwise: clamp and pow_scalar parameters") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (DType t : {DType::f32, DType::f64, DType::i64}) {
    for (UnaryParams p :
         {UnaryParams{-1, 1}, UnaryParams{0.5, 0.25}, UnaryParams{nan, 1}, UnaryParams{-0.0, 0.0},
          UnaryParams{-inf, inf}, UnaryParams{-100.7, 1e19}}) {
      check_unary(UnaryOp::clamp, t, p, false, 300);
    }
  }
  for (DType t : {DType::f32, DType::f64}) {
    for (double e : {0.0, 1.0, 2.0, 0.5, -1.0, 3.0, -3.0, 7.0, 64.0, -64.0, 65.0, 2.5, -0.5, 1e10,
                     -2.0, nan}) {
      check_unary(UnaryOp::pow_scalar, t, {e, 0}, e == 2.5 && t == DType::f64, 400);
    }
  }
}

TEST_CASE("gpu elementwise: binary ops equal cpu bitwise, every op and dtype") {
  for (DType t : {DType::f32, DType::f64, DType::i64}) {
    for (BinaryOp op : kBinaryAll) {
      const bool big = op == BinaryOp::add || op == BinaryOp::maximum || op == BinaryOp::lt;
      check_binary(op, t, big, 500 + static_cast<int>(op));
    }
  }
  for (BinaryOp op : kBinaryAll) {
    if (op == BinaryOp::sub || op == BinaryOp::mul || op == BinaryOp::div) continue;
    check_binary(op, DType::u8, false, 600 + static_cast<int>(op));
  }
  check_binary(BinaryOp::div, DType::i64, true, 700);
}

TEST_CASE("gpu elementwise: where, every dtype") {
  std::mt19937_64 g(800);
  for (DType t : kAll) {
    for (const Geometry& geo : geometries(t == DType::f32)) {
      INFO("where dtype ", ditto::dtype_name(t), " geometry ", geo.name);
      // cond follows the second input's layout, b the output's (so every operand is exercised
      // with a different layout); cond is nonzero for random bytes, also values other than 1.
      Operand c = make_input(DType::u8, geo.in1, g), a = make_input(t, geo.in0, g);
      Layout bl = geo.out;
      bl.pad = 0;
      Operand b = make_input(t, bl, g);
      for (std::size_t i = 0; i < c.bytes; ++i) c.data()[i] = g() % 3 == 0 ? 0 : c.data()[i] | 1;
      check_op(t, geo.out, false, next_config(), [&](bool s, const View& out) {
        s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).where(c.v, a.v, b.v, out)
          : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).where(c.v, a.v, b.v, out);
      });
    }
  }
}

TEST_CASE("gpu elementwise: copy between every dtype pair") {
  std::mt19937_64 g(900);
  for (DType from : kAll) {
    for (DType to : kAll) {
      const bool big = from == DType::f32 || to == DType::u8;
      for (const Geometry& geo : geometries(big)) {
        INFO("copy ", ditto::dtype_name(from), " -> ", ditto::dtype_name(to), " geometry ",
             geo.name);
        Operand in = make_input(from, geo.in0, g);
        // Same dtype moves bits (NaN payloads kept); a conversion may produce NaN only from NaN.
        check_op(to, geo.out, from != to, next_config(), [&](bool s, const View& out) {
          s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).copy(in.v, out)
            : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).copy(in.v, out);
        });
      }
    }
  }
}

TEST_CASE("gpu elementwise: fill converts the value once, every dtype") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType t : kAll) {
    for (double v : {0.0, -0.0, 1.5, -1.5, 300.7, 1e40, -1e40, 1e-320, nan, -nan, 9.3e18, -9.3e18,
                     255.0, 256.0}) {
      for (const Geometry& geo : geometries(false)) {
        if (geo.name.rfind("contiguous", 0) == 0 && geo.name != "contiguous 1025") continue;
        INFO("fill ", ditto::dtype_name(t), " value ", v, " geometry ", geo.name);
        check_op(t, geo.out, false, next_config(), [&](bool s, const View& out) {
          s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).fill(out, v)
            : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).fill(out, v);
        });
      }
    }
  }
}

TEST_CASE("gpu elementwise: in place (output aliases the input)") {
  std::mt19937_64 g(1000);
  for (DType t : {DType::f32, DType::i64}) {
    const Layout l = lay({33, 31}, {1, 0}, 0, 2);  // transposed and padded
    Operand x = make_input(t, l, g), y = make_input(t, l, g);
    Operand xc = x, yc = y;
    xc.v.data = xc.store.data();
    yc.v.data = yc.store.data();
    ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(UnaryOp::neg, xc.v, xc.v, {});
    ditto::kernels::elementwise_kernels(ditto::Device::cpu())
        .binary(BinaryOp::add, xc.v, yc.v, xc.v);
    under(kConfigs[3], [&] {
      ditto::kernels::elementwise_kernels(ditto::Device::sim()).unary(UnaryOp::neg, x.v, x.v, {});
      ditto::kernels::elementwise_kernels(ditto::Device::sim())
          .binary(BinaryOp::add, x.v, y.v, x.v);
    });
    CHECK(same_result(xc, x, false));
  }
}

TEST_CASE("gpu elementwise: bits identical under every schedule and launch configuration") {
  std::mt19937_64 g(1100);
  const Geometry geo = geometries(false)[7];  // 31x33 transposed / broadcast / padded
  REQUIRE(geo.name.rfind("31x33", 0) == 0);
  for (DType t : {DType::f32, DType::f64, DType::i64}) {
    Operand a = make_input(t, geo.in0, g), b = make_input(t, geo.in1, g);
    Operand c = make_input(DType::u8, geo.in1, g);
    if (t == DType::i64) avoid_zero<i64>(b);
    for (const Config& cfg : kConfigs) {
      INFO("dtype ", ditto::dtype_name(t));
      for (UnaryOp op : kUnaryAll) {
        if (t == DType::i64 && !exact_unary(op)) continue;
        check_op(t, geo.out, !exact_unary(op), cfg, [&](bool s, const View& o) {
          s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).unary(op, a.v, o, {})
            : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).unary(op, a.v, o, {});
        });
      }
      for (BinaryOp op : kBinaryAll) {
        const DType out_t = static_cast<int>(op) >= 6 ? DType::u8 : t;
        check_op(out_t, geo.out, !exact_binary(op), cfg, [&](bool s, const View& o) {
          s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).binary(op, a.v, b.v, o)
            : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).binary(op, a.v, b.v, o);
        });
      }
      check_op(DType::u8, geo.out, false, cfg, [&](bool s, const View& o) {
        s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).copy(a.v, o)
          : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).copy(a.v, o);
      });
      check_op(t, geo.out, false, cfg, [&](bool s, const View& o) {
        s ? ditto::kernels::elementwise_kernels(ditto::Device::sim()).where(c.v, a.v, b.v, o)
          : ditto::kernels::elementwise_kernels(ditto::Device::cpu()).where(c.v, a.v, b.v, o);
      });
    }
  }
}

TEST_CASE("gpu elementwise: integer division rules and errors") {
  using L = std::numeric_limits<i64>;
  std::vector<i64> a = {L::min(), L::min(), 7, -7, 7, -7, L::max(), 0, 1};
  std::vector<i64> b = {-1, 1, 2, 2, -2, -2, -1, 5, L::min()};
  const std::vector<i64> want = {L::min(), L::min(), 3, -3, -3, 3, -L::max(), 0, 0};
  std::vector<i64> out(a.size(), 99);
  ditto::kernels::elementwise_kernels(ditto::Device::sim())
      .binary(BinaryOp::div, view_of(a), view_of(b), view_of(out));
  CHECK(out == want);

  // A zero divisor anywhere (here near the end of a larger, transposed problem) throws after the
  // kernel, under every configuration; the simulator stays usable afterwards.
  std::mt19937_64 g(1200);
  const Geometry geo = geometries(false)[7];
  Operand x = make_input(DType::i64, geo.in0, g), y = make_input(DType::i64, geo.in0, g);
  avoid_zero<i64>(y);
  reinterpret_cast<i64*>(y.data())[y.bytes / 8 - 5] = 0;
  for (const Config& cfg : kConfigs) {
    Operand o = make_output(DType::i64, geo.out);
    under(cfg, [&] {
      CHECK_THROWS_WITH_AS(ditto::kernels::elementwise_kernels(ditto::Device::sim())
                               .binary(BinaryOp::div, x.v, y.v, o.v),
                           doctest::Contains("integer division by zero"), ditto::Error);
    });
    CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::cpu())
                        .binary(BinaryOp::div, x.v, y.v, o.v),
                    ditto::Error);
  }
  std::fill(out.begin(), out.end(), 99);
  ditto::kernels::elementwise_kernels(ditto::Device::sim())
      .binary(BinaryOp::div, view_of(a), view_of(b), view_of(out));
  CHECK(out == want);
}

TEST_CASE("gpu elementwise: bad arguments throw like the cpu kernels") {
  std::vector<std::uint8_t> buf(64);
  auto view = [&](DType t, i64 n) {
    View r;
    r.data = buf.data();
    r.dtype = t;
    r.ndim = 1;
    r.shape[0] = n;
    r.strides[0] = 1;
    return r;
  };
  CHECK_THROWS_WITH_AS(ditto::kernels::elementwise_kernels(ditto::Device::sim())
                           .unary(UnaryOp::exp, view(DType::i64, 4), view(DType::i64, 4), {}),
                       doctest::Contains("exp: not supported for dtype i64"), ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::sim())
                      .unary(UnaryOp::neg, view(DType::f32, 4), view(DType::f32, 5), {}),
                  ditto::Error);
  CHECK_THROWS_WITH_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::sim())
          .binary(BinaryOp::sub, view(DType::u8, 4), view(DType::u8, 4), view(DType::u8, 4)),
      doctest::Contains("not supported for u8"), ditto::Error);
  CHECK_THROWS_AS(
      ditto::kernels::elementwise_kernels(ditto::Device::sim())
          .binary(BinaryOp::lt, view(DType::f32, 4), view(DType::f32, 4), view(DType::f32, 4)),
      ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::sim())
                      .where(view(DType::f32, 4), view(DType::f32, 4), view(DType::f32, 4),
                             view(DType::f32, 4)),
                  ditto::Error);
  View bad = view(DType::f32, 4);
  bad.ndim = ditto::kernels::kMaxDims + 1;
  CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::sim()).fill(bad, 1.0),
                  ditto::Error);
  CHECK_THROWS_AS(ditto::kernels::elementwise_kernels(ditto::Device::sim())
                      .copy(view(DType::f32, 3), view(DType::i64, 2)),
                  ditto::Error);
}

// ---- random fill -----------------------------------------------------------------------------

namespace {

struct RandomCase {
  RandomDist dist;
  DType t;
  double a, b;
};

void check_random(const RandomCase& rc, u64 seed, u64 offset, const Layout& l, const Config& c) {
  INFO("random dist ", static_cast<int>(rc.dist), " dtype ", ditto::dtype_name(rc.t), " [", rc.a,
       ", ", rc.b, ") seed ", seed, " offset ", offset, " ndim ", l.shape.size());
  check_op(rc.t, l, false, c, [&](bool s, const View& out) {
    s ? ditto::kernels::random_kernels(ditto::Device::sim())
            .random_fill(rc.dist, out, seed, offset, rc.a, rc.b)
      : ditto::kernels::random_kernels(ditto::Device::cpu())
            .random_fill(rc.dist, out, seed, offset, rc.a, rc.b);
  });
}

const RandomCase kRandomCases[] = {
    {RandomDist::uniform, DType::f32, 0, 1},
    {RandomDist::uniform, DType::f32, -3, 5},
    {RandomDist::uniform, DType::f32, 1, 1.0000001192092896},  // [1, next float): rounds to b
    {RandomDist::uniform, DType::f64, 0, 1},
    {RandomDist::uniform, DType::f64, -1e300, 1e300},
    {RandomDist::normal, DType::f32, 0, 1},
    {RandomDist::normal, DType::f32, 2, 0.5},
    {RandomDist::normal, DType::f64, 0, 1},
    {RandomDist::normal, DType::f64, -1, 0},
    {RandomDist::randint, DType::i64, 0, 10},
    {RandomDist::randint, DType::i64, -0x1p63, 0x1p62},
    {RandomDist::randint, DType::i64, -5, 0x1p63},
    {RandomDist::randint, DType::f32, 0, 0x1p40},
    {RandomDist::randint, DType::f64, -7, 7},
};

}  // namespace

TEST_CASE("gpu random_fill: equals cpu bitwise, every distribution and dtype") {
  const u64 kStreams[][2] = {{0, 0}, {0xDEADBEEFCAFEBABEull, 12345}, {7, ~u64(0) - 500}};
  int k = 0;
  for (const RandomCase& rc : kRandomCases) {
    for (const auto& st : kStreams) {
      ++k;
      for (i64 n : {i64(0), i64(1), i64(7), i64(1023), i64(1025)})
        check_random(rc, st[0], st[1], lay({n}), next_config());
      check_random(rc, st[0], st[1], lay({}), next_config());                // 0-d
      check_random(rc, st[0], st[1], lay({31, 33}, {1, 0}), next_config());  // transposed
      check_random(rc, st[0], st[1], lay({3, 5, 7}, {2, 0, 1}, 0, 3), next_config());
      check_random(rc, st[0], st[1], lay({4, 1, 9}, {}, 0, 2), next_config());  // size-1 dim
      check_random(rc, st[0], st[1], lay({4, 1, 9}), next_config());            // merged
      check_random(rc, st[0], st[1], lay({300, 1}, {}, 0, 2), next_config());   // stride 3
      if (k % 5 == 1) check_random(rc, st[0], st[1], lay({100003}), next_config());
    }
  }
}

TEST_CASE("gpu random_fill: bits identical under every schedule and launch configuration") {
  for (const RandomCase& rc : {kRandomCases[0], kRandomCases[7], kRandomCases[10]}) {
    for (const Config& cfg : kConfigs)
      check_random(rc, 42, ~u64(0) - 100, lay({25, 41}, {1, 0}, 0, 1), cfg);
  }
}

TEST_CASE("gpu random_fill: bad arguments throw like the cpu kernel") {
  std::vector<double> buf(16);
  View v;
  v.data = buf.data();
  v.dtype = DType::f64;
  v.ndim = 2;
  v.shape[0] = 4;
  v.shape[1] = 4;
  v.strides[0] = 4;
  v.strides[1] = 1;
  auto both_throw = [&](RandomDist d, const View& o, double a, double b) {
    CHECK_THROWS_AS(
        ditto::kernels::random_kernels(ditto::Device::cpu()).random_fill(d, o, 1, 0, a, b),
        ditto::Error);
    CHECK_THROWS_AS(
        ditto::kernels::random_kernels(ditto::Device::sim()).random_fill(d, o, 1, 0, a, b),
        ditto::Error);
  };
  both_throw(RandomDist::uniform, v, 1, 1);
  both_throw(RandomDist::normal, v, 0, -1);
  both_throw(RandomDist::randint, v, 0.5, 3);
  both_throw(RandomDist::randint, v, -0x1p63, 0x1p63);  // 2^64 values
  View s = v;
  s.strides[0] = 0;  // overlapping elements
  both_throw(RandomDist::uniform, s, 0, 1);
  View u = v;
  u.dtype = DType::u8;
  both_throw(RandomDist::randint, u, 0, 3);
  View i = v;
  i.dtype = DType::i64;
  both_throw(RandomDist::normal, i, 0, 1);
}

TEST_SUITE_END();
