// ditto — tests of the batch_norm kernels (kernels/batch_norm.h) through batch_norm():
//  - the forward (training and eval) and the running-statistics update are bit for bit the
//    composition of public ops batch_norm was before it had kernels, on cpu at every x86-64
//    level and 1-3 threads and on sim, f32/f64, 2-D/3-D/4-D, with and without affine, including
//    ranges of one, two and over 1024 chunks (three levels of the canonical tree);
//  - the backward is within rounding of the composition's gradients, and its own bits are the
//    same on every ISA level, thread count and on sim;
//  - Fast is within rounding of Deterministic, and on sim honestly atomic (its bits follow the
//    schedule seed);
//  - launches on sim: 2 forward + 2 backward (Deterministic);
//  - non-contiguous running statistics, and the argument errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "ditto/ditto.h"
#include "kernels/sim/control.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/bits.h"
#include "test/fixtures/threads.h"

using namespace ditto;
using ditto::test_fixtures::same_bits;
using ditto::test_fixtures::ThreadsRestore;

namespace {

struct Case {
  Shape x;
  bool affine;
  bool bias;
  bool running;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {{7, 3}, true, true, true},          // 2-D: S == 1
      {{4, 5, 9}, false, false, false},    // 3-D, no affine
      {{3, 2, 20, 30}, true, true, true},  // 4-D, 1800 values: two chunks
      {{2, 4, 3, 3}, true, false, true},   // weight without bias
  };
  return c;
}

// Inputs with a channel offset (so that mean and variance matter) and some exact zeros.
Tensor input(const Shape& s, DType t, Device d, std::uint64_t seed = 5) {
  Generator g(seed);
  Tensor x = randn(s, g, DType::f64, Device::cpu());
  Shape b(s.size(), 1);
  b[1] = s[1];
  Tensor off =
      mul(arange(static_cast<double>(s[1]), DType::f64), scalar_tensor(0.75, DType::f64)).view(b);
  return add(x, off).to(t).to(d);
}

struct Out {
  Tensor y, rm, rv, dx, dw, db;
};

// The composition batch_norm was before it had kernels (its forward bits are the contract).
Out reference(const Tensor& x0, const Tensor& w0, const Tensor& b0, bool running, bool training,
              const Tensor& gr, double momentum = 0.1, double eps = 1e-5) {
  const std::int64_t C = x0.size(1);
  Dims red{0};
  for (std::int64_t d = 2; d < x0.dim(); ++d) red.push_back(d);
  Shape bs(x0.dim(), 1);
  bs[1] = C;
  const std::int64_t n = x0.numel() / C;
  Tensor x = x0.detach().requires_grad_();
  Tensor w = w0.defined() ? w0.detach().requires_grad_() : Tensor();
  Tensor b = b0.defined() ? b0.detach().requires_grad_() : Tensor();
  Out o;
  o.rm = full({C}, 0.25, x.dtype(), x.device());
  o.rv = full({C}, 2.0, x.dtype(), x.device());
  Tensor d, var_b;
  if (training) {
    Tensor m = mean(x, red, true);
    d = sub(x, m);
    Tensor ss = sum(mul(d, d), red, true);
    var_b = div(ss, scalar_like(x, static_cast<double>(n)));
    if (running) {
      NoGradGuard ng;
      Tensor keep = scalar_like(x, 1.0 - momentum), mom = scalar_like(x, momentum);
      Tensor var_u = div(ss.detach(), scalar_like(x, static_cast<double>(n - 1)));
      Tensor nm = add(mul(keep, o.rm), mul(mom, m.detach().reshape({C})));
      Tensor nv = add(mul(keep, o.rv), mul(mom, var_u.reshape({C})));
      o.rm.copy_(nm);
      o.rv.copy_(nv);
    }
  } else {
    d = sub(x, o.rm.view(bs));
    var_b = o.rv.view(bs);
  }
  Tensor inv = div(scalar_like(x, 1.0), sqrt(add(var_b, scalar_like(x, eps))));
  Tensor y = mul(d, inv);
  if (w.defined()) y = mul(y, w.view(bs));
  if (b.defined()) y = add(y, b.view(bs));
  y.backward(gr);
  o.y = y.detach();
  o.dx = x.grad();
  if (w.defined()) o.dw = w.grad();
  if (b.defined()) o.db = b.grad();
  return o;
}

// batch_norm itself, with running statistics starting at 0.25 / 2.0 (as the reference).
Out run_bn(const Tensor& x0, const Tensor& w0, const Tensor& b0, bool running, bool training,
           const Tensor& gr, Mode mode = Mode::Deterministic) {
  const std::int64_t C = x0.size(1);
  Tensor x = x0.detach().requires_grad_();
  Tensor w = w0.defined() ? w0.detach().requires_grad_() : Tensor();
  Tensor b = b0.defined() ? b0.detach().requires_grad_() : Tensor();
  Out o;
  if (running || !training) {
    o.rm = full({C}, 0.25, x.dtype(), x.device());
    o.rv = full({C}, 2.0, x.dtype(), x.device());
  }
  Tensor y = batch_norm(x, o.rm, o.rv, w, b, training, 0.1, 1e-5, mode);
  y.backward(gr);
  o.y = y.detach();
  o.dx = x.grad();
  if (w.defined()) o.dw = w.grad();
  if (b.defined()) o.db = b.grad();
  return o;
}

double max_rel(const Tensor& a, const Tensor& b) {
  const std::vector<double> u = a.to(DType::f64).to(Device::cpu()).to_vector<double>();
  const std::vector<double> v = b.to(DType::f64).to(Device::cpu()).to_vector<double>();
  double scale = 1, err = 0;
  for (double x : v) scale = std::max(scale, std::abs(x));
  for (std::size_t i = 0; i < u.size(); ++i) err = std::max(err, std::abs(u[i] - v[i]));
  return err / scale;
}

struct Inputs {
  Tensor x, w, b, gr;
};
Inputs inputs_for(const Case& c, DType t, Device d) {
  Inputs in;
  in.x = input(c.x, t, d);
  Generator g(8);
  if (c.affine) in.w = randn({c.x[1]}, g, DType::f64).to(t).to(d);
  if (c.affine && c.bias) in.b = randn({c.x[1]}, g, DType::f64).to(t).to(d);
  in.gr = randn(c.x, g, DType::f64).to(t).to(d);
  return in;
}

void check_same(const Out& a, const Out& b) {
  CHECK(same_bits(a.y, b.y));
  CHECK(same_bits(a.dx, b.dx));
  if (a.rm.defined()) {
    CHECK(same_bits(a.rm, b.rm));
    CHECK(same_bits(a.rv, b.rv));
  }
  if (a.dw.defined()) CHECK(same_bits(a.dw, b.dw));
  if (a.db.defined()) CHECK(same_bits(a.db, b.db));
}

}  // namespace

TEST_SUITE("batch_norm_kernel") {
  TEST_CASE("batch_norm forward: the composition's bits; backward within rounding of it") {
    for (DType t : {DType::f32, DType::f64}) {
      for (std::size_t k = 0; k < cases().size(); ++k) {
        for (bool training : {true, false}) {
          const Case& c = cases()[k];
          CAPTURE(dtype_name(t));
          CAPTURE(k);
          CAPTURE(training);
          const Inputs in = inputs_for(c, t, Device::cpu());
          const Out ref = reference(in.x, in.w, in.b, c.running, training, in.gr);
          const Out got = run_bn(in.x, in.w, in.b, c.running, training, in.gr);
          CHECK(same_bits(got.y, ref.y));
          if (c.running || !training) {
            CHECK(same_bits(got.rm, ref.rm));
            CHECK(same_bits(got.rv, ref.rv));
          }
          const double tol = t == DType::f32 ? 2e-5 : 1e-12;
          CHECK(max_rel(got.dx, ref.dx) <= tol);
          if (c.affine) CHECK(max_rel(got.dw, ref.dw) <= tol);
          if (c.affine && c.bias) CHECK(max_rel(got.db, ref.db) <= tol);
        }
      }
    }
  }

  TEST_CASE("batch_norm Deterministic: the same bits on every ISA level, 1-3 threads and sim") {
    ThreadsRestore restore;
    for (DType t : {DType::f32, DType::f64}) {
      for (std::size_t k = 0; k < cases().size(); ++k) {
        for (bool training : {true, false}) {
          const Case& c = cases()[k];
          CAPTURE(dtype_name(t));
          CAPTURE(k);
          CAPTURE(training);
          const Inputs in = inputs_for(c, t, Device::cpu());
          const Out base = run_bn(in.x, in.w, in.b, c.running, training, in.gr);
          test_fixtures::for_each_cpu_config(
              [&] { check_same(run_bn(in.x, in.w, in.b, c.running, training, in.gr), base); });
          const Inputs s = inputs_for(c, t, Device::sim());
          check_same(run_bn(s.x, s.w, s.b, c.running, training, s.gr), base);
        }
      }
    }
  }

  TEST_CASE(
      "batch_norm over more than 1024 chunks per channel (three tree levels): cpu == sim, "
      "== the composition's forward") {
    ThreadsRestore restore;
    const Shape s{2, 1, 525000};  // 1,050,000 values per channel: 1026 chunks
    const Inputs in = inputs_for({s, true, true, true}, DType::f32, Device::cpu());
    const Out ref = reference(in.x, in.w, in.b, true, true, in.gr);
    const Out got = run_bn(in.x, in.w, in.b, true, true, in.gr);
    CHECK(same_bits(got.y, ref.y));
    CHECK(same_bits(got.rm, ref.rm));
    CHECK(same_bits(got.rv, ref.rv));
    set_num_threads(2);
    check_same(run_bn(in.x, in.w, in.b, true, true, in.gr), got);
    const Inputs sm = inputs_for({s, true, true, true}, DType::f32, Device::sim());
    check_same(run_bn(sm.x, sm.w, sm.b, true, true, sm.gr), got);
  }

  TEST_CASE(
      "batch_norm Fast: within rounding of Deterministic; on sim the bits follow the "
      "schedule") {
    const Case c{{8, 2, 64, 64}, true, true, true};  // 32768 values per channel: 16 slices
    for (Device d : {Device::cpu(), Device::sim()}) {
      CAPTURE(device_name(d));
      const Inputs in = inputs_for(c, DType::f32, d);
      const Out det = run_bn(in.x, in.w, in.b, true, true, in.gr);
      const Out fast = run_bn(in.x, in.w, in.b, true, true, in.gr, Mode::Fast);
      CHECK(max_rel(fast.y, det.y) <= 1e-5);
      CHECK(max_rel(fast.rm, det.rm) <= 1e-5);
      CHECK(max_rel(fast.rv, det.rv) <= 1e-5);
      CHECK(max_rel(fast.dx, det.dx) <= 1e-4);
      CHECK(max_rel(fast.dw, det.dw) <= 1e-4);
      CHECK(max_rel(fast.db, det.db) <= 1e-4);
    }
    const Inputs in = inputs_for(c, DType::f32, Device::sim());
    std::set<std::vector<float>> patterns;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      ditto::sim::ScheduleGuard sg({ditto::sim::Order::kRandom, seed}, 2);
      const Out o = run_bn(in.x, in.w, in.b, true, true, in.gr, Mode::Fast);
      std::vector<float> v = o.rv.to_vector<float>();
      for (float f : o.dw.to_vector<float>()) v.push_back(f);
      patterns.insert(v);
    }
    MESSAGE("batch_norm Fast on sim: " << patterns.size()
                                       << " distinct (running_var, dweight) over 10 seeds");
    CHECK(patterns.size() >= 2);
  }

  TEST_CASE("batch_norm on sim: 2 launches forward, 2 backward (Deterministic)") {
    const Inputs in = inputs_for(cases()[2], DType::f32, Device::sim());
    Tensor x = in.x.detach().requires_grad_(), w = in.w.detach().requires_grad_();
    Tensor b = in.b.detach().requires_grad_();
    Tensor rm = zeros({2}, DType::f32, Device::sim()), rv = ones({2}, DType::f32, Device::sim());
    std::uint64_t before = ditto::sim::get_stats().launches;
    Tensor y = batch_norm(x, rm, rv, w, b, true);
    const std::uint64_t forward = ditto::sim::get_stats().launches - before;
    before = ditto::sim::get_stats().launches;
    y.backward(in.gr);
    // Three of them store the leaves' gradients (test_dropout_kernel measures one such store).
    const std::uint64_t backward = ditto::sim::get_stats().launches - before - 3;
    MESSAGE("batch_norm on sim: " << forward << " launches forward, " << backward << " backward");
    CHECK(forward == 2);
    CHECK(backward == 2);
  }

  TEST_CASE("batch_norm: non-contiguous running statistics are updated like contiguous ones") {
    const Inputs in = inputs_for(cases()[2], DType::f64, Device::cpu());
    Tensor rm = zeros({2}), rv = ones({2});
    Tensor y1 =
        batch_norm(in.x.to(DType::f32), rm, rv, in.w.to(DType::f32), in.b.to(DType::f32), true);
    Tensor store = zeros({2, 2}), rm2 = store.select(1, 0), rv2 = store.select(1, 1);
    rv2.copy_(ones({2}));
    Tensor y2 =
        batch_norm(in.x.to(DType::f32), rm2, rv2, in.w.to(DType::f32), in.b.to(DType::f32), true);
    CHECK(same_bits(y1, y2));
    CHECK(same_bits(rm, rm2.contiguous()));
    CHECK(same_bits(rv, rv2.contiguous()));
  }

  TEST_CASE("batch_norm errors name the op and the shapes") {
    Tensor x = zeros({4, 3, 2});
    CHECK_THROWS_WITH_AS(batch_norm(x, zeros({2}), ones({2}), Tensor(), Tensor(), true),
                         doctest::Contains("running_mean has shape [2]"), Error);
    CHECK_THROWS_WITH_AS(batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                         doctest::Contains("more than 1 value per channel"), Error);
    CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false),
                         doctest::Contains("needed in eval mode"), Error);
  }
}
