// ditto — tests of the direct conv kernels (kernels/conv.h): the implicit-GEMM forward with the
// bias fused (the tiled GEMM kernel staging the input's taps; every tile shape and grid),
// backward-data and backward-weight that the GPU devices run, against conv2d's cpu route (im2col +
// the canonical GEMM chain, col2im's gather, the canonical sum over the batch):
//  - bit for bit in Deterministic mode, f32 and f64, for stride, padding, dilation, groups, a
//    strided input, an input full of ±0, on sim (through conv2d) and through the cpu table at
//    every x86-64 level and 1-3 threads;
//  - Fast weight gradient within rounding, and on sim honestly atomic;
//  - launches on sim (forward 1, backward 1 per gradient + the bias sum); errors from the kernels.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/ops/op_util.h"
#include "core/ops/window.h"
#include "ditto/ditto.h"
#include "kernels/conv.h"
#include "kernels/launch_config.h"
#include "test/fixtures/bits.h"
#include "test/fixtures/errors.h"  // CHECK_ERROR
#include "test/fixtures/sim_launches.h"
#include "test/fixtures/threads.h"

using namespace ditto;
using ditto::test_fixtures::same_bits;

namespace {

using ditto::test_fixtures::ThreadsRestore;  // test/fixtures/threads.h
using i64 = std::int64_t;

struct Case {
  Shape x;  // (N, C, H, W)
  i64 O, kH, kW;
  Size2 s, p, d;
  i64 groups;
  bool bias, transposed, zeros;  // zeros: an input of ±0 and ±1 (sign-of-zero corners)
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {{2, 3, 7, 6}, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true, false, false},
      {{3, 4, 9, 8}, 6, 3, 2, {2, 1}, {1, 0}, {2, 1}, 2, false, false, false},
      {{1, 2, 6, 7}, 4, 2, 3, {1, 2}, {0, 2}, {1, 1}, 2, true, true, false},
      {{2, 3, 5, 5}, 2, 3, 3, {1, 1}, {2, 2}, {1, 1}, 1, true, false, true},
      {{4, 2, 12, 11}, 3, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true, false, false},
  };
  return c;
}

Tensor input_of(const Case& c, DType t) {
  Generator g(19);
  Shape s = c.x;
  if (c.transposed) std::swap(s[2], s[3]);
  Tensor x = randn(s, g, DType::f64);
  if (c.zeros) {
    std::vector<double> v = randint(0, 4, s, g, DType::i64).to(DType::f64).to_vector<double>();
    const double map[] = {-0.0, 0.0, -1.0, 1.0};
    for (double& e : v) e = map[static_cast<int>(e)];
    x = from_vector(v, s);
  }
  x = x.to(t);
  return c.transposed ? x.transpose(2, 3) : x;
}

// conv2d forward + backward on x's device: {y, dx, dw, db, gr} on the cpu.
std::vector<Tensor> run(const Case& c, const Tensor& x0, const Tensor& w0, const Tensor& b0, Mode m,
                        Device d) {
  Tensor x = x0.to(d).detach().requires_grad_(), w = w0.to(d).detach().requires_grad_();
  Tensor b = c.bias ? b0.to(d).detach().requires_grad_() : Tensor();
  if (c.transposed && d.is_cpu()) x = x0.detach().requires_grad_();  // keep the strides
  Tensor y = conv2d(x, w, b, c.s, c.p, c.d, c.groups, m);
  Generator g(5);
  Tensor gr = randn(y.shape(), g, DType::f64).to(y.dtype()).to(d);
  y.backward(gr);
  auto cpu = [](const Tensor& t) { return t.defined() ? t.to(Device::cpu()) : Tensor(); };
  return {cpu(y.detach()), cpu(x.grad()), cpu(w.grad()), c.bias ? cpu(b.grad()) : Tensor(),
          cpu(gr)};
}

struct Operands {
  Tensor x, w, b;
};
Operands operands_of(const Case& c, DType t) {
  Generator g(23);
  return {input_of(c, t), randn({c.O, c.x[1] / c.groups, c.kH, c.kW}, g, DType::f64).to(t),
          c.bias ? randn({c.O}, g, DType::f64).to(t) : Tensor()};
}

kernels::ConvGeom geom_of(const Case& c, const Tensor& x, const Tensor& y) {
  return {detail::window_geom(x, {c.kH, c.kW}, c.s, c.p, c.d, y.size(2), y.size(3)), c.O, c.groups};
}

// The cpu table's direct kernels on the same operands: {y, dx, dw}.
std::vector<Tensor> run_cpu_table(const Case& c, const Operands& op, const Tensor& gr, Mode m) {
  const kernels::ConvKernels& k = kernels::conv_kernels(Device::cpu());
  const kernels::ConvGeom g = geom_of(c, op.x, gr);
  Tensor y = empty(gr.shape(), op.x.dtype()), dx = empty(op.x.shape(), op.x.dtype());
  Tensor dw = empty(op.w.shape(), op.x.dtype());
  k.forward(g, detail::make_view(op.x, "t"), detail::make_view(op.w, "t"),
            c.bias ? detail::make_view(op.b, "t") : kernels::View{}, detail::make_view(y, "t"));
  k.backward_data(g, detail::make_view(gr, "t"), detail::make_view(op.w, "t"),
                  detail::make_view(dx, "t"));
  k.backward_weight(m, g, detail::make_view(op.x, "t"), detail::make_view(gr, "t"),
                    detail::make_view(dw, "t"));
  return {y, dx, dw};
}

}  // namespace

TEST_SUITE("conv_kernel") {
  TEST_CASE(
      "conv direct kernels Deterministic: im2col + GEMM's bits on sim and through the cpu "
      "table (every ISA, 1-3 threads)") {
    ThreadsRestore restore;
    for (DType t : {DType::f32, DType::f64}) {
      for (std::size_t k = 0; k < cases().size(); ++k) {
        const Case& c = cases()[k];
        CAPTURE(dtype_name(t));
        CAPTURE(k);
        const Operands op = operands_of(c, t);
        // The cpu route: im2col + the canonical GEMM (core/ops/conv.cpp).
        const std::vector<Tensor> ref =
            run(c, op.x, op.w, op.b, Mode::Deterministic, Device::cpu());
        const std::vector<Tensor> sim =
            run(c, op.x, op.w, op.b, Mode::Deterministic, Device::sim());
        for (int i = 0; i < 4; ++i) CHECK(same_bits(sim[i], ref[i]));
        test_fixtures::for_each_cpu_config([&] {
          const std::vector<Tensor> direct = run_cpu_table(c, op, ref[4], Mode::Deterministic);
          for (int i = 0; i < 3; ++i) CHECK(same_bits(direct[i], ref[i]));
        });
      }
    }
  }

  TEST_CASE(
      "conv direct weight gradient Fast: within rounding; on sim the bits follow the "
      "schedule") {
    // 4 x 24 x 24 = 2304 positions: three atomic slices per weight element on sim.
    const Case c{{4, 3, 24, 24}, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true, false, false};
    const Operands op = operands_of(c, DType::f32);
    const std::vector<Tensor> det = run(c, op.x, op.w, op.b, Mode::Deterministic, Device::sim());
    std::set<std::vector<float>> patterns;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      ditto::sim::ScheduleGuard sg({ditto::sim::Order::kRandom, seed}, 2);
      const std::vector<Tensor> fast = run(c, op.x, op.w, op.b, Mode::Fast, Device::sim());
      const std::vector<float> a = det[2].to_vector<float>(), b = fast[2].to_vector<float>();
      double err = 0, scale = 0;
      for (std::size_t i = 0; i < a.size(); ++i) {
        err = std::max(err, double(std::abs(a[i] - b[i])));
        scale = std::max(scale, double(std::abs(a[i])));
      }
      CHECK(err <= 1e-5 * scale);
      patterns.insert(b);
    }
    MESSAGE("conv2d Fast weight gradient on sim: " << patterns.size()
                                                   << " distinct results over 10 schedule seeds");
    CHECK(patterns.size() >= 2);
    const std::vector<Tensor> direct = run_cpu_table(c, op, det[4], Mode::Fast);
    const std::vector<float> a = det[2].to_vector<float>(), b = direct[2].to_vector<float>();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(std::abs(a[i] - b[i]) <= 1e-3f);
  }

  TEST_CASE("conv implicit-GEMM forward on sim: the same bits for every tile shape and grid") {
    const Case& c = cases()[1];  // groups 2, stride, dilation
    const Operands op = operands_of(c, DType::f32);
    const Tensor ref = conv2d(op.x, op.w, op.b, c.s, c.p, c.d, c.groups);  // cpu: im2col + GEMM
    for (int threads : {0, 64, 256, 1024}) {
      for (int blocks : {0, 1, 3}) {
        CAPTURE(threads);
        CAPTURE(blocks);
        kernels::LaunchOverrideGuard lo({blocks, threads});
        CHECK(same_bits(conv2d(op.x.to(Device::sim()), op.w.to(Device::sim()), Tensor(), c.s, c.p,
                               c.d, c.groups),
                        ref));
      }
    }
  }

  TEST_CASE("conv2d on sim: launches forward (bias fused) and backward") {
    const Case& c = cases()[0];
    const Operands op = operands_of(c, DType::f32);
    Tensor x = op.x.to(Device::sim()).requires_grad_(), w = op.w.to(Device::sim()).requires_grad_();
    Tensor b = op.b.to(Device::sim()).requires_grad_();
    Tensor y;
    const std::uint64_t forward = test_fixtures::sim_launches([&] { y = conv2d(x, w, b, 1, 1); });
    Tensor gr = ones(y.shape(), DType::f32, Device::sim());
    // Three of them store the leaves' gradients (one each, test_dropout_kernel measures that).
    const std::uint64_t backward = test_fixtures::sim_launches([&] { y.backward(gr); }) - 3;
    MESSAGE("conv2d with bias on sim: " << forward << " launch forward, " << backward
                                        << " backward (dx, dW, db): " << forward + backward);
    CHECK(forward == 1);
    CHECK(forward + backward <= 6);
  }

  TEST_CASE("conv direct kernels: the kernels' own checks name the op and the shapes") {
    const Case& c = cases()[0];
    const Operands op = operands_of(c, DType::f32);
    const kernels::ConvKernels& k = kernels::conv_kernels(Device::cpu());
    Tensor y = empty({2, 4, 7, 6});
    kernels::ConvGeom g = geom_of(c, op.x, y);
    Tensor bad = empty({4, 3, 3, 2});
    CHECK_ERROR(k.forward(g, detail::make_view(op.x, "t"), detail::make_view(bad, "t"),
                          kernels::View{}, detail::make_view(y, "t")),
                "conv2d", "weight", "[4,3,3,2]", "[4,3,3,3]");
    g.G = 2;
    CHECK_ERROR(k.forward(g, detail::make_view(op.x, "t"), detail::make_view(op.w, "t"),
                          kernels::View{}, detail::make_view(y, "t")),
                "conv2d", "groups 2");
  }
}
