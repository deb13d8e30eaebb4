// Forward values of the public ops (through the front ends, with broadcasting, promotion and
// views) against float64 / long-double references written here as plain loops (Eigen for
// matmul), for f32 and f64. Exact IEEE ops are compared bitwise; ditto's transcendentals within
// a stated ULP budget of a long-double reference; reductions within their error bounds.
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "test/fixtures/rng.h"
#include "ditto/ditto.h"

using namespace ditto;
using i64 = std::int64_t;
using u8 = std::uint8_t;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using ditto::test_fixtures::Rng;  // test/fixtures/rng.h

using ditto::test_fixtures::numel_of;

template <class T>
std::vector<T> uniform_vec(i64 n, double lo, double hi, std::uint64_t seed) {
  Rng r(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(lo + (hi - lo) * r.next());
  return v;
}

template <class T>
Tensor uniform_t(const Shape& s, double lo, double hi, std::uint64_t seed) {
  return from_vector(uniform_vec<T>(numel_of(s), lo, hi, seed), s);
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0 || (std::isnan(a) && std::isnan(b));
}

// |got - ref| in units of the spacing of T at ref (ref given in long double).
template <class T>
double ulp_err(T got, long double ref) {
  if (std::isnan(ref)) return std::isnan(got) ? 0.0 : kInf;
  T r = static_cast<T>(ref);
  if (std::isinf(r)) return got == r ? 0.0 : kInf;
  if (std::isnan(got) || std::isinf(got)) return kInf;
  T a = std::fabs(r);
  T ulp = std::nextafter(a, std::numeric_limits<T>::infinity()) - a;
  return static_cast<double>(std::fabs(static_cast<long double>(got) - ref) / ulp);
}

// Row-major multi-index of flat index i in shape s.
Shape unravel(i64 i, const Shape& s) {
  Shape idx(s.size());
  for (std::size_t d = s.size(); d-- > 0;) {
    idx[d] = i % s[d];
    i /= s[d];
  }
  return idx;
}

// Flat index into `in` (numpy-broadcast against out shape `out`) of out's multi-index.
i64 bcast_flat(const Shape& out_idx, const Shape& in, const Shape& out) {
  i64 flat = 0;
  std::size_t lead = out.size() - in.size();
  for (std::size_t d = 0; d < in.size(); ++d)
    flat = flat * in[d] + (in[d] == 1 ? 0 : out_idx[lead + d]);
  return flat;
}

Shape bcast_shape(const Shape& a, const Shape& b) {
  std::size_t n = std::max(a.size(), b.size());
  Shape o(n);
  for (std::size_t i = 0; i < n; ++i) {
    i64 da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    i64 db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    o[i] = da == 1 ? db : da;
  }
  return o;
}

// Max ULP error of a unary op over inputs xs against a long-double reference.
template <class T, class Op, class Ref>
void check_unary_ulp(const char* name, Op op, Ref ref, const std::vector<T>& xs, double budget) {
  std::vector<T> got = op(from_vector(xs)).template to_vector<T>();
  REQUIRE(got.size() == xs.size());
  double worst = 0;
  T worst_x = 0, worst_got = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    double e = ulp_err<T>(got[i], ref(static_cast<long double>(xs[i])));
    if (!(e <= worst)) {
      worst = e;
      worst_x = xs[i];
      worst_got = got[i];
    }
  }
  INFO(std::string(name) << ": worst " << worst << " ULP at x = " << static_cast<double>(worst_x)
                         << " (got " << static_cast<double>(worst_got) << ")");
  CHECK(worst <= budget);
}

}  // namespace

TEST_SUITE("op_values") {
  // ---- unary ----------------------------------------------------------------------------
  TEST_CASE_TEMPLATE("transcendentals within 4 ULP of a long-double reference", T, float, double) {
    const bool f32 = std::is_same_v<T, float>;
    const double emax = f32 ? 85.0 : 700.0;
    auto cat = [](std::vector<T> a, const std::vector<T>& b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    std::vector<T> wide = cat(uniform_vec<T>(4000, -emax, emax, 1), uniform_vec<T>(2000, -2, 2, 2));
    check_unary_ulp<T>(
        "exp", [](const Tensor& t) { return exp(t); }, [](long double x) { return std::exp(x); },
        wide, 4.0);
    // log over many binades (log-uniform) and close to 1
    std::vector<T> pos = uniform_vec<T>(4000, -60, 60, 3);
    for (auto& x : pos) x = static_cast<T>(std::exp(static_cast<double>(x)));
    pos = cat(pos, uniform_vec<T>(2000, 0.5, 2.0, 4));
    check_unary_ulp<T>(
        "log", [](const Tensor& t) { return log(t); }, [](long double x) { return std::log(x); },
        pos, 4.0);
    std::vector<T> l1p =
        cat(uniform_vec<T>(3000, -0.9, 20, 5), uniform_vec<T>(2000, -1e-3, 1e-3, 6));
    l1p = cat(l1p, uniform_vec<T>(500, -1e-7, 1e-7, 7));
    check_unary_ulp<T>(
        "log1p", [](const Tensor& t) { return log1p(t); },
        [](long double x) { return std::log1p(x); }, l1p, 4.0);
    std::vector<T> mid = cat(uniform_vec<T>(4000, -30, 30, 8), uniform_vec<T>(2000, -0.5, 0.5, 9));
    mid = cat(mid, uniform_vec<T>(500, -1e-4, 1e-4, 10));
    check_unary_ulp<T>(
        "tanh", [](const Tensor& t) { return tanh(t); }, [](long double x) { return std::tanh(x); },
        mid, 4.0);
    check_unary_ulp<T>(
        "sigmoid", [](const Tensor& t) { return sigmoid(t); },
        [](long double x) { return 1.0L / (1.0L + std::exp(-x)); }, mid, 4.0);
  }

  TEST_CASE_TEMPLATE("transcendentals at special values", T, float, double) {
    std::vector<T> x = {T(0), T(-0.0), T(kInf), T(-kInf), T(kNaN), T(-1)};
    auto e = exp(from_vector(x)).template to_vector<T>();
    CHECK(e[0] == 1);
    CHECK(e[1] == 1);
    CHECK(e[2] == T(kInf));
    CHECK(e[3] == 0);
    CHECK(std::isnan(e[4]));
    auto l = log(from_vector(x)).template to_vector<T>();
    CHECK(l[0] == T(-kInf));
    CHECK(l[2] == T(kInf));
    CHECK(std::isnan(l[4]));
    CHECK(std::isnan(l[5]));
    auto th = tanh(from_vector(x)).template to_vector<T>();
    CHECK(th[2] == 1);
    CHECK(th[3] == -1);
    CHECK(std::isnan(th[4]));
    auto sg = sigmoid(from_vector(x)).template to_vector<T>();
    CHECK(sg[0] == T(0.5));
    CHECK(sg[2] == 1);
    CHECK(sg[3] == 0);
    auto lp = log1p(from_vector(std::vector<T>{T(-1), T(0), T(-2)})).template to_vector<T>();
    CHECK(lp[0] == T(-kInf));
    CHECK(lp[1] == 0);
    CHECK(std::isnan(lp[2]));
  }

  TEST_CASE_TEMPLATE("exact unary ops bitwise: neg abs relu sqrt clamp pow(0,1,2,0.5,-1)", T, float,
                     double) {
    std::vector<T> x = uniform_vec<T>(999, -5, 5, 11);
    x.insert(x.end(), {T(0), T(-0.0), T(kInf), T(-kInf), T(kNaN), T(1e-40), T(-3.5)});
    Tensor t = from_vector(x);
    auto nv = neg(t).template to_vector<T>(), av = abs(t).template to_vector<T>(),
         rv = relu(t).template to_vector<T>(), sv = sqrt(t).template to_vector<T>(),
         cv = clamp(t, -1.25, 2.5).template to_vector<T>(), p0 = pow(t, 0).template to_vector<T>(),
         p1 = pow(t, 1).template to_vector<T>(), p2 = pow(t, 2).template to_vector<T>(),
         ph = pow(t, 0.5).template to_vector<T>(), pm = pow(t, -1).template to_vector<T>();
    bool ok = true;
    for (std::size_t i = 0; i < x.size(); ++i) {
      T v = x[i];
      T relu_ref = v > 0 ? v : (std::isnan(v) ? v : T(0));
      T clamp_ref = std::isnan(v) ? v : std::min(std::max(v, T(-1.25)), T(2.5));
      bool e = same_bits(nv[i], T(-v)) && same_bits(av[i], std::fabs(v)) &&
               same_bits(rv[i], relu_ref) && same_bits(sv[i], std::sqrt(v)) &&
               same_bits(cv[i], clamp_ref) && same_bits(p0[i], T(1)) && same_bits(p1[i], v) &&
               same_bits(p2[i], T(v * v)) && same_bits(ph[i], std::sqrt(v)) &&
               same_bits(pm[i], T(T(1) / v));
      if (!e && ok) INFO("first mismatch at x = " << static_cast<double>(v));
      ok = ok && e;
    }
    CHECK(ok);
    CHECK(!std::signbit(av[x.size() - 6]));  // abs(-0) = +0
    CHECK(!std::signbit(rv[x.size() - 6]));  // relu(-0) = +0
  }

  TEST_CASE_TEMPLATE("pow with other exponents within budget; edge cases", T, float, double) {
    std::vector<T> x = uniform_vec<T>(2000, 0.1, 10, 12);
    // integer exponents: repeated squaring, a few roundings
    for (double p : {3.0, -2.0, 5.0}) {
      CAPTURE(p);
      check_unary_ulp<T>(
          "pow int", [p](const Tensor& t) { return pow(t, p); },
          [p](long double v) { return std::pow(v, static_cast<long double>(p)); }, x, 4.0);
    }
    // non-integer exponents: exp(p log x); the error grows with |p log x| (<= 3.5 here), so
    // the budget is 4 + 8 |p log x| ULP evaluated at the worst case, 32 ULP.
    for (double p : {2.5, -1.5, 0.3}) {
      CAPTURE(p);
      check_unary_ulp<T>(
          "pow frac", [p](const Tensor& t) { return pow(t, p); },
          [p](long double v) { return std::pow(v, static_cast<long double>(p)); },
          uniform_vec<T>(2000, 0.25, 4.0, 13), 32.0);
    }
    auto edge = pow(from_vector(std::vector<T>{T(0), T(0), T(-2), T(-2), T(-2)}), 2.5)
                    .template to_vector<T>();
    CHECK(edge[0] == 0);
    CHECK(std::isnan(edge[2]));
    CHECK(pow(from_vector(std::vector<T>{T(0)}), -1.5).template item<T>() == T(kInf));
    CHECK(pow(from_vector(std::vector<T>{T(-2)}), 3).template item<T>() == T(-8));
    CHECK(pow(from_vector(std::vector<T>{T(-2)}), -2).template item<T>() == T(0.25));
  }

  TEST_CASE("unary ops on i64: neg abs relu clamp stay i64; float-only ops promote to f32") {
    Tensor x = from_vector(std::vector<i64>{-3, 0, 7, -9});
    CHECK(neg(x).dtype() == DType::i64);
    CHECK(neg(x).to_vector<i64>() == std::vector<i64>{3, 0, -7, 9});
    CHECK(abs(x).to_vector<i64>() == std::vector<i64>{3, 0, 7, 9});
    CHECK(relu(x).to_vector<i64>() == std::vector<i64>{0, 0, 7, 0});
    CHECK(clamp(x, -4, 5).to_vector<i64>() == std::vector<i64>{-3, 0, 5, -4});
    Tensor e = exp(x);
    CHECK(e.dtype() == DType::f32);
    CHECK(e.to_vector<float>()[1] == 1.0f);
    CHECK(sqrt(from_vector(std::vector<i64>{4, 9})).to_vector<float>() ==
          std::vector<float>{2.f, 3.f});
  }

  // ---- binary ---------------------------------------------------------------------------
  TEST_CASE_TEMPLATE("binary arithmetic bitwise with broadcasting", T, float, double) {
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{2, 3, 4}, {3, 1}}, {{2, 3, 4}, {4}},       {{2, 3, 4}, {}},
        {{}, {2, 3, 4}},     {{2, 1, 4}, {1, 3, 1}}, {{5, 1}, {1, 6}},
        {{7}, {7}},          {{1}, {3, 2}},          {{2, 0, 3}, {3}}};
    std::uint64_t seed = 20;
    for (const auto& [sa, sb] : shapes) {
      CAPTURE(shape_str(sa));
      CAPTURE(shape_str(sb));
      auto va = uniform_vec<T>(numel_of(sa), -4, 4, seed++);
      auto vb = uniform_vec<T>(numel_of(sb), 0.5, 3, seed++);
      Tensor a = from_vector(va, sa), b = from_vector(vb, sb);
      Shape so = bcast_shape(sa, sb);
      auto ops = {0, 1, 2, 3, 4, 5};
      for (int op : ops) {
        CAPTURE(op);
        Tensor out = op == 0   ? a + b
                     : op == 1 ? a - b
                     : op == 2 ? a * b
                     : op == 3 ? a / b
                     : op == 4 ? maximum(a, b)
                               : minimum(a, b);
        REQUIRE(out.shape() == so);
        CHECK(out.dtype() == dtype_of<T>());
        auto got = out.template to_vector<T>();
        bool ok = true;
        for (i64 i = 0; i < numel_of(so); ++i) {
          Shape idx = unravel(i, so);
          T x = va[bcast_flat(idx, sa, so)], y = vb[bcast_flat(idx, sb, so)];
          T ref = op == 0   ? T(x + y)
                  : op == 1 ? T(x - y)
                  : op == 2 ? T(x * y)
                  : op == 3 ? T(x / y)
                  : op == 4 ? std::max(x, y)
                            : std::min(x, y);
          ok = ok && same_bits(got[i], ref);
        }
        CHECK(ok);
      }
    }
  }

  TEST_CASE("binary ops: NaN propagation in maximum/minimum, division by zero for floats") {
    Tensor a = from_vector(std::vector<double>{kNaN, 1.0, 2.0, 1.0, -1.0});
    Tensor b = from_vector(std::vector<double>{1.0, kNaN, 3.0, 0.0, 0.0});
    auto mx = maximum(a, b).to_vector<double>(), mn = minimum(a, b).to_vector<double>();
    CHECK(std::isnan(mx[0]));
    CHECK(std::isnan(mx[1]));
    CHECK(mx[2] == 3.0);
    CHECK(std::isnan(mn[0]));
    CHECK(std::isnan(mn[1]));
    CHECK(mn[2] == 2.0);
    auto q = (a / b).to_vector<double>();
    CHECK(q[3] == kInf);
    CHECK(q[4] == -kInf);
  }

  TEST_CASE("binary ops on integers and dtype promotion") {
    Tensor a = from_vector(std::vector<i64>{7, -7, 9, -3});
    Tensor b = from_vector(std::vector<i64>{2, 2, -4, 5});
    CHECK((a + b).to_vector<i64>() == std::vector<i64>{9, -5, 5, 2});
    CHECK((a * b).to_vector<i64>() == std::vector<i64>{14, -14, -36, -15});
    CHECK((a / b).to_vector<i64>() == std::vector<i64>{3, -3, -2, 0});  // truncation
    CHECK(maximum(a, b).to_vector<i64>() == std::vector<i64>{7, 2, 9, 5});
    Tensor f = from_vector(std::vector<float>{0.5f, 0.25f, 1.5f, 2.f});
    Tensor d = from_vector(std::vector<double>{0.1, 0.2, 0.3, 0.4});
    Tensor u = from_vector(std::vector<u8>{1, 2, 3, 250});
    CHECK((a + f).dtype() == DType::f32);
    CHECK((a + f).to_vector<float>() == std::vector<float>{7.5f, -6.75f, 10.5f, -1.f});
    CHECK((f + d).dtype() == DType::f64);
    CHECK((f + d).to_vector<double>()[0] == 0.5 + 0.1);
    CHECK((u + a).dtype() == DType::i64);
    CHECK((u + a).to_vector<i64>() == std::vector<i64>{8, -5, 12, 247});
    // scalar operands take the tensor's dtype (f32 for an integer tensor and a fraction)
    CHECK((f * 3.0).dtype() == DType::f32);
    CHECK((a * 2.0).dtype() == DType::i64);
    CHECK((a * 2.0).to_vector<i64>() == std::vector<i64>{14, -14, 18, -6});
    CHECK((a + 0.5).dtype() == DType::f32);
    CHECK((1.0 - f).to_vector<float>() == std::vector<float>{0.5f, 0.75f, -0.5f, -1.f});
    CHECK((2.0 / f).to_vector<float>() == std::vector<float>{4.f, 8.f, 2.f / 1.5f, 1.f});
    CHECK((-f).to_vector<float>() == std::vector<float>{-0.5f, -0.25f, -1.5f, -2.f});
  }

  TEST_CASE_TEMPLATE("comparisons give u8 0/1 with broadcasting and NaN", T, float, double) {
    Tensor a = from_vector(std::vector<T>{1, 2, 3, T(kNaN), 5, 6}, {2, 3});
    Tensor b = from_vector(std::vector<T>{2, 2, T(kNaN)}, {3});
    CHECK(eq(a, b).dtype() == DType::u8);
    CHECK(eq(a, b).shape() == Shape{2, 3});
    CHECK(eq(a, b).template to_vector<u8>() == std::vector<u8>{0, 1, 0, 0, 0, 0});
    CHECK(ne(a, b).template to_vector<u8>() == std::vector<u8>{1, 0, 1, 1, 1, 1});
    CHECK(lt(a, b).template to_vector<u8>() == std::vector<u8>{1, 0, 0, 0, 0, 0});
    CHECK(le(a, b).template to_vector<u8>() == std::vector<u8>{1, 1, 0, 0, 0, 0});
    CHECK(gt(a, b).template to_vector<u8>() == std::vector<u8>{0, 0, 0, 0, 1, 0});
    CHECK(ge(a, b).template to_vector<u8>() == std::vector<u8>{0, 1, 0, 0, 1, 0});
    // mixed dtypes compare after promotion
    CHECK(eq(from_vector(std::vector<i64>{2, 3}), from_vector(std::vector<T>{2, 3.5}))
              .template to_vector<u8>() == std::vector<u8>{1, 0});
  }

  TEST_CASE_TEMPLATE("where selects with broadcast cond, a and b", T, float, double) {
    Tensor cond = from_vector(std::vector<u8>{1, 0, 0, 7, 0, 1, 1, 0}, {2, 1, 4});
    Tensor a = from_vector(std::vector<T>{10, 20, 30}, {3, 1});
    Tensor b = scalar_tensor(-1.0, dtype_of<T>());
    Tensor out = where(cond, a, b);
    REQUIRE(out.shape() == Shape{2, 3, 4});
    auto got = out.template to_vector<T>();
    const u8 c[8] = {1, 0, 0, 7, 0, 1, 1, 0};
    bool ok = true;
    for (i64 i = 0; i < 24; ++i) {
      Shape idx = unravel(i, {2, 3, 4});
      T ref = c[idx[0] * 4 + idx[2]] ? T(10 * (idx[1] + 1)) : T(-1);
      ok = ok && got[i] == ref;
    }
    CHECK(ok);
    // dtypes of a and b promote
    CHECK(where(from_vector(std::vector<u8>{1, 0}), from_vector(std::vector<i64>{1, 2}),
                from_vector(std::vector<T>{5, 6}))
              .template to_vector<T>() == std::vector<T>{1, 6});
  }

  // ---- reductions ---------------------------------------------------------------------------
  TEST_CASE_TEMPLATE("sum/mean/var/max/min over every dim set of [3,4,5], keepdim, transposed", T,
                     float, double) {
    const double eps = std::numeric_limits<T>::epsilon();
    const std::vector<Dims> dim_sets = {{},     {0},       {1},  {2},    {0, 1},  {0, 2},
                                        {1, 2}, {0, 1, 2}, {-1}, {2, 0}, {-3, -2}};
    const Shape s = {3, 4, 5};
    for (bool transposed : {false, true}) {
      // the transposed input is a non-contiguous view with the same logical shape
      Tensor x = transposed ? uniform_t<T>({5, 4, 3}, -2, 2, 31).transpose(0, 2)
                            : uniform_t<T>(s, -2, 2, 30);
      REQUIRE(x.shape() == s);
      CHECK(x.is_contiguous() == !transposed);
      // a quantised copy (values k/4) with many ties for max/min
      Tensor q = from_vector(x.template to_vector<T>(), s);
      {
        std::vector<T> qv = q.template to_vector<T>();
        for (auto& v : qv) v = std::floor(v * 4) / 4;
        q = from_vector(qv, s);
      }
      auto xv = x.template to_vector<T>();
      auto qv = q.template to_vector<T>();
      for (const Dims& dims : dim_sets) {
        std::vector<bool> red(3, dims.empty());
        for (auto d : dims) red[(d + 3) % 3] = true;
        Shape keep_shape, out_shape;
        for (int d = 0; d < 3; ++d) {
          keep_shape.push_back(red[d] ? 1 : s[d]);
          if (!red[d]) out_shape.push_back(s[d]);
        }
        // groups[o] = flat input indices reducing into output o, in logical order
        std::vector<std::vector<i64>> groups(static_cast<std::size_t>(numel_of(out_shape)));
        for (i64 i = 0; i < 60; ++i) {
          Shape idx = unravel(i, s);
          i64 o = 0;
          for (int d = 0; d < 3; ++d)
            if (!red[d]) o = o * s[d] + idx[d];
          groups[o].push_back(i);
        }
        for (bool keep : {false, true}) {
          CAPTURE(transposed);
          CAPTURE(shape_str(dims));
          CAPTURE(keep);
          Tensor su = sum(x, dims, keep), me = x.mean(dims, keep), vu = var(x, dims, true, keep),
                 vb = x.var(dims, false, keep), mx = max(q, dims, keep), mn = q.min(dims, keep);
          const Shape& want = keep ? keep_shape : out_shape;
          for (const Tensor* t : {&su, &me, &vu, &vb, &mx, &mn}) {
            CHECK(t->shape() == want);
            CHECK(t->dtype() == dtype_of<T>());
          }
          auto sv = su.template to_vector<T>(), mv = me.template to_vector<T>(),
               vuv = vu.template to_vector<T>(), vbv = vb.template to_vector<T>(),
               mxv = mx.template to_vector<T>(), mnv = mn.template to_vector<T>();
          bool ok_sum = true, ok_var = true, ok_ext = true;
          for (std::size_t o = 0; o < groups.size(); ++o) {
            long double acc = 0, abs_acc = 0;
            T hi = -std::numeric_limits<T>::infinity(), lo = std::numeric_limits<T>::infinity();
            for (i64 i : groups[o]) {
              acc += xv[i];
              abs_acc += std::fabs(xv[i]);
              hi = std::max(hi, qv[i]);
              lo = std::min(lo, qv[i]);
            }
            const long double n = static_cast<long double>(groups[o].size());
            long double m = acc / n, ss = 0;
            for (i64 i : groups[o]) ss += (xv[i] - m) * (xv[i] - m);
            const double tol = 8 * eps * static_cast<double>(abs_acc) + 1e-30;
            ok_sum = ok_sum && std::fabs(sv[o] - acc) <= tol && std::fabs(mv[o] - m) <= tol / n;
            ok_var = ok_var && std::fabs(vuv[o] - ss / (n - 1)) <= 64 * eps * ss / (n - 1) &&
                     std::fabs(vbv[o] - ss / n) <= 64 * eps * ss / n;
            ok_ext = ok_ext && mxv[o] == hi && mnv[o] == lo;
          }
          CHECK(ok_sum);
          CHECK(ok_var);
          CHECK(ok_ext);
        }
      }
    }
  }

  TEST_CASE_TEMPLATE("argmax/argmin pick the first extremum, per dim and flattened", T, float,
                     double) {
    // values k/2 in [-2, 2): many ties
    std::vector<T> v = uniform_vec<T>(60, -2, 2, 33);
    for (auto& e : v) e = std::floor(e * 2) / 2;
    const Shape s = {3, 4, 5};
    for (bool transposed : {false, true}) {
      Tensor x = transposed ? from_vector(v, {5, 4, 3}).transpose(0, 2) : from_vector(v, s);
      auto xv = x.template to_vector<T>();
      for (int d = -3; d < 3; ++d) {
        for (bool keep : {false, true}) {
          CAPTURE(transposed);
          CAPTURE(d);
          CAPTURE(keep);
          Tensor am = argmax(x, d, keep), an = x.argmin(d, keep);
          CHECK(am.dtype() == DType::i64);
          const int dd = (d + 3) % 3;
          Shape want = s;
          if (keep)
            want[dd] = 1;
          else
            want.erase(want.begin() + dd);
          CHECK(am.shape() == want);
          CHECK(an.shape() == want);
          auto amv = am.template to_vector<i64>(), anv = an.template to_vector<i64>();
          bool ok = true;
          for (i64 o = 0; o < 60 / s[dd]; ++o) {
            // out index o → the first element of the reduced line, then step along dd
            Shape red_shape = s;
            red_shape[dd] = 1;
            Shape idx = unravel(o, red_shape);
            i64 best = 0, worst = 0;
            auto at = [&](i64 k) {
              Shape j = idx;
              j[dd] = k;
              return xv[(j[0] * 4 + j[1]) * 5 + j[2]];
            };
            for (i64 k = 1; k < s[dd]; ++k) {
              if (at(k) > at(best)) best = k;
              if (at(k) < at(worst)) worst = k;
            }
            ok = ok && amv[o] == best && anv[o] == worst;
          }
          CHECK(ok);
        }
      }
      // flattened
      i64 best = 0, worst = 0;
      for (i64 i = 1; i < 60; ++i) {
        if (xv[i] > xv[best]) best = i;
        if (xv[i] < xv[worst]) worst = i;
      }
      CHECK(argmax(x).template item<i64>() == best);
      CHECK(x.argmin().template item<i64>() == worst);
      CHECK(argmax(x, std::nullopt, true).shape() == Shape{1, 1, 1});
    }
    // NaN counts as extreme, first NaN wins
    Tensor n = from_vector(std::vector<T>{1, T(kNaN), 5, T(kNaN)});
    CHECK(argmax(n).template item<i64>() == 1);
    CHECK(argmin(n).template item<i64>() == 1);
    CHECK(std::isnan(max(n).template item<T>()));
  }

  TEST_CASE("integer sums are exact and give i64; 0-d and empty reductions") {
    Tensor u = from_vector(std::vector<u8>(1000, 255), {10, 100});
    CHECK(sum(u).dtype() == DType::i64);
    CHECK(sum(u).item<i64>() == 255000);
    CHECK(sum(u, {0}).to_vector<i64>() == std::vector<i64>(100, 2550));
    Tensor i = from_vector(std::vector<i64>{INT64_C(1) << 62, INT64_C(1) << 61, -5});
    CHECK(sum(i).item<i64>() == (INT64_C(1) << 62) + (INT64_C(1) << 61) - 5);  // no f64 detour
    CHECK(sum(scalar_tensor(2.5, DType::f64)).item<double>() == 2.5);
    CHECK(sum(zeros({2, 0})).item<float>() == 0.0f);
    CHECK(sum(zeros({2, 0}), {1}).to_vector<float>() == std::vector<float>{0.f, 0.f});
  }

  // ---- matmul -----------------------------------------------------------------------------
  TEST_CASE_TEMPLATE("matmul 2-D odd sizes vs Eigen, both modes", T, float, double) {
    // reference in double for f32 and long double for f64; bound |err| <= 2 K eps (|A||B|)
    using R = std::conditional_t<std::is_same_v<T, float>, double, long double>;
    using MatR = Eigen::Matrix<R, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const double eps = std::numeric_limits<T>::epsilon();
    std::uint64_t seed = 40;
    bool ok = true;
    for (i64 M : {1, 7, 33, 65})
      for (i64 K : {1, 7, 33, 65})
        for (i64 N : {1, 7, 33, 65}) {
          auto av = uniform_vec<T>(M * K, -1, 1, seed++), bv = uniform_vec<T>(K * N, -1, 1, seed++);
          MatR A(M, K), B(K, N);
          for (i64 i = 0; i < M * K; ++i) A.data()[i] = av[i];
          for (i64 i = 0; i < K * N; ++i) B.data()[i] = bv[i];
          MatR C = A * B, Cabs = A.cwiseAbs() * B.cwiseAbs();
          Tensor a = from_vector(av, {M, K}), b = from_vector(bv, {K, N});
          for (Mode mode : {Mode::Deterministic, Mode::Fast}) {
            Tensor c = matmul(a, b, mode);
            if (c.shape() != Shape{M, N}) {
              ok = false;
              continue;
            }
            auto cv = c.template to_vector<T>();
            for (i64 i = 0; i < M * N; ++i) {
              double err = static_cast<double>(std::fabs(cv[i] - C.data()[i]));
              if (!(err <= 2 * K * eps * static_cast<double>(Cabs.data()[i]) + 1e-300)) {
                if (ok) INFO("first mismatch M=" << M << " K=" << K << " N=" << N);
                ok = false;
              }
            }
          }
        }
    CHECK(ok);
  }

  TEST_CASE_TEMPLATE("matmul batched, broadcast batches, 1-D operands, transposed operands", T,
                     float, double) {
    const double eps = std::numeric_limits<T>::epsilon();
    // plain-loop reference on logical values (shapes already broadcast by the caller)
    auto check = [&](const Tensor& a, const Tensor& b, const Shape& want) {
      Tensor c = matmul(a, b);
      CAPTURE(shape_str(a.shape()));
      CAPTURE(shape_str(b.shape()));
      REQUIRE(c.shape() == want);
      Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a, b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
      i64 M = a2.size(-2), K = a2.size(-1), N = b2.size(-1);
      Shape batch(want.begin(), want.end() - (a.dim() == 1 ? 0 : 1) - (b.dim() == 1 ? 0 : 1));
      Shape ea = batch, eb = batch;
      ea.insert(ea.end(), {M, K});
      eb.insert(eb.end(), {K, N});
      auto av = a2.expand(ea).template to_vector<T>(), bv = b2.expand(eb).template to_vector<T>();
      auto cv = c.template to_vector<T>();
      bool ok = true;
      for (i64 bi = 0; bi < numel_of(batch); ++bi)
        for (i64 i = 0; i < M; ++i)
          for (i64 j = 0; j < N; ++j) {
            long double acc = 0, aacc = 0;
            for (i64 k = 0; k < K; ++k) {
              long double p =
                  static_cast<long double>(av[(bi * M + i) * K + k]) * bv[(bi * K + k) * N + j];
              acc += p;
              aacc += std::fabs(p);
            }
            ok = ok && std::fabs(cv[(bi * M + i) * N + j] - acc) <= 2 * K * eps * aacc + 1e-300;
          }
      CHECK(ok);
    };
    check(uniform_t<T>({3, 7, 33}, -1, 1, 50), uniform_t<T>({3, 33, 5}, -1, 1, 51), {3, 7, 5});
    check(uniform_t<T>({2, 1, 7, 9}, -1, 1, 52), uniform_t<T>({3, 9, 4}, -1, 1, 53), {2, 3, 7, 4});
    check(uniform_t<T>({7, 9}, -1, 1, 54), uniform_t<T>({2, 9, 4}, -1, 1, 55), {2, 7, 4});
    check(uniform_t<T>({9}, -1, 1, 56), uniform_t<T>({9, 4}, -1, 1, 57), {4});
    check(uniform_t<T>({7, 9}, -1, 1, 58), uniform_t<T>({9}, -1, 1, 59), {7});
    check(uniform_t<T>({33}, -1, 1, 60), uniform_t<T>({33}, -1, 1, 61), {});
    check(uniform_t<T>({9}, -1, 1, 62), uniform_t<T>({2, 9, 4}, -1, 1, 63), {2, 4});
    check(uniform_t<T>({2, 7, 9}, -1, 1, 64), uniform_t<T>({9}, -1, 1, 65), {2, 7});
    check(uniform_t<T>({9, 7}, -1, 1, 66).t(), uniform_t<T>({4, 9}, -1, 1, 67).t(), {7, 4});
    check(uniform_t<T>({2, 9, 7}, -1, 1, 68).transpose(1, 2),
          uniform_t<T>({9, 8}, -1, 1, 69).slice(1, 0, 8, 2), {2, 7, 4});
    // K = 0 gives zeros
    CHECK(matmul(zeros({3, 0}, dtype_of<T>()), zeros({0, 2}, dtype_of<T>()))
              .template to_vector<T>() == std::vector<T>(6, T(0)));
  }

  // ---- softmax ------------------------------------------------------------------------------
  TEST_CASE_TEMPLATE("softmax and log_softmax vs a long-double reference over each dim", T, float,
                     double) {
    const double eps = std::numeric_limits<T>::epsilon();
    const Shape s = {3, 4, 5};
    for (double offset : {0.0, 1000.0, -1000.0}) {
      Tensor x = uniform_t<T>(s, -5 + offset, 5 + offset, 70);
      auto xv = x.template to_vector<T>();
      for (int d = -3; d < 3; ++d) {
        CAPTURE(offset);
        CAPTURE(d);
        const int dd = (d + 3) % 3;
        auto sm = softmax(x, d).template to_vector<T>();
        auto ls = x.log_softmax(d).template to_vector<T>();
        bool ok = true;
        for (i64 i = 0; i < 60; ++i) {
          Shape idx = unravel(i, s);
          long double mx = -1e300L, z = 0;
          for (i64 k = 0; k < s[dd]; ++k) {
            Shape j = idx;
            j[dd] = k;
            mx = std::max<long double>(mx, xv[(j[0] * 4 + j[1]) * 5 + j[2]]);
          }
          for (i64 k = 0; k < s[dd]; ++k) {
            Shape j = idx;
            j[dd] = k;
            z += std::exp(static_cast<long double>(xv[(j[0] * 4 + j[1]) * 5 + j[2]]) - mx);
          }
          long double ref_ls = xv[i] - mx - std::log(z), ref_sm = std::exp(ref_ls);
          // x - max is exact; exp, the sum and the division/log each cost a few ULP
          ok = ok && std::fabs(sm[i] - ref_sm) <= 16 * eps * ref_sm &&
               std::fabs(ls[i] - ref_ls) <= 16 * eps * (1 + std::fabs(ref_ls));
        }
        CHECK(ok);
      }
    }
  }

  // ---- creation -----------------------------------------------------------------------------
  TEST_CASE("zeros/ones/full/scalar_tensor/arange/from_vector values, shapes and dtypes") {
    CHECK(zeros({2, 3}).dtype() == DType::f32);
    CHECK(zeros({2, 3}).to_vector<float>() == std::vector<float>(6, 0.f));
    CHECK(ones({4}, DType::i64).to_vector<i64>() == std::vector<i64>(4, 1));
    CHECK(full({2, 2}, 2.5, DType::f64).to_vector<double>() == std::vector<double>(4, 2.5));
    CHECK(full({3}, 7, DType::u8).to_vector<u8>() == std::vector<u8>(3, 7));
    CHECK(zeros_like(ones({2, 5}, DType::f64)).shape() == Shape{2, 5});
    CHECK(ones_like(zeros({3}, DType::i64)).to_vector<i64>() == std::vector<i64>(3, 1));
    Tensor sc = scalar_tensor(3.0, DType::f64);
    CHECK(sc.dim() == 0);
    CHECK(sc.numel() == 1);
    CHECK(sc.item<double>() == 3.0);
    CHECK(zeros({0, 3}).numel() == 0);
    CHECK(arange(5).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4});
    CHECK(arange(5, DType::i64).to_vector<i64>() == std::vector<i64>{0, 1, 2, 3, 4});
    CHECK(arange(5, 0, -1.5, DType::f64).to_vector<double>() ==
          std::vector<double>{5, 3.5, 2, 0.5});
    CHECK(arange(2, -2, -1, DType::i64).to_vector<i64>() == std::vector<i64>{2, 1, 0, -1});
    // element i = start + i*step in double, then converted
    auto fr = arange(0, 1, 0.1, DType::f64).to_vector<double>();
    REQUIRE(fr.size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(fr[i] == 0.0 + i * 0.1);
    auto ff = arange(-1, 1, 0.25).to_vector<float>();
    REQUIRE(ff.size() == 8);
    CHECK(ff[7] == 0.75f);
    CHECK(arange(3, 3).numel() == 0);
    CHECK(arange(3, 5, -1).numel() == 0);
    Tensor fv = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(fv.dtype() == DType::f64);
    CHECK(fv.shape() == Shape{2, 3});
    CHECK(fv.is_contiguous());
    CHECK(from_vector(std::vector<float>{1, 2}).shape() == Shape{2});
    CHECK(from_vector(std::vector<i64>{5}).dtype() == DType::i64);
    CHECK(from_vector(std::vector<u8>{5}, {1, 1}).dtype() == DType::u8);
    CHECK(from_vector(std::vector<double>{4}, {}).shape() == Shape{1});
  }

  TEST_CASE("rand/randn/randint/uniform/normal ranges, moments and generator offsets") {
    Generator gen(123);
    Tensor u = rand({100, 100}, gen);
    CHECK(gen.offset() == 10000);
    CHECK(u.dtype() == DType::f32);
    auto uv = u.to_vector<float>();
    double mean_u = 0;
    for (float v : uv) {
      REQUIRE(v >= 0.0f);
      REQUIRE(v < 1.0f);
      mean_u += v;
    }
    CHECK(std::fabs(mean_u / 1e4 - 0.5) < 0.02);
    auto nv = randn({100, 100}, gen, DType::f64).to_vector<double>();
    CHECK(gen.offset() == 20000);
    double m = 0, s2 = 0;
    for (double v : nv) m += v;
    m /= 1e4;
    for (double v : nv) s2 += (v - m) * (v - m);
    CHECK(std::fabs(m) < 0.05);
    CHECK(std::fabs(std::sqrt(s2 / 1e4) - 1.0) < 0.05);
    auto ri = randint(-3, 4, {5000}, gen).to_vector<i64>();
    std::vector<int> seen(7, 0);
    for (i64 v : ri) {
      REQUIRE(v >= -3);
      REQUIRE(v < 4);
      ++seen[v + 3];
    }
    for (int c : seen) CHECK(c > 500);  // every value shows up (expected ~714)
    CHECK(randint(0, 256, {10}, gen, DType::u8).dtype() == DType::u8);
    for (double v : uniform({1000}, -2.0, -1.5, gen, DType::f64).to_vector<double>()) {
      REQUIRE(v >= -2.0);
      REQUIRE(v < -1.5);
    }
    auto nm = normal({4000}, 10.0, 0.5, gen, DType::f64).to_vector<double>();
    double nmean = 0;
    for (double v : nm) nmean += v;
    CHECK(std::fabs(nmean / 4000 - 10.0) < 0.05);
    // (seed, offset) fully determine the values
    Generator g1(7), g2(7);
    CHECK(rand({50}, g1).to_vector<float>() == rand({50}, g2).to_vector<float>());
    Generator g3(7);
    g3.set_state(7, 20);
    Generator g4(7);
    auto full50 = rand({50}, g4).to_vector<float>();
    auto tail = rand({30}, g3).to_vector<float>();
    CHECK(std::vector<float>(full50.begin() + 20, full50.end()) == tail);
    Generator g5(8);
    CHECK(rand({50}, g5).to_vector<float>() != full50);
  }

  // ---- conversions ---------------------------------------------------------------------------
  TEST_CASE("to(DType) conversions: rounding, truncation, saturation, wrap") {
    std::vector<double> d = {0.1, -2.7, 2.7, 1e30, -1e30, kNaN, 3.9999999999, 1e-50};
    Tensor t = from_vector(d);
    auto f = t.to(DType::f32).to_vector<float>();
    for (std::size_t i = 0; i < d.size(); ++i) CHECK(same_bits(f[i], static_cast<float>(d[i])));
    auto back = t.to(DType::f32).to(DType::f64).to_vector<double>();
    for (std::size_t i = 0; i < d.size(); ++i) CHECK(same_bits(back[i], double(float(d[i]))));
    auto iv = t.to(DType::i64).to_vector<i64>();
    CHECK(iv == std::vector<i64>{0, -2, 2, std::numeric_limits<i64>::max(),
                                 std::numeric_limits<i64>::min(), 0, 3, 0});
    Tensor big = from_vector(std::vector<i64>{(INT64_C(1) << 53) + 1, 300, -1, 255});
    CHECK(big.to(DType::f64).to_vector<double>()[0] == 9007199254740992.0);
    CHECK(big.to(DType::u8).to_vector<u8>() == std::vector<u8>{1, 44, 255, 255});
    CHECK(from_vector(std::vector<float>{3.9f, -1.5f}).to(DType::u8).to_vector<u8>() ==
          std::vector<u8>{3, 255});
    CHECK(from_vector(std::vector<u8>{0, 255}).to(DType::f32).to_vector<float>() ==
          std::vector<float>{0.f, 255.f});
    Tensor same = t.to(DType::f64);
    CHECK(same.shares_storage(t));  // no-op conversion returns the same tensor
    CHECK(t.to(t.device()).shares_storage(t));  // no-op device move too
  }

  // ---- views, contiguous, data access ---------------------------------------------------------
  TEST_CASE("views share storage: writing through a view changes the base") {
    Tensor base = zeros({3, 4}, DType::f64);
    Tensor nar = base.narrow(1, 1, 2);
    CHECK(nar.shares_storage(base));
    nar.copy_(from_vector(std::vector<double>{1, 2}));  // broadcast over rows
    CHECK(base.to_vector<double>() == std::vector<double>{0, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2, 0});
    base.t().select(0, 3).fill_(9);  // column 3
    base.slice(0, 0, 3, 2).select(1, 0).copy_(from_vector(std::vector<double>{-1, -2}));
    CHECK(base.to_vector<double>() == std::vector<double>{-1, 1, 2, 9, 0, 1, 2, 9, -2, 1, 2, 9});
    Tensor r = base.reshape({2, 6});
    CHECK(r.shares_storage(base));
    r.select(1, 0).zero_();
    CHECK(base.to_vector<double>()[6] == 0);
    base.unsqueeze(0).expand({2, 3, 4});  // no copy, no error
    CHECK(base.view({12}).shares_storage(base));
    CHECK(base.flatten().shares_storage(base));
    // copy_ converts dtype
    Tensor i = zeros({2}, DType::i64);
    i.copy_(from_vector(std::vector<double>{2.9, -1.2}));
    CHECK(i.to_vector<i64>() == std::vector<i64>{2, -1});
  }

  TEST_CASE("contiguous, to_vector and item on views") {
    Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(a.contiguous().shares_storage(a));
    Tensor at = a.t();
    CHECK_FALSE(at.is_contiguous());
    CHECK(at.shape() == Shape{3, 2});
    CHECK(at.strides() == Shape{1, 3});
    Tensor c = at.contiguous();
    CHECK(c.is_contiguous());
    CHECK_FALSE(c.shares_storage(a));
    CHECK(c.to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
    CHECK(at.to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
    CHECK_FALSE(at.reshape({6}).shares_storage(a));  // not viewable: copies
    CHECK(at.reshape({6}).to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
    CHECK(a.slice(1, 0, 3, 2).to_vector<float>() == std::vector<float>{1, 3, 4, 6});
    CHECK(a.slice(1, -2, 100).to_vector<float>() == std::vector<float>{2, 3, 5, 6});
    CHECK(a.permute({1, 0}).expand({2, 3, 2}).to_vector<float>() ==
          std::vector<float>{1, 4, 2, 5, 3, 6, 1, 4, 2, 5, 3, 6});
    CHECK(a.to_vector<i64>() == std::vector<i64>{1, 2, 3, 4, 5, 6});
    CHECK(a.select(1, 2).select(0, 1).item<float>() == 6.0f);
    CHECK(a.narrow(0, 1, 1).narrow(1, 0, 1).item<double>() == 4.0);
    CHECK(a.size(-1) == 3);
    CHECK(a.numel() == 6);
    CHECK(a.squeeze().shape() == Shape{2, 3});
    CHECK(a.unsqueeze(1).shape() == Shape{2, 1, 3});
    CHECK(a.unsqueeze(-1).squeeze(-1).shape() == Shape{2, 3});
    CHECK(a.clone().to_vector<float>() == a.to_vector<float>());
    CHECK_FALSE(a.clone().shares_storage(a));
  }

  TEST_CASE("printing shows values, shape, dtype; large tensors are summarised") {
    std::ostringstream os;
    os << from_vector(std::vector<float>{1.5f, -2.f, 3.25f, 4.f, 5.f, 6.f}, {2, 3});
    std::string s = os.str();
    CAPTURE(s);
    for (const char* part : {"1.5", "-2", "3.25", "[2,3]", "f32"})
      CHECK(s.find(part) != std::string::npos);
    CHECK(s.find("...") == std::string::npos);
    std::ostringstream os2;
    os2 << arange(5000, DType::i64).reshape({50, 100});
    std::string big = os2.str();
    CAPTURE(big.substr(0, 300));
    CHECK(big.find("...") != std::string::npos);
    CHECK(big.find("4999") != std::string::npos);
    CHECK(big.find("2550") == std::string::npos);  // the middle is left out
    CHECK(big.find("[50,100]") != std::string::npos);
    CHECK(big.find("i64") != std::string::npos);
    CHECK(big.size() < 2000);
    Tensor g = ones({2}, DType::f64);
    g.requires_grad_();
    std::ostringstream os3;
    os3 << g;
    CHECK(os3.str().find("requires_grad") != std::string::npos);
    CHECK(os3.str().find("f64") != std::string::npos);
  }
}
