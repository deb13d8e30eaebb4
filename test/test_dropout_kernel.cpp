// ditto — tests of the dropout kernels (kernels/dropout.h) through dropout() and directly:
//  - Deterministic forward and backward are bit for bit the composition they replaced
//    (rand → lt → mul → mul, and (g * mask) * scale), on cpu at every x86-64 level and thread
//    count and on sim, for f32/f64, sizes around the 64-counter blocks, several p and offsets,
//    with NaN, ±0 and ±inf among the inputs;
//  - Fast keys the draws by the thread: on cpu it equals the by-thread composition for each
//    thread count and the mask changes with it; on sim the mask changes with the forced grid;
//  - one launch forward and one backward on sim;
//  - bad arguments throw ditto::Error.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/ops/op_util.h"
#include "ditto/ditto.h"
#include "kernels/dropout.h"
#include "kernels/launch_config.h"
#include "kernels/random.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/bits.h"
#include "test/fixtures/threads.h"

using namespace ditto;
using ditto::test_fixtures::same_bits;

namespace {

using ditto::test_fixtures::ThreadsRestore;  // test/fixtures/threads.h

// Inputs with the awkward values in front: NaN, -0, +0, -inf, +inf, then normals.
Tensor input(const Shape& s, DType t, Device d) {
  Generator g(5);
  Tensor x = randn(s, g, DType::f64, Device::cpu());
  std::vector<double> v = x.to_vector<double>();
  const double special[] = {std::numeric_limits<double>::quiet_NaN(), -0.0, 0.0,
                            -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::infinity()};
  for (std::size_t i = 0; i < v.size() && i < 5; ++i) v[i] = special[i];
  return from_vector(v, s).to(t).to(d);
}

// The composition dropout was before it had kernels: the u8 mask from rand, then two muls.
struct Reference {
  Tensor out, mask, scale;
};
Reference composed(const Tensor& x, double p, Generator& gen, Tensor u = Tensor()) {
  if (!u.defined()) u = rand(x.shape(), gen, x.dtype(), x.device());
  Reference r;
  r.scale = full({}, 1.0 / (1.0 - p), x.dtype(), x.device());
  r.mask = lt(u, full({}, 1.0 - p, x.dtype(), x.device()));
  r.out = mul(mul(x, r.mask), r.scale);
  return r;
}

// Runs dropout forward + backward on device d; returns out, dx.
std::vector<Tensor> run(const Tensor& x0, const Tensor& g, double p, std::uint64_t skip, Mode m) {
  Generator gen(2024);
  gen.advance(skip);
  Tensor x = x0.detach().requires_grad_();
  Tensor y = dropout(x, p, true, gen, m);
  y.backward(g);
  return {y.detach(), x.grad()};
}

}  // namespace

TEST_SUITE("dropout_kernel") {
  TEST_CASE(
      "dropout Deterministic: the composition's bits, cpu (every ISA level, 1-3 threads) and sim") {
    ThreadsRestore restore;
    for (DType t : {DType::f32, DType::f64}) {
      for (const Shape& s :
           {Shape{0}, Shape{1}, Shape{63}, Shape{64}, Shape{1000}, Shape{3, 77, 5}}) {
        for (double p : {0.1, 0.5, 0.9}) {
          for (std::uint64_t skip : {0u, 13u}) {
            CAPTURE(dtype_name(t));
            CAPTURE(shape_str(s));
            CAPTURE(p);
            CAPTURE(skip);
            Tensor x = input(s, t, Device::cpu());
            Generator gg(7);
            Tensor g = randn(s, gg, t, Device::cpu());
            Generator gen(2024);
            gen.advance(skip);
            Reference ref = composed(x, p, gen);
            Tensor dx_ref = mul(mul(g, ref.mask), ref.scale);
            test_fixtures::for_each_cpu_config([&] {
              std::vector<Tensor> got = run(x, g, p, skip, Mode::Deterministic);
              CHECK(same_bits(got[0], ref.out));
              CHECK(same_bits(got[1], dx_ref));
            });
            std::vector<Tensor> sim =
                run(x.to(Device::sim()), g.to(Device::sim()), p, skip, Mode::Deterministic);
            CHECK(same_bits(sim[0], ref.out));
            CHECK(same_bits(sim[1], dx_ref));
          }
        }
      }
    }
  }

  TEST_CASE("dropout Fast: draws keyed by the thread (cpu: the by-thread composition per count)") {
    ThreadsRestore restore;
    const Shape s{40000};  // above the parallel threshold
    Tensor x = input(s, DType::f32, Device::cpu());
    std::set<std::vector<float>> patterns;
    for (int threads : {1, 2, 3}) {
      CAPTURE(threads);
      set_num_threads(threads);
      Tensor u = empty(s, DType::f32, Device::cpu());
      kernels::random_kernels(Device::cpu())
          .random_uniform_by_thread(detail::make_view(u, "test"), 2024, 0);
      Generator unused(0);
      Reference ref = composed(x, 0.5, unused, u);
      std::vector<Tensor> got = run(x, ones(s), 0.5, 0, Mode::Fast);
      CHECK(same_bits(got[0], ref.out));
      patterns.insert(got[1].to_vector<float>());
    }
    CHECK(patterns.size() == 3);  // each thread count gives its own mask
  }

  TEST_CASE("dropout Fast on sim: the mask follows the launch configuration") {
    Tensor x = input({5000}, DType::f32, Device::sim());
    std::set<std::vector<float>> patterns;
    for (int blocks : {1, 2, 3, 5}) {
      ditto::kernels::LaunchOverrideGuard lg({blocks, 0});
      patterns.insert(run(x, ones({5000}, DType::f32, Device::sim()), 0.5, 0, Mode::Fast)[1]
                          .to_vector<float>());
    }
    CHECK(patterns.size() >= 2);
  }

  TEST_CASE("dropout on sim: one launch forward, one backward") {
    Tensor x = input({4, 300}, DType::f32, Device::sim()).requires_grad_();
    Tensor g = ones({4, 300}, DType::f32, Device::sim());
    // What the engine itself launches to store a leaf's gradient (a view's backward launches
    // nothing), so the dropout node's own launches can be told apart.
    std::uint64_t before = ditto::sim::get_stats().launches;
    x.reshape({1200}).backward(g.reshape({1200}));
    const std::uint64_t engine = ditto::sim::get_stats().launches - before;
    x.set_grad(Tensor());
    Generator gen(1);
    before = ditto::sim::get_stats().launches;
    Tensor y = dropout(x, 0.25, true, gen);
    const std::uint64_t forward = ditto::sim::get_stats().launches - before;
    y.backward(g);
    const std::uint64_t backward = ditto::sim::get_stats().launches - before - forward - engine;
    MESSAGE("dropout on sim: " << forward << " launch forward, " << backward << " backward (+"
                               << engine << " to store the leaf's gradient)");
    CHECK(forward == 1);
    CHECK(backward == 1);
  }

  TEST_CASE("dropout kernels: bad arguments throw ditto::Error") {
    const auto& k = kernels::dropout_kernels(Device::cpu());
    Tensor x = zeros({8}), out = zeros({8}), mask = zeros({8}, DType::u8);
    Tensor xi = zeros({8}, DType::i64), m4 = zeros({4}, DType::u8), mf = zeros({8});
    auto v = [](const Tensor& t) { return detail::make_view(t, "test"); };
    CHECK_THROWS_AS(k.forward(Mode::Deterministic, v(xi), v(out), v(mask), 0, 0, 0.5), Error);
    CHECK_THROWS_AS(k.forward(Mode::Deterministic, v(x), v(out), v(m4), 0, 0, 0.5), Error);
    CHECK_THROWS_AS(k.forward(Mode::Deterministic, v(x), v(out), v(mf), 0, 0, 0.5), Error);
    CHECK_THROWS_AS(k.forward(Mode::Deterministic, v(x), v(out), v(mask), 0, 0, 1.0), Error);
    CHECK_THROWS_AS(k.backward(v(x), v(m4), v(out), 0.5), Error);
    Tensor strided = zeros({8, 2}).slice(1, 0, 1);
    CHECK_THROWS_AS(k.backward(v(strided.squeeze(1)), v(mask), v(out), 0.5), Error);
  }
}
