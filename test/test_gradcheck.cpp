// Gradients of every differentiable op against central finite differences in float64
// (test/gradcheck.h), plus the autograd engine's user-visible rules: accumulation across
// backward() calls, explicit seeds, NoGradGuard and detach.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "test/fixtures/rng.h"
#include "ditto/ditto.h"
#include "test/gradcheck.h"

using namespace ditto;
using ditto::test::gradcheck;
using V = std::vector<Tensor>;

namespace {

// Deterministic test inputs independent of ditto's own RNG (splitmix64 → double in [0, 1)).
using ditto::test_fixtures::Rng;  // test/fixtures/rng.h

using ditto::test_fixtures::numel_of;

// Uniform in [lo, hi).
Tensor uni(const Shape& s, double lo, double hi, std::uint64_t seed) {
  Rng r(seed);
  std::vector<double> v(static_cast<std::size_t>(numel_of(s)));
  for (auto& x : v) x = lo + (hi - lo) * r.next();
  return from_vector(v, s);
}

// Magnitude in [lo, hi) with a random sign: keeps away from kinks at 0 (abs, relu).
Tensor away_from_zero(const Shape& s, double lo, double hi, std::uint64_t seed) {
  Rng r(seed);
  std::vector<double> v(static_cast<std::size_t>(numel_of(s)));
  for (auto& x : v) {
    double m = lo + (hi - lo) * r.next();
    x = r.next() < 0.5 ? -m : m;
  }
  return from_vector(v, s);
}

// Distinct values (a shuffled grid with spacing 0.1 plus jitter): no ties for max/min.
Tensor distinct(const Shape& s, std::uint64_t seed) {
  Rng r(seed);
  std::int64_t n = numel_of(s);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[i] = 0.1 * static_cast<double>(i) - 0.05 * n;
  for (std::int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<std::int64_t>(r.next() * static_cast<double>(i + 1));
    std::swap(v[i], v[j]);
  }
  for (auto& x : v) x += 0.01 * r.next();
  return from_vector(v, s);
}

}  // namespace

TEST_SUITE("gradcheck") {
  // ---- unary ----------------------------------------------------------------------------
  TEST_CASE("gradcheck unary: neg, exp, log, log1p, sqrt, sigmoid, tanh") {
    Tensor x = uni({2, 3, 4}, -2.0, 2.0, 1);
    Tensor pos = uni({2, 3, 4}, 0.2, 3.0, 2);
    CHECK_GRADCHECK([](const V& v) { return neg(v[0]); }, {x});
    CHECK_GRADCHECK([](const V& v) { return exp(v[0]); }, {x});
    CHECK_GRADCHECK([](const V& v) { return log(v[0]); }, {pos});
    CHECK_GRADCHECK([](const V& v) { return log1p(v[0]); }, {uni({2, 3, 4}, -0.5, 3.0, 3)});
    CHECK_GRADCHECK([](const V& v) { return sqrt(v[0]); }, {pos});
    CHECK_GRADCHECK([](const V& v) { return sigmoid(v[0]); }, {x});
    CHECK_GRADCHECK([](const V& v) { return tanh(v[0]); }, {x});
    // method spellings route to the same ops
    CHECK_GRADCHECK([](const V& v) { return v[0].exp().tanh().sigmoid(); }, {x});
  }

  TEST_CASE("gradcheck unary with kinks away from the kink: abs, relu, clamp") {
    Tensor x = away_from_zero({3, 5}, 0.1, 2.0, 4);
    CHECK_GRADCHECK([](const V& v) { return abs(v[0]); }, {x});
    CHECK_GRADCHECK([](const V& v) { return relu(v[0]); }, {x});
    // clamp: the grid below never lands within eps of lo = -0.55 or hi = 0.75
    Tensor c = from_vector(
        std::vector<double>{-1.3, -0.9, -0.6, -0.5, -0.2, 0.0, 0.3, 0.7, 0.8, 1.2, 2.0, -3.0},
        {3, 4});
    CHECK_GRADCHECK([](const V& v) { return clamp(v[0], -0.55, 0.75); }, {c});
    CHECK_GRADCHECK([](const V& v) { return v[0].clamp(-0.55, 0.75) * v[0]; }, {c});
  }

  TEST_CASE("gradcheck pow with exponents 2, 3, 0.5, -1, 2.5, -2, 0 on positive inputs") {
    Tensor x = uni({2, 5}, 0.3, 2.5, 5);
    for (double p : {2.0, 3.0, 0.5, -1.0, 2.5, -2.0, 1.0, 0.0}) {
      CAPTURE(p);
      CHECK_GRADCHECK([p](const V& v) { return pow(v[0], p); }, {x});
    }
    // integer exponents also on negative inputs
    Tensor xn = away_from_zero({2, 5}, 0.3, 2.0, 6);
    for (double p : {2.0, 3.0, -1.0}) {
      CAPTURE(p);
      CHECK_GRADCHECK([p](const V& v) { return v[0].pow(p); }, {xn});
    }
  }

  // ---- binary with broadcasting --------------------------------------------------------
  TEST_CASE("gradcheck add/sub/mul/div/maximum/minimum with broadcasting") {
    using BinFn = Tensor (*)(const Tensor&, const Tensor&);
    struct Op {
      const char* name;
      BinFn fn;
    };
    const Op ops[] = {{"add", add}, {"sub", sub},         {"mul", mul},
                      {"div", div}, {"maximum", maximum}, {"minimum", minimum}};
    struct Case {
      Shape a, b;
    };
    const Case cases[] = {{{2, 3, 4}, {3, 1}}, {{3, 1}, {2, 3, 4}}, {{2, 3, 4}, {}},
                          {{}, {2, 3, 4}},     {{2, 1, 4}, {3, 1}}, {{4}, {2, 3, 4}},
                          {{2, 3}, {2, 3}}};
    std::uint64_t seed = 100;
    for (const Op& op : ops) {
      for (const Case& c : cases) {
        CAPTURE(op.name);
        CAPTURE(shape_str(c.a));
        CAPTURE(shape_str(c.b));
        // Disjoint value ranges for a and b rule out ties in maximum/minimum; b > 0.5 keeps
        // div well conditioned.
        Tensor a = uni(c.a, -2.0, 0.4, seed++);
        Tensor b = uni(c.b, 0.5, 2.0, seed++);
        BinFn fn = op.fn;
        CHECK_GRADCHECK([fn](const V& v) { return fn(v[0], v[1]); }, {a, b});
        CHECK_GRADCHECK([fn](const V& v) { return fn(v[1], v[0]); }, {a, b});
      }
    }
  }

  TEST_CASE("gradcheck maximum/minimum with interleaved winners") {
    Tensor a = distinct({3, 4}, 7);
    Tensor b = distinct({3, 4}, 8) + 0.033;  // never equal to a within eps
    CHECK_GRADCHECK([](const V& v) { return maximum(v[0], v[1]); }, {a, b});
    CHECK_GRADCHECK([](const V& v) { return minimum(v[0], v[1]); }, {a, b});
  }

  TEST_CASE("gradcheck scalar operators") {
    Tensor x = uni({2, 3}, 0.5, 2.0, 9);
    CHECK_GRADCHECK([](const V& v) { return 2.0 * v[0] + 1.5; }, {x});
    CHECK_GRADCHECK([](const V& v) { return 3.0 - v[0] / 0.7; }, {x});
    CHECK_GRADCHECK([](const V& v) { return 1.0 / v[0] - (-v[0]); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0] * v[0] - v[0] * 4.0; }, {x});
  }

  TEST_CASE("gradcheck where with broadcast condition and branches") {
    Tensor cond = from_vector(std::vector<std::uint8_t>{1, 0, 0, 1, 1, 0}, {2, 3});
    Tensor a = uni({2, 3}, -1.0, 1.0, 10);
    Tensor b = uni({3}, -1.0, 1.0, 11);
    CHECK_GRADCHECK([cond](const V& v) { return where(cond, v[0], v[1]); }, {a, b});
    Tensor cond3 = from_vector(std::vector<std::uint8_t>{1, 0, 1}, {3, 1});
    Tensor c = uni({3, 4}, -1.0, 1.0, 12);
    Tensor s = uni({}, -1.0, 1.0, 13);
    CHECK_GRADCHECK([cond3](const V& v) { return where(cond3, v[0], v[1]); }, {c, s});
    // the same tensor on both sides: contributions from both branches accumulate
    CHECK_GRADCHECK([cond](const V& v) { return where(cond, v[0] * 2.0, v[0] * v[0]); }, {a});
  }

  // ---- reductions ---------------------------------------------------------------------
  TEST_CASE("gradcheck sum and mean over several dims, keepdim") {
    Tensor x = uni({2, 3, 4}, -1.0, 1.0, 20);
    const std::vector<Dims> dim_sets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {1, 2}, {0, 1, 2}};
    for (const Dims& d : dim_sets) {
      for (bool keep : {false, true}) {
        CAPTURE(shape_str(d));
        CAPTURE(keep);
        CHECK_GRADCHECK([d, keep](const V& v) { return sum(v[0], d, keep); }, {x});
        CHECK_GRADCHECK([d, keep](const V& v) { return v[0].mean(d, keep); }, {x});
      }
    }
  }

  TEST_CASE("gradcheck var unbiased and biased over several dims, keepdim") {
    Tensor x = uni({2, 3, 4}, -1.0, 1.0, 21);
    const std::vector<Dims> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {-2, -1}};
    for (const Dims& d : dim_sets) {
      for (bool unbiased : {true, false}) {
        for (bool keep : {false, true}) {
          CAPTURE(shape_str(d));
          CAPTURE(unbiased);
          CAPTURE(keep);
          CHECK_GRADCHECK([d, unbiased, keep](const V& v) { return var(v[0], d, unbiased, keep); },
                          {x});
        }
      }
    }
  }

  TEST_CASE("gradcheck max and min over dims without ties") {
    Tensor x = distinct({3, 4, 2}, 22);
    const std::vector<Dims> dim_sets = {{}, {0}, {1}, {2}, {0, 2}, {1, 2}};
    for (const Dims& d : dim_sets) {
      for (bool keep : {false, true}) {
        CAPTURE(shape_str(d));
        CAPTURE(keep);
        CHECK_GRADCHECK([d, keep](const V& v) { return max(v[0], d, keep); }, {x});
        CHECK_GRADCHECK([d, keep](const V& v) { return v[0].min(d, keep); }, {x});
      }
    }
  }

  TEST_CASE("max/min gradient is split evenly among ties") {
    Tensor x = from_vector(std::vector<double>{1.0, 3.0, 3.0, 2.0, 0.5, 0.5}, {2, 3});
    x.requires_grad_();
    max(x, {}).backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 0.5, 0.5, 0, 0, 0});
    x.set_grad(Tensor());
    min(x, {1}).sum().backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 0, 0, 0, 0.5, 0.5});
  }

  // ---- matmul -------------------------------------------------------------------------
  TEST_CASE("gradcheck matmul: 2-D, batched with broadcast batch dims, vector forms") {
    auto mm = [](const V& v) { return matmul(v[0], v[1]); };
    struct Case {
      Shape a, b;
    };
    const Case cases[] = {
        {{3, 4}, {4, 2}},           // 2-D · 2-D
        {{2, 3, 4}, {2, 4, 5}},     // batched
        {{2, 3, 4}, {4, 5}},        // batch broadcast on the left only
        {{3, 4}, {2, 4, 2}},        // batch broadcast on the right only
        {{2, 1, 3, 4}, {3, 4, 2}},  // batch dims broadcast against each other
        {{4}, {4, 3}},              // 1-D · 2-D
        {{3, 4}, {4}},              // 2-D · 1-D
        {{5}, {5}},                 // 1-D · 1-D (dot)
        {{4}, {2, 4, 3}},           // 1-D · batched
        {{2, 3, 4}, {4}},           // batched · 1-D
    };
    std::uint64_t seed = 30;
    for (const Case& c : cases) {
      CAPTURE(shape_str(c.a));
      CAPTURE(shape_str(c.b));
      CHECK_GRADCHECK(mm, {uni(c.a, -1.0, 1.0, seed), uni(c.b, -1.0, 1.0, seed + 1)});
      seed += 2;
    }
    // a transposed (non-contiguous) operand
    CHECK_GRADCHECK([](const V& v) { return matmul(v[0].t(), v[1]); },
                    {uni({4, 3}, -1.0, 1.0, 50), uni({4, 2}, -1.0, 1.0, 51)});
    CHECK_GRADCHECK([](const V& v) { return v[0].matmul(v[0].t()); }, {uni({3, 4}, -1, 1, 52)});
  }

  // ---- softmax ------------------------------------------------------------------------
  TEST_CASE("gradcheck softmax and log_softmax over each dim") {
    Tensor x = uni({2, 3, 4}, -2.0, 2.0, 60);
    for (std::int64_t d : {0, 1, 2, -1, -3}) {
      CAPTURE(d);
      CHECK_GRADCHECK([d](const V& v) { return softmax(v[0], d); }, {x});
      CHECK_GRADCHECK([d](const V& v) { return v[0].log_softmax(d); }, {x});
    }
    // large offsets: the max subtraction must keep values and gradients finite
    Tensor big = uni({3, 4}, 500.0, 504.0, 61);
    CHECK_GRADCHECK([](const V& v) { return log_softmax(v[0], 1); }, {big});
    CHECK_GRADCHECK([](const V& v) { return softmax(v[0], 0); }, {big});
  }

  // ---- views --------------------------------------------------------------------------
  TEST_CASE("gradcheck views: reshape, view, transpose, permute, t") {
    Tensor x = uni({2, 3, 4}, -1.0, 1.0, 70);
    CHECK_GRADCHECK([](const V& v) { return v[0].reshape({6, 4}); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].reshape({4, -1}) * v[0].reshape({4, 6}); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].view({3, 8}); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].transpose(0, 2); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].permute({1, 2, 0}); }, {x});
    // reshape of a non-viewable (transposed) tensor copies; the gradient must still flow
    CHECK_GRADCHECK([](const V& v) { return v[0].transpose(1, 2).reshape({2, 12}); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].select(0, 1).t(); }, {x});
  }

  TEST_CASE("gradcheck views: narrow, slice with step, select") {
    Tensor x = uni({4, 5, 3}, -1.0, 1.0, 71);
    CHECK_GRADCHECK([](const V& v) { return v[0].narrow(1, 1, 3); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].slice(1, 0, 5, 2); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].slice(0, 1, 4, 2).slice(2, -2, 3); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].select(2, -1); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].select(0, 2) * v[0].select(0, 0); }, {x});
    // overlapping slices of one tensor: contributions add
    CHECK_GRADCHECK([](const V& v) { return v[0].narrow(0, 0, 3) + v[0].narrow(0, 1, 3); }, {x});
  }

  TEST_CASE("gradcheck views: expand, squeeze, unsqueeze, flatten") {
    Tensor x = uni({3, 1, 2}, -1.0, 1.0, 72);
    CHECK_GRADCHECK([](const V& v) { return v[0].expand({2, 3, 4, 2}); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].expand({-1, 5, -1}) * 1.5; }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].squeeze(); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].squeeze(1); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].unsqueeze(0).unsqueeze(-1); }, {x});
    CHECK_GRADCHECK([](const V& v) { return v[0].flatten(); }, {x});
    Tensor y = uni({2, 3, 4}, -1.0, 1.0, 73);
    CHECK_GRADCHECK([](const V& v) { return v[0].flatten(1); }, {y});
    CHECK_GRADCHECK([](const V& v) { return v[0].transpose(0, 1).flatten(0, 1); }, {y});
    CHECK_GRADCHECK([](const V& v) { return v[0].clone().contiguous(); }, {y});
  }

  // ---- dtype conversion -----------------------------------------------------------------
  TEST_CASE("gradcheck through an f64 -> f32 -> f64 chain") {
    // Inputs are multiples of 1/8 and eps = 2^-10, so x ± eps and their squares are exact in
    // f32: the finite differences see no f32 rounding. The analytic path does: the upstream
    // gradient (3 w, w random) is rounded to f32 on its way back, hence rtol ~ 8 f32 ULP.
    Tensor x = from_vector(std::vector<double>{-1.5, -0.75, -0.125, 0.25, 1.0, 1.875}, {2, 3});
    auto f = [](const V& v) {
      Tensor h = v[0].to(DType::f32);
      Tensor sq = (h * h).to(DType::f64);
      return sq * 3.0 + v[0];
    };
    auto r = gradcheck(f, {x}, 0x1.0p-10, 1e-12, 1e-6);
    CHECK_MESSAGE(r.ok, r.message);
    // and the gradient arrives in f64
    Tensor l = x.clone();
    l.requires_grad_();
    sum(f({l})).backward();
    CHECK(l.grad().dtype() == DType::f64);
    // mixed-dtype binary op: the f32 operand's gradient arrives in f32
    Tensor a = from_vector(std::vector<float>{1.f, 2.f, 3.f});
    Tensor b = from_vector(std::vector<double>{0.5, 0.25, 2.0});
    a.requires_grad_();
    b.requires_grad_();
    Tensor y = a * b;
    CHECK(y.dtype() == DType::f64);
    sum(y).backward();
    CHECK(a.grad().dtype() == DType::f32);
    CHECK(a.grad().to_vector<float>() == std::vector<float>{0.5f, 0.25f, 2.0f});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{1.0, 2.0, 3.0});
  }

  // ---- composition and engine rules ------------------------------------------------------
  TEST_CASE("gradcheck composed expression using one tensor several times") {
    Tensor x = uni({3, 4}, 0.2, 1.5, 80);
    Tensor w = uni({4, 2}, -1.0, 1.0, 81);
    auto f = [](const V& v) {
      const Tensor& a = v[0];
      Tensor h = tanh(matmul(a, v[1])) * sum(a, {1}, true);          // (3,2)
      Tensor k = exp(a * -0.5) * a + a / (a.abs() + 1.0) - sqrt(a);  // (3,4)
      return log_softmax(h, 1).sum({1}) + k.mean({1}) * a.max({1}) + var(a, {1});
    };
    CHECK_GRADCHECK(f, {x, w});
  }

  TEST_CASE("grad accumulates across two backward() calls") {
    Tensor x = from_vector(std::vector<double>{1.0, -2.0, 3.0});
    x.requires_grad_();
    sum(x * x).backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{2.0, -4.0, 6.0});
    sum(x * x * x).backward();  // + 3x^2
    CHECK(x.grad().to_vector<double>() == std::vector<double>{5.0, 8.0, 33.0});
    // set_grad(undefined) clears
    x.set_grad(Tensor());
    CHECK_FALSE(x.grad().defined());
    sum(x).backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{1.0, 1.0, 1.0});
  }

  TEST_CASE("backward with an explicit gradient on a non-scalar output") {
    Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
    x.requires_grad_();
    Tensor y = x * x;  // dy/dx = 2x
    Tensor g = from_vector(std::vector<double>{1, 0, -1, 0.5, 2, 3}, {2, 3});
    y.backward(g);
    CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 0, -6, 4, 20, 36});
    // an f32 seed for an f64 tensor is converted
    Tensor z = from_vector(std::vector<double>{1.0, 2.0});
    z.requires_grad_();
    (z * 3.0).backward(from_vector(std::vector<float>{1.f, 2.f}));
    CHECK(z.grad().to_vector<double>() == std::vector<double>{3.0, 6.0});
  }

  TEST_CASE("backward on a leaf adds the seed to its grad") {
    Tensor x = from_vector(std::vector<double>{4.0});
    x.requires_grad_();
    x.backward();
    CHECK(x.grad().item<double>() == 1.0);
  }

  TEST_CASE("NoGradGuard records nothing; the previous state returns after it") {
    Tensor x = from_vector(std::vector<double>{1.0, 2.0});
    x.requires_grad_();
    CHECK(grad_mode_enabled());
    {
      NoGradGuard ng;
      CHECK_FALSE(grad_mode_enabled());
      Tensor y = exp(x) * x + sum(x);
      CHECK_FALSE(y.requires_grad());
      CHECK(y.is_leaf());
      CHECK_THROWS_AS(y.backward(from_vector(std::vector<double>{1, 1})), Error);
      {
        NoGradGuard nested;
        CHECK_FALSE(grad_mode_enabled());
      }
      CHECK_FALSE(grad_mode_enabled());
    }
    CHECK(grad_mode_enabled());
    Tensor y = x * 2.0;
    CHECK(y.requires_grad());
    CHECK_FALSE(y.is_leaf());
    CHECK_FALSE(x.grad().defined());  // nothing ran backward inside the guard
  }

  TEST_CASE("detach cuts the graph but shares storage") {
    Tensor x = from_vector(std::vector<double>{1.0, 2.0, 3.0});
    x.requires_grad_();
    Tensor d = x.detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.shares_storage(x));
    // z = 3x + x.detach() * x: the detached factor is a constant, so dz/dx = 3 + x
    Tensor z = x * 3.0 + d * x;
    sum(z).backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{4.0, 5.0, 6.0});
    // a graph built only from detached tensors records nothing
    Tensor w = exp(x.detach()) * 2.0;
    CHECK_FALSE(w.requires_grad());
    // detaching an intermediate stops the gradient there
    x.set_grad(Tensor());
    Tensor h = x * x;
    Tensor out = h.detach() * x + h;  // d/dx = h + 2x = x^2 + 2x
    sum(out).backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{3.0, 8.0, 15.0});
  }

  TEST_CASE("inputs that do not require grad receive no gradient") {
    Tensor a = from_vector(std::vector<double>{1.0, 2.0});
    Tensor b = from_vector(std::vector<double>{3.0, 4.0});
    a.requires_grad_();
    sum(a * b).backward();
    CHECK(a.grad().to_vector<double>() == std::vector<double>{3.0, 4.0});
    CHECK_FALSE(b.grad().defined());
  }
}
