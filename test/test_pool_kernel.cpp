// ditto — tests of the pooling kernels (kernels/pool.h) through max_pool2d / avg_pool2d:
//  - Deterministic forward and backward are bit for bit the composition they replaced (im2col,
//    the canonical max/argmax/sum over the taps, col2im's gather), on cpu at every x86-64 level
//    and 1-3 threads and on sim, for f32/f64 and geometries with padding, stride, dilation,
//    ceil_mode and both divisor rules, on inputs full of ±0 ties and NaN;
//  - Fast backward is within rounding of Deterministic, and on sim honestly atomic: its bits
//    change with the schedule seed on overlapping windows;
//  - canonical_serial (the per-thread canonical tree) equals canonical_reduce bit for bit;
//  - launches on sim: one forward, one backward.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/ops/window.h"
#include "ditto/ditto.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/bits.h"
#include "test/fixtures/sim_launches.h"
#include "test/fixtures/threads.h"

using namespace ditto;
using ditto::test_fixtures::same_bits;

namespace {

using ditto::test_fixtures::ThreadsRestore;  // test/fixtures/threads.h

struct Geo {
  Shape x;
  Size2 k, s, p, d;
  bool ceil;
  bool include_pad;
};

const std::vector<Geo>& geometries() {
  static const std::vector<Geo> g = {
      {{2, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false, true},
      // 2x2/2 with 35 windows per row (odd W): the vectorised rows' full 16-window steps, a
      // 3-window tail and an unused last column.
      {{1, 2, 4, 71}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false, true},
      {{1, 2, 7, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true, false},
      {{2, 2, 9, 7}, {3, 2}, {1, 2}, {1, 1}, {2, 1}, false, true},
      {{1, 3, 5, 11}, {2, 4}, {1, 3}, {1, 2}, {1, 1}, true, true},
      {{3, 1, 6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false, false},
      // 1089 taps: more than one canonical chunk (the per-output path of the cpu kernel).
      {{1, 2, 35, 34}, {33, 33}, {1, 1}, {0, 0}, {1, 1}, false, true},
  };
  return g;
}

// Values from {-0, +0, -1, 1, 2} (ties of every kind, zeros of both signs) and some NaN.
Tensor tie_input(const Shape& s, DType t, Device d, bool nan) {
  Generator g(11);
  std::vector<double> v =
      randint(0, 6, s, g, DType::i64, Device::cpu()).to(DType::f64).to_vector<double>();
  const double map[] = {-0.0, 0.0, -1.0, 1.0, 2.0, nan ? std::nan("") : 0.5};
  for (double& x : v) x = map[static_cast<int>(x)];
  return from_vector(v, s).to(t).to(d);
}

// avg_pool2d has no dilation.
kernels::WindowGeom geom_of(const Tensor& x, const Geo& c, const Tensor& out, bool is_max) {
  return detail::window_geom(x, c.k, c.s, c.p, is_max ? c.d : Size2{1, 1}, out.size(2),
                             out.size(3));
}

// The composition max_pool2d was before it had kernels; returns out, dx.
std::vector<Tensor> max_reference(const Tensor& x, const Geo& c, const Tensor& out,
                                  const Tensor& gr, Mode m) {
  const kernels::WindowGeom g = geom_of(x, c, out, true);
  Tensor taps = detail::im2col(x, g, -std::numeric_limits<double>::infinity(), "ref")
                    .view({g.C, g.kH * g.kW, g.N, g.OH, g.OW});
  Tensor y = max(taps, {1}).permute({1, 0, 2, 3}).contiguous();
  Tensor arg = argmax(taps, 1);
  Tensor tap = arange(static_cast<double>(g.kH * g.kW), DType::i64, x.device())
                   .view({1, g.kH * g.kW, 1, 1, 1});
  Tensor hit = eq(tap, arg.unsqueeze(1));
  Tensor gw = gr.permute({1, 0, 2, 3}).unsqueeze(1);
  Tensor dtaps = where(hit, gw, scalar_tensor(0.0, gr.dtype(), gr.device()));
  Tensor dx = detail::col2im(dtaps.reshape({g.C, g.kH, g.kW, g.N, g.OH, g.OW}), g, m, "ref");
  return {y, dx};
}

// The composition avg_pool2d was before it had kernels; returns out, dx.
std::vector<Tensor> avg_reference(const Tensor& x, const Geo& c, const Tensor& out,
                                  const Tensor& gr, Mode m) {
  const kernels::WindowGeom g = geom_of(x, c, out, false);
  // The divisor by PyTorch's rule, as the front end computes it.
  std::vector<double> dv(static_cast<std::size_t>(g.OH * g.OW));
  for (std::int64_t oh = 0; oh < g.OH; ++oh) {
    for (std::int64_t ow = 0; ow < g.OW; ++ow) {
      std::int64_t hs = oh * g.sH - g.pH, ws = ow * g.sW - g.pW;
      std::int64_t he = std::min(hs + g.kH, g.H + g.pH), we = std::min(ws + g.kW, g.W + g.pW);
      const std::int64_t pool = (he - hs) * (we - ws);
      hs = std::max<std::int64_t>(hs, 0);
      ws = std::max<std::int64_t>(ws, 0);
      he = std::min(he, g.H);
      we = std::min(we, g.W);
      dv[static_cast<std::size_t>(oh * g.OW + ow)] =
          static_cast<double>(c.include_pad ? pool : (he - hs) * (we - ws));
    }
  }
  Tensor divisor = from_vector(dv, {g.OH, g.OW}, x.device()).to(x.dtype());
  Tensor taps = detail::im2col(x, g, 0.0, "ref").view({g.C, g.kH * g.kW, g.N, g.OH, g.OW});
  Tensor y = div(sum(taps, {1}, false, m), divisor).permute({1, 0, 2, 3}).contiguous();
  Tensor share = div(gr, divisor).permute({1, 0, 2, 3}).unsqueeze(1);
  Tensor dtaps = share.expand({g.C, g.kH * g.kW, g.N, g.OH, g.OW}).contiguous();
  Tensor dx = detail::col2im(dtaps.reshape({g.C, g.kH, g.kW, g.N, g.OH, g.OW}), g, m, "ref");
  return {y, dx};
}

// The new op forward + backward with upstream gradient from `gseed`.
std::vector<Tensor> run_pool(bool is_max, const Tensor& x0, const Geo& c, Mode m,
                             std::uint64_t gseed = 3) {
  Tensor x = x0.detach().requires_grad_();
  Tensor y = is_max ? max_pool2d(x, c.k, c.s, c.p, c.d, c.ceil, m)
                    : avg_pool2d(x, c.k, c.s, c.p, c.ceil, c.include_pad, m);
  Generator g(gseed);
  Tensor gr = randn(y.shape(), g, DType::f64, Device::cpu()).to(x.dtype()).to(x.device());
  y.backward(gr);
  return {y.detach(), x.grad(), gr};
}

}  // namespace

TEST_SUITE("pool_kernel") {
  TEST_CASE("canonical_serial equals canonical_reduce bit for bit (sum and max, 0 to 70000)") {
    using namespace ditto::kernels::cpu;
    Generator g(9);
    std::vector<float> v = randn({70000}, g).to_vector<float>();
    for (std::size_t i = 0; i < v.size(); i += 7) v[i] = (i % 2) ? -0.0f : 0.0f;
    for (std::int64_t n : {0, 1, 2, 3, 9, 255, 256, 257, 1023, 1024, 1025, 4096, 65536}) {
      CAPTURE(n);
      auto load = [&](std::int64_t i) { return v[static_cast<std::size_t>(i)]; };
      CHECK(same_bits(std::vector<float>{canonical_serial<float, CanonSum>(n, 0.0f, load)},
                      std::vector<float>{canonical_reduce<float, CanonSum>(v.data(), n)}));
      const float ninf = -std::numeric_limits<float>::infinity();
      CHECK(same_bits(std::vector<float>{canonical_serial<float, CanonMax>(n, ninf, load)},
                      std::vector<float>{canonical_reduce<float, CanonMax>(v.data(), n)}));
    }
  }

  TEST_CASE(
      "pools Deterministic: the composition's bits, cpu (every ISA level, 1-3 threads) and sim") {
    ThreadsRestore restore;
    for (DType t : {DType::f32, DType::f64}) {
      for (std::size_t k = 0; k < geometries().size(); ++k) {
        for (bool is_max : {true, false}) {
          const Geo& c = geometries()[k];
          CAPTURE(dtype_name(t));
          CAPTURE(k);
          CAPTURE(is_max);
          Tensor x = tie_input(c.x, t, Device::cpu(), is_max);
          std::vector<Tensor> got = run_pool(is_max, x, c, Mode::Deterministic);
          std::vector<Tensor> ref = is_max
                                        ? max_reference(x, c, got[0], got[2], Mode::Deterministic)
                                        : avg_reference(x, c, got[0], got[2], Mode::Deterministic);
          CHECK(same_bits(got[0], ref[0]));
          CHECK(same_bits(got[1], ref[1]));
          test_fixtures::for_each_cpu_config([&] {
            std::vector<Tensor> again = run_pool(is_max, x, c, Mode::Deterministic);
            CHECK(same_bits(again[0], ref[0]));
            CHECK(same_bits(again[1], ref[1]));
          });
          std::vector<Tensor> sim = run_pool(is_max, x.to(Device::sim()), c, Mode::Deterministic);
          CHECK(same_bits(sim[0], ref[0]));
          CHECK(same_bits(sim[1], ref[1]));
        }
      }
    }
  }

  TEST_CASE("pools Fast: within rounding of Deterministic; on sim the bits follow the schedule") {
    const Geo c{{2, 4, 12, 12}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false, true};  // 9 writers/pixel
    Generator g(4);
    Tensor x = randn(c.x, g);
    for (bool is_max : {true, false}) {
      CAPTURE(is_max);
      for (Device d : {Device::cpu(), Device::sim()}) {
        std::vector<Tensor> det = run_pool(is_max, x.to(d), c, Mode::Deterministic);
        std::vector<Tensor> fast = run_pool(is_max, x.to(d), c, Mode::Fast);
        CHECK(same_bits(det[0], fast[0]));  // the forward has one order in both modes
        CHECK(test_fixtures::max_abs_diff(det[1], fast[1]) <= 1e-5);
      }
    }
    std::set<std::vector<float>> patterns;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      ditto::sim::ScheduleGuard sg({ditto::sim::Order::kRandom, seed}, 2);
      patterns.insert(run_pool(false, x.to(Device::sim()), c, Mode::Fast)[1].to_vector<float>());
    }
    MESSAGE("avg_pool2d Fast backward on sim: " << patterns.size()
                                                << " distinct results over 10 schedule seeds");
    CHECK(patterns.size() >= 2);
  }

  TEST_CASE("pools on sim: one launch forward, one backward (Deterministic)") {
    const Geo& c = geometries()[0];
    for (bool is_max : {true, false}) {
      Tensor x = tie_input(c.x, DType::f32, Device::sim(), false).requires_grad_();
      Tensor y;
      const std::uint64_t forward = test_fixtures::sim_launches(
          [&] { y = is_max ? max_pool2d(x, c.k, c.s) : avg_pool2d(x, c.k, c.s); });
      Tensor gr = ones(y.shape(), DType::f32, Device::sim());
      // One of them stores the leaf's gradient (test_dropout_kernel measures that: 1).
      const std::uint64_t backward = test_fixtures::sim_launches([&] { y.backward(gr); }) - 1;
      MESSAGE((is_max ? "max_pool2d" : "avg_pool2d")
              << " on sim: " << forward << " launch forward, " << backward << " backward");
      CHECK(forward == 1);
      CHECK(backward == 1);
    }
  }
}
