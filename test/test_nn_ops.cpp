// The neural-network ops batch_norm, dropout, linear, cross_entropy, nll_loss and mse_loss
// through the public API: values against float64 references written here as plain loops,
// gradcheck in float64, Fast vs Deterministic, thread counts 1/2/3 bitwise, batch invariance
// bitwise, dropout's counter rule, and bad input. Tensors are created on the default device, so
// the suite also runs on sim (ctest sim/nn_ops): sizes are small. cpu vs sim bit for bit: the
// "nn" entries of the op-case list (core/op_cases.cpp, test/test_op_cases.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/errors.h"
#include "test/fixtures/rng.h"
#include "ditto/ditto.h"
#include "gradcheck.h"

using namespace ditto;
using i64 = std::int64_t;

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h

using ditto::test_fixtures::Rng;  // test/fixtures/rng.h

using ditto::test_fixtures::numel_of;

// Values uniform in [lo, hi) of dtype t, shaped s, on the default device.
Tensor values(const Shape& s, std::uint64_t seed, DType t = DType::f32, double lo = -2.0,
              double hi = 2.0) {
  Rng r(seed);
  std::vector<double> v(static_cast<std::size_t>(numel_of(s)));
  for (auto& x : v) x = lo + (hi - lo) * r.next();
  return from_vector(v, s).to(t);
}

Tensor ints(const std::vector<i64>& v, const Shape& s) { return from_vector(v, s); }

std::vector<double> host(const Tensor& t) { return t.to_vector<double>(); }


double tol_of(DType t) { return t == DType::f64 ? 1e-12 : 2e-5; }

// |got - ref| <= tol * (1 + |ref|) element by element.
void check_close(const std::vector<double>& got, const std::vector<double>& ref, double tol) {
  REQUIRE(got.size() == ref.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    if (std::isnan(ref[i])) {
      CHECK(std::isnan(got[i]));
      continue;
    }
    CHECK(std::fabs(got[i] - ref[i]) <= tol * (1.0 + std::fabs(ref[i])));
  }
}

struct ThreadCountRestore {
  int prev = get_num_threads();
  ~ThreadCountRestore() { set_num_threads(prev); }
};

using ditto::test_fixtures::error_of;  // test/fixtures/errors.h

// ---- float64 references -----------------------------------------------------------------------

struct BnRef {
  std::vector<double> y, mean, var_biased, var_unbiased;
};

// x (N, C, S...) flattened as (N, C, S); stats over N and S.
BnRef bn_ref(const std::vector<double>& x, const Shape& s, const std::vector<double>* w,
             const std::vector<double>* b, double eps, const std::vector<double>* use_mean,
             const std::vector<double>* use_var) {
  i64 N = s[0], C = s[1], S = numel_of(s) / (N * C);
  BnRef r;
  r.y.resize(x.size());
  for (i64 c = 0; c < C; ++c) {
    double m = 0, v = 0;
    for (i64 n = 0; n < N; ++n)
      for (i64 k = 0; k < S; ++k) m += x[(n * C + c) * S + k];
    m /= static_cast<double>(N * S);
    for (i64 n = 0; n < N; ++n)
      for (i64 k = 0; k < S; ++k) v += (x[(n * C + c) * S + k] - m) * (x[(n * C + c) * S + k] - m);
    r.mean.push_back(m);
    r.var_biased.push_back(v / static_cast<double>(N * S));
    r.var_unbiased.push_back(v / static_cast<double>(N * S - 1));
    double um = use_mean ? (*use_mean)[c] : m;
    double uv = use_var ? (*use_var)[c] : v / static_cast<double>(N * S);
    for (i64 n = 0; n < N; ++n)
      for (i64 k = 0; k < S; ++k) {
        double y = (x[(n * C + c) * S + k] - um) / std::sqrt(uv + eps);
        if (w) y *= (*w)[c];
        if (b) y += (*b)[c];
        r.y[(n * C + c) * S + k] = y;
      }
  }
  return r;
}

// Per-element nll losses of log-probabilities lp (N, C, S) at targets t (N, S); ignored -> 0.
std::vector<double> nll_ref(const std::vector<double>& lp, const std::vector<i64>& t, i64 N, i64 C,
                            i64 S, i64 ignore) {
  std::vector<double> out(static_cast<std::size_t>(N * S));
  for (i64 n = 0; n < N; ++n)
    for (i64 k = 0; k < S; ++k) {
      i64 c = t[n * S + k];
      out[n * S + k] = c == ignore ? 0.0 : -lp[(n * C + c) * S + k];
    }
  return out;
}

std::vector<double> log_softmax_ref(const std::vector<double>& x, i64 N, i64 C, i64 S) {
  std::vector<double> out(x.size());
  for (i64 n = 0; n < N; ++n)
    for (i64 k = 0; k < S; ++k) {
      double m = -INFINITY, z = 0;
      for (i64 c = 0; c < C; ++c) m = std::max(m, x[(n * C + c) * S + k]);
      for (i64 c = 0; c < C; ++c) z += std::exp(x[(n * C + c) * S + k] - m);
      for (i64 c = 0; c < C; ++c)
        out[(n * C + c) * S + k] = x[(n * C + c) * S + k] - m - std::log(z);
    }
  return out;
}

}  // namespace


TEST_SUITE("nn_ops") {
  TEST_CASE("batch_norm training: values, running-stat update (unbiased var), 2-D/3-D/4-D") {
    for (DType t : {DType::f32, DType::f64}) {
      for (const Shape& s : {Shape{5, 3}, Shape{4, 3, 6}, Shape{2, 3, 4, 5}}) {
        for (bool affine : {true, false}) {
          CAPTURE(dtype_name(t));
          CAPTURE(shape_str(s));
          CAPTURE(affine);
          const double eps = 1e-3, momentum = 0.25;
          Tensor x = values(s, 1, t, -1.0, 3.0);
          Tensor w = affine ? values({3}, 2, t, 0.5, 1.5) : Tensor();
          Tensor b = affine ? values({3}, 3, t) : Tensor();
          Tensor rm = values({3}, 4, t), rv = values({3}, 5, t, 0.5, 2.0);
          std::vector<double> rm0 = host(rm), rv0 = host(rv), wv, bv;
          if (affine) wv = host(w), bv = host(b);
          Tensor y = batch_norm(x, rm, rv, w, b, true, momentum, eps);
          BnRef r = bn_ref(host(x), s, affine ? &wv : nullptr, affine ? &bv : nullptr, eps, nullptr,
                           nullptr);
          CHECK(y.shape() == s);
          CHECK(y.dtype() == t);
          check_close(host(y), r.y, tol_of(t) * 10);
          std::vector<double> want_m, want_v;
          for (int c = 0; c < 3; ++c) {
            want_m.push_back((1 - momentum) * rm0[c] + momentum * r.mean[c]);
            want_v.push_back((1 - momentum) * rv0[c] + momentum * r.var_unbiased[c]);
            // The biased variance would be visibly different: n is small.
            CHECK(std::fabs(r.var_unbiased[c] - r.var_biased[c]) > 1e-3 * r.var_biased[c]);
          }
          check_close(host(rm), want_m, tol_of(t));
          check_close(host(rv), want_v, tol_of(t));
          // The running variance is exactly the public unbiased var blended in that order.
          Dims red{0};
          for (i64 d = 2; d < static_cast<i64>(s.size()); ++d) red.push_back(d);
          Tensor exp_v = add(mul(scalar_like(x, 1 - momentum), from_vector(rv0, {3}).to(t)),
                             mul(scalar_like(x, momentum), var(x, red, true)));
          CHECK(same_bits(rv, exp_v));
        }
      }
    }
  }

  TEST_CASE("batch_norm eval: running statistics, no update; training without running stats") {
    for (DType t : {DType::f32, DType::f64}) {
      Shape s{3, 4, 5};
      Tensor x = values(s, 11, t);
      Tensor rm = values({4}, 12, t), rv = values({4}, 13, t, 0.5, 2.0);
      Tensor w = values({4}, 14, t), b = values({4}, 15, t);
      std::vector<double> rm0 = host(rm), rv0 = host(rv), wv = host(w), bv = host(b);
      Tensor y = batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
      BnRef r = bn_ref(host(x), s, &wv, &bv, 1e-5, &rm0, &rv0);
      check_close(host(y), r.y, tol_of(t) * 10);
      CHECK(host(rm) == rm0);
      CHECK(host(rv) == rv0);
      Tensor y2 = batch_norm(x, rm, rv, Tensor(), Tensor(), false);  // affine off
      BnRef r2 = bn_ref(host(x), s, nullptr, nullptr, 1e-5, &rm0, &rv0);
      check_close(host(y2), r2.y, tol_of(t) * 10);
      // Training without running statistics (track_running_stats=False) uses batch stats.
      Tensor y3 = batch_norm(x, Tensor(), Tensor(), w, b, true);
      BnRef r3 = bn_ref(host(x), s, &wv, &bv, 1e-5, nullptr, nullptr);
      check_close(host(y3), r3.y, tol_of(t) * 10);
    }
  }

  TEST_CASE("linear: values vs float64 reference, bias after the dot product") {
    for (DType t : {DType::f32, DType::f64}) {
      for (const Shape& s : {Shape{4, 5}, Shape{2, 3, 5}, Shape{5}}) {
        CAPTURE(shape_str(s));
        Tensor x = values(s, 21, t), w = values({3, 5}, 22, t), b = values({3}, 23, t);
        std::vector<double> xv = host(x), wv = host(w), bv = host(b);
        i64 rows = numel_of(s) / 5;
        std::vector<double> ref, ref_nb;
        for (i64 r = 0; r < rows; ++r)
          for (i64 o = 0; o < 3; ++o) {
            double acc = 0;
            for (i64 k = 0; k < 5; ++k) acc += xv[r * 5 + k] * wv[o * 5 + k];
            ref.push_back(acc + bv[o]);
            ref_nb.push_back(acc);
          }
        Tensor y = linear(x, w, b);
        Shape want = s;
        want.back() = 3;
        CHECK(y.shape() == want);
        check_close(host(y), ref, tol_of(t) * 10);
        check_close(host(linear(x, w)), ref_nb, tol_of(t) * 10);
        CHECK(same_bits(y, add(matmul(x, w.t()), b)));
      }
    }
  }

  TEST_CASE("cross_entropy and nll_loss: every reduction, ignore_index, (N,C) and (N,C,d)") {
    for (DType t : {DType::f32, DType::f64}) {
      for (const Shape& s : {Shape{6, 4}, Shape{3, 4, 5}}) {
        CAPTURE(shape_str(s));
        i64 N = s[0], C = s[1], S = numel_of(s) / (N * C);
        Tensor logits = values(s, 31, t, -3.0, 3.0);
        Shape ts = s;
        ts.erase(ts.begin() + 1);
        std::vector<double> lp = log_softmax_ref(host(logits), N, C, S);
        for (i64 ignore : {i64{-100}, i64{2}}) {
          CAPTURE(ignore);
          // Every 4th target ignored; with ignore_index 2 the real class 2 is ignored too.
          std::vector<i64> tv;
          for (i64 i = 0; i < N * S; ++i) tv.push_back(i % 4 == 3 ? ignore : (i * 7) % C);
          Tensor target = ints(tv, ts);
          std::vector<double> l = nll_ref(lp, tv, N, C, S, ignore);
          double total = 0, count = 0;
          for (std::size_t i = 0; i < l.size(); ++i) {
            total += l[i];
            count += tv[i] == ignore ? 0 : 1;
          }
          Tensor none = cross_entropy(logits, target, Reduction::none, ignore);
          CHECK(none.shape() == ts);
          check_close(host(none), l, tol_of(t) * 10);
          check_close(host(cross_entropy(logits, target, Reduction::sum, ignore)), {total},
                      tol_of(t) * 10);
          check_close(host(cross_entropy(logits, target, Reduction::mean, ignore)), {total / count},
                      tol_of(t) * 10);
          // cross_entropy is nll_loss of log_softmax over the class dim, bit for bit.
          for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean})
            CHECK(same_bits(cross_entropy(logits, target, red, ignore),
                            nll_loss(log_softmax(logits, 1), target, red, ignore)));
        }
      }
    }
    // Every target ignored: the mean is NaN (0/0), as PyTorch; sum is 0.
    Tensor lp = log_softmax(values({2, 3}, 41), 1);
    Tensor all_ignored = ints({-100, -100}, {2});
    CHECK(std::isnan(nll_loss(lp, all_ignored).item<double>()));
    CHECK(nll_loss(lp, all_ignored, Reduction::sum).item<double>() == 0.0);
    // An ignored position that would pick -inf (probability 0) contributes 0, not NaN.
    Tensor with_inf = from_vector(std::vector<float>{-INFINITY, -1.0f, -0.5f, -2.0f}, {2, 2});
    CHECK(nll_loss(with_inf, ints({-100, 1}, {2}), Reduction::sum).item<double>() == 2.0);
    // (C) input with a 0-d target (as PyTorch).
    Tensor one = nll_loss(from_vector(std::vector<float>{-1.f, -2.f, -3.f}, {3}),
                          from_vector(std::vector<i64>{2}, {}).reshape({}));
    CHECK(one.item<double>() == 3.0);
  }

  TEST_CASE("mse_loss: values for every reduction") {
    for (DType t : {DType::f32, DType::f64}) {
      Tensor a = values({3, 4}, 51, t), b = values({3, 4}, 52, t);
      std::vector<double> av = host(a), bv = host(b), ref;
      double total = 0;
      for (std::size_t i = 0; i < av.size(); ++i) {
        ref.push_back((av[i] - bv[i]) * (av[i] - bv[i]));
        total += ref.back();
      }
      check_close(host(mse_loss(a, b, Reduction::none)), ref, tol_of(t));
      check_close(host(mse_loss(a, b, Reduction::sum)), {total}, tol_of(t) * 10);
      check_close(host(mse_loss(a, b)), {total / 12}, tol_of(t) * 10);
    }
  }

  TEST_CASE("gradcheck in float64: batch_norm, linear, losses, dropout") {
    auto bn_train = [](const std::vector<Tensor>& v) {
      return batch_norm(v[0], Tensor(), Tensor(), v[1], v[2], true, 0.1, 1e-3);
    };
    for (const Shape& s : {Shape{4, 2}, Shape{2, 2, 3}, Shape{2, 2, 2, 2}}) {
      CAPTURE(shape_str(s));
      CHECK_GRADCHECK(bn_train,
                      {values(s, 61), values({2}, 62, DType::f32, 0.5, 1.5), values({2}, 63)});
    }
    // Training with running statistics: the update is not part of the graph.
    CHECK_GRADCHECK(
        [](const std::vector<Tensor>& v) {
          Tensor rm = zeros({2}, DType::f64), rv = ones({2}, DType::f64);
          return batch_norm(v[0], rm, rv, v[1], Tensor(), true);
        },
        {values({3, 2, 2}, 64), values({2}, 65)});
    CHECK_GRADCHECK(
        [](const std::vector<Tensor>& v) {
          Tensor rm = from_vector(std::vector<double>{0.1, -0.2}, {2});
          Tensor rv = from_vector(std::vector<double>{0.7, 1.3}, {2});
          return batch_norm(v[0], rm, rv, v[1], v[2], false);
        },
        {values({3, 2, 2}, 66), values({2}, 67), values({2}, 68)});
    CHECK_GRADCHECK([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); },
                    {values({2, 3, 4}, 71), values({5, 4}, 72), values({5}, 73)});
    CHECK_GRADCHECK([](const std::vector<Tensor>& v) { return linear(v[0], v[1]); },
                    {values({4}, 74), values({2, 4}, 75)});
    Tensor t2 = ints({0, 2, -100, 1}, {4});
    Tensor t3 = ints({0, 2, 1, 1, -100, 0}, {2, 3});
    Tensor t2_ignore1 = ints({0, 1, 2, 1}, {4});
    for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean}) {
      CAPTURE(static_cast<int>(red));
      CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return cross_entropy(v[0], t2, red); },
                      {values({4, 3}, 81)});
      CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return cross_entropy(v[0], t3, red); },
                      {values({2, 3, 3}, 82)});
      CHECK_GRADCHECK(
          [&](const std::vector<Tensor>& v) { return nll_loss(v[0], t2_ignore1, red, 1); },
          {values({4, 3}, 83)});
      CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1], red); },
                      {values({2, 3}, 84), values({2, 3}, 85)});
    }
    for (Mode m : {Mode::Deterministic, Mode::Fast}) {
      CHECK_GRADCHECK(
          [m](const std::vector<Tensor>& v) {
            Generator g(5);  // the same mask on every evaluation
            return dropout(v[0], 0.4, true, g, m);
          },
          {values({3, 5}, 86)});
    }
  }

  TEST_CASE("Fast vs Deterministic within tolerance") {
    Tensor x = values({6, 3, 4}, 91), w = values({3}, 92), b = values({3}, 93);
    Tensor lw = values({5, 12}, 94), lb = values({5}, 95);
    Tensor target = ints({0, 4, 2, 1, 3, 0}, {6});
    auto run = [&](Mode m) {
      Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
      Tensor lwl = lw.detach().requires_grad_();
      Tensor h = batch_norm(xl, Tensor(), Tensor(), wl, b, true, 0.1, 1e-5, m);
      Tensor loss =
          cross_entropy(linear(h.reshape({6, 12}), lwl, lb, m), target, Reduction::mean, -100, m);
      loss.backward();
      return std::vector<Tensor>{loss.detach(), xl.grad(), wl.grad(), lwl.grad()};
    };
    std::vector<Tensor> d = run(Mode::Deterministic), f = run(Mode::Fast);
    for (std::size_t i = 0; i < d.size(); ++i) {
      CAPTURE(i);
      check_close(host(f[i]), host(d[i]), 1e-5);
    }
  }

  TEST_CASE("thread counts 1, 2, 3 give the same bits (Deterministic)") {
    ThreadCountRestore restore;
    auto run = [] {
      Tensor x = values({5, 3, 4}, 101).requires_grad_();
      Tensor w = values({3}, 102).requires_grad_(), lw = values({4, 12}, 103).requires_grad_();
      Tensor rm = zeros({3}), rv = ones({3});
      Generator g(9);
      Tensor h = dropout(batch_norm(x, rm, rv, w, Tensor(), true), 0.3, true, g);
      Tensor z = linear(h.reshape({5, 12}), lw);
      Tensor loss = cross_entropy(z, ints({0, 3, 1, 2, -100}, {5})) + mse_loss(z, zeros({5, 4}));
      loss.backward();
      return std::vector<Tensor>{loss.detach(), x.grad(), w.grad(), lw.grad(), rm, rv};
    };
    set_num_threads(1);
    std::vector<Tensor> ref = run();
    for (int n : {2, 3}) {
      set_num_threads(n);
      std::vector<Tensor> got = run();
      for (std::size_t i = 0; i < ref.size(); ++i) {
        CAPTURE(n);
        CAPTURE(i);
        CHECK(same_bits(ref[i], got[i]));
      }
    }
  }

  TEST_CASE("dropout: identity when not training or p == 0, statistics, counter rule") {
    Tensor x = values({4, 5}, 111);
    Generator g(3);
    Tensor id = dropout(x, 0.5, false, g);
    CHECK(id.impl_ptr() == x.impl_ptr());  // the input itself, as PyTorch
    CHECK(dropout(x, 0.0, true, g).impl_ptr() == x.impl_ptr());
    CHECK(g.offset() == 0);  // no draws
    // Zero fraction close to p; survivors equal x * (1 / (1 - p)) exactly.
    const bool cpu = default_device().is_cpu();
    const i64 n = cpu ? 200000 : 8192;
    for (Mode m : {Mode::Deterministic, Mode::Fast}) {
      for (double p : {0.2, 0.5, 0.9}) {
        CAPTURE(p);
        Tensor big = values({n}, 112, DType::f32, 0.5, 1.5);
        Generator gen(77);
        Tensor y = dropout(big, p, true, gen, m);
        CHECK(gen.offset() == static_cast<std::uint64_t>(n));
        std::vector<float> xv = big.to_vector<float>(), yv = y.to_vector<float>();
        const float scale = static_cast<float>(1.0 / (1.0 - p));
        i64 zeros_seen = 0;
        for (i64 i = 0; i < n; ++i) {
          if (yv[i] == 0.0f) {
            ++zeros_seen;
          } else if (yv[i] != xv[i] * scale) {
            FAIL_CHECK("survivor " << i << ": " << yv[i] << " != " << xv[i] * scale);
            break;
          }
        }
        double frac = static_cast<double>(zeros_seen) / static_cast<double>(n);
        // 5 standard deviations of a binomial fraction.
        CHECK(std::fabs(frac - p) <= 5.0 * std::sqrt(p * (1 - p) / static_cast<double>(n)));
      }
    }
    // Deterministic: the mask is (rand(shape, same state) < 1 - p), and the same state gives the
    // same mask; the backward is g * mask * scale.
    Generator g1(42), g2(42);
    g1.set_state(42, 1000);
    g2.set_state(42, 1000);
    Tensor xl = values({3, 7}, 113).requires_grad_();
    Tensor y1 = dropout(xl, 0.3, true, g1);
    Tensor y2 = dropout(xl.detach(), 0.3, true, g2);
    CHECK(same_bits(y1, y2));
    CHECK(g1.offset() == 1021);
    Generator g3(42);
    g3.set_state(42, 1000);
    Tensor keep = lt(rand({3, 7}, g3), scalar_tensor(1.0 - 0.3));
    Tensor scale = scalar_tensor(1.0 / (1.0 - 0.3));
    CHECK(same_bits(y1, mul(mul(xl.detach(), keep), scale)));
    Tensor gy = values({3, 7}, 114);
    y1.backward(gy);
    CHECK(same_bits(xl.grad(), mul(mul(gy, keep), scale)));
  }

  TEST_CASE("dropout mask and thread counts: Deterministic independent, Fast dependent (cpu)") {
    ThreadCountRestore restore;
    Tensor x = ones({64, 33});
    auto mask_with = [&](int threads, Mode m) {
      set_num_threads(threads);
      Generator g(123);
      return dropout(x, 0.5, true, g, m);
    };
    Tensor d1 = mask_with(1, Mode::Deterministic);
    CHECK(same_bits(d1, mask_with(2, Mode::Deterministic)));
    CHECK(same_bits(d1, mask_with(3, Mode::Deterministic)));
    if (!default_device().is_cpu()) return;  // the thread count is a cpu setting
    Tensor f1 = mask_with(1, Mode::Fast);
    CHECK(same_bits(f1, mask_with(1, Mode::Fast)));  // reproducible at a fixed thread count
    CHECK_FALSE(same_bits(f1, mask_with(2, Mode::Fast)));
  }

  TEST_CASE("batch invariance: sample i does not depend on the batch size (1, 7, 64)") {
    const Shape sample{3, 2, 2};
    const i64 sn = numel_of(sample);
    Tensor all = values({64, 3, 2, 2}, 121);
    Tensor lw = values({5, 12}, 122), lb = values({5}, 123);
    Tensor rm = values({3}, 124), rv = values({3}, 125, DType::f32, 0.5, 1.5);
    Tensor w = values({3}, 126), b = values({3}, 127);
    const std::uint64_t o = 500;
    auto ops = [&](const Tensor& xb, std::uint64_t offset) {
      Generator g(31);
      g.set_state(31, offset);
      i64 B = xb.size(0);
      return std::vector<Tensor>{linear(xb.reshape({B, 12}), lw, lb),
                                 batch_norm(xb, rm, rv, w, b, false),
                                 softmax(xb.reshape({B, 12}), 1), dropout(xb, 0.5, true, g)};
    };
    for (i64 B : {1, 7, 64}) {
      CAPTURE(B);
      std::vector<Tensor> batch = ops(all.narrow(0, 0, B), o);
      for (i64 i : {i64{0}, B / 2, B - 1}) {
        CAPTURE(i);
        std::vector<Tensor> one = ops(all.narrow(0, i, 1), o + static_cast<std::uint64_t>(i * sn));
        for (std::size_t k = 0; k < one.size(); ++k) {
          CAPTURE(k);
          CHECK(same_bits(batch[k].narrow(0, i, 1), one[k]));
        }
      }
    }
  }

  TEST_CASE("bad input: a ditto::Error naming the op, shapes and values") {
    Tensor x = zeros({2, 3});
    Generator g(1);
    CHECK_ERROR(dropout(x, 1.5, true, g), "dropout", "p must be in [0, 1)", "1.5");
    CHECK_ERROR(dropout(x, -0.1, true, g), "dropout", "-0.1");
    CHECK_ERROR(dropout(x, 1.0, false, g), "dropout", "[0, 1)");
    CHECK_ERROR(dropout(x, std::nan(""), true, g), "dropout", "nan");
    CHECK_ERROR(dropout(zeros({2}, DType::i64), 0.5, true, g), "dropout", "floating", "i64");

    Tensor logits = zeros({4, 3});
    CHECK_ERROR(cross_entropy(logits, ints({0, 1, 3, 2}, {4})), "cross_entropy", "target 3",
                "out of range", "3 classes", "[4,3]", "[4]");
    CHECK_ERROR(nll_loss(logits, ints({0, -1, 1, 2}, {4})), "nll_loss", "target -1", "[4,3]");
    CHECK_ERROR(cross_entropy(logits, zeros({4})), "cross_entropy", "target", "i64", "[4] f32");
    CHECK_ERROR(cross_entropy(logits, ints({0, 1, 2}, {3})), "cross_entropy", "target [3]",
                "input [4,3]", "expected target [4]");
    CHECK_ERROR(nll_loss(zeros({2, 3, 4}), ints({0, 1}, {2})), "nll_loss", "[2,3,4]",
                "expected target [2,4]");
    CHECK_ERROR(cross_entropy(zeros({4, 3}, DType::i64), ints({0, 1, 2, 0}, {4})), "cross_entropy",
                "floating", "[4,3] i64");
    CHECK_ERROR(mse_loss(zeros({2, 3}), zeros({3})), "mse_loss", "[2,3]", "[3]", "same shape");
    CHECK_ERROR(mse_loss(zeros({2}), zeros({2}, DType::i64)), "mse_loss", "floating", "i64");

    Tensor xb = zeros({2, 3, 4});
    CHECK_ERROR(batch_norm(xb, zeros({4}), ones({4}), Tensor(), Tensor(), true), "batch_norm",
                "running_mean", "[4]", "expected [3]", "[2,3,4]");
    CHECK_ERROR(batch_norm(xb, zeros({3}), ones({2}), Tensor(), Tensor(), false), "batch_norm",
                "running_var", "[2]", "expected [3]");
    CHECK_ERROR(batch_norm(xb, Tensor(), Tensor(), ones({5}), Tensor(), true), "batch_norm",
                "weight", "[5]", "[2,3,4]");
    CHECK_ERROR(batch_norm(xb, Tensor(), Tensor(), Tensor(), ones({2}), true), "batch_norm", "bias",
                "[2]");
    CHECK_ERROR(
        batch_norm(xb, zeros({3}, DType::f64), ones({3}, DType::f64), Tensor(), Tensor(), true),
        "batch_norm", "running_mean", "f64", "f32");
    CHECK_ERROR(batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                "batch_norm", "more than 1 value per channel", "[1,3]");
    CHECK_ERROR(batch_norm(zeros({3}), Tensor(), Tensor(), Tensor(), Tensor(), true), "batch_norm",
                "(N, C)", "[3]");
    CHECK_ERROR(batch_norm(zeros({1, 2, 3, 4, 5}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                "batch_norm", "[1,2,3,4,5]");
    CHECK_ERROR(batch_norm(xb, Tensor(), Tensor(), Tensor(), Tensor(), false), "batch_norm",
                "eval");
    CHECK_ERROR(batch_norm(zeros({2, 3}, DType::i64), Tensor(), Tensor(), Tensor(), Tensor(), true),
                "batch_norm", "floating", "i64");

    CHECK_ERROR(linear(zeros({2, 4}), zeros({3, 5})), "linear", "[2,4]", "4 features", "[3,5]",
                "expects 5");
    CHECK_ERROR(linear(zeros({2, 5}), zeros({3, 5}), zeros({4})), "linear", "bias [4]", "[3,5]");
    CHECK_ERROR(linear(zeros({2, 5}), zeros({5})), "linear", "2-D", "[5]");
    CHECK_ERROR(linear(zeros({2, 5}), zeros({3, 5}, DType::f64)), "linear", "f32", "f64");
  }
}

// ---- cpu vs sim, bit for bit, through the public API ------------------------------------------

TEST_SUITE("nn_ops") {
  TEST_CASE("libtorch spellings: brace pairs for pool kernel, stride and padding compile and agree") {
    Generator g(5);
    const Tensor x = randn({2, 3, 7, 6}, g);
    auto same = [](const Tensor& a, const Tensor& b) {
      return a.shape() == b.shape() && a.to_vector<float>() == b.to_vector<float>();
    };
    // torch::max_pool2d(x, {2, 2}, {2, 2}) and friends: the stride as a brace pair.
    CHECK(same(max_pool2d(x, {2, 2}, {2, 2}), max_pool2d(x, 2)));
    CHECK(same(max_pool2d(x, {3, 2}, {2, 1}, {1, 0}), max_pool2d(x, Size2(3, 2), Size2(2, 1), Size2(1, 0))));
    CHECK(same(avg_pool2d(x, {3, 3}, {2, 2}, {1, 1}), avg_pool2d(x, 3, Size2(2), 1)));
    // {} and std::nullopt: the stride defaults to the kernel size, as in PyTorch.
    CHECK(same(max_pool2d(x, {2, 3}, {}), max_pool2d(x, {2, 3}, {2, 3})));
    CHECK(same(avg_pool2d(x, 2, std::nullopt), avg_pool2d(x, 2, 2)));
    const std::optional<Size2> s = Size2(1, 2);
    CHECK(same(max_pool2d(x, 2, s), max_pool2d(x, 2, {1, 2})));
    // The module options take the same spellings.
    nn::MaxPool2d mp(nn::MaxPool2dOptions{.kernel_size = {2, 2}, .stride = {1, 1}});
    CHECK(same(mp(x), max_pool2d(x, 2, 1)));
    nn::AvgPool2d ap(nn::AvgPool2dOptions{.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    CHECK(same(ap(x), avg_pool2d(x, 3, 2, 1)));
    CHECK(nn::MaxPool2d(nn::MaxPool2dOptions{.kernel_size = 2}).extra_repr().find("stride=2") !=
          std::string::npos);
  }
}
