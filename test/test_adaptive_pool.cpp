// ditto — tests of the adaptive pooling kernels (kernels/pool.h) through adaptive_avg_pool2d /
// adaptive_max_pool2d and the nn modules:
//  - PyTorch's windows and values on a closed-form case (arange: the averages and maxima follow
//    from the window bounds), 3-D input, output 1 (global pooling), output larger than input;
//  - Deterministic forward and backward equal the definition written out plainly (each window's
//    taps reduced in the canonical order — test/fixtures/bits.h — and the gather adding every
//    window's share from +0, oh then ow ascending), bit for bit, on cpu at every x86-64 level and
//    1-3 threads and on sim, for f32/f64, non-divisible (overlapping) windows, strided input,
//    windows of more than one canonical chunk, ties of ±0 and NaN;
//  - Fast backward is within rounding of Deterministic and on sim honestly atomic;
//  - launches on sim: one forward, one backward; clear errors for bad sizes.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "ditto/ditto.h"
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
  Size2 out;
  bool transposed;  // the input is a transposed view (H and W swapped in memory)
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {{2, 3, 7, 9}, {3, 4}, false},    // non-divisible both ways: overlapping windows
      {{1, 2, 5, 5}, {2, 2}, true},     // overlapping, strided input
      {{2, 2, 8, 6}, {4, 3}, false},    // divisible: disjoint windows
      {{1, 2, 3, 4}, {5, 7}, false},    // output larger than input: repeated pixels
      {{1, 3, 6, 7}, {1, 1}, false},    // global pooling
      {{1, 1, 40, 41}, {1, 2}, false},  // two 40x21 windows sharing column 20
      {{1, 1, 50, 45}, {1, 1}, false},  // 2250 taps: three canonical chunks
  };
  return c;
}

i64 start_of(i64 o, i64 in, i64 out) { return (o * in) / out; }
i64 end_of(i64 o, i64 in, i64 out) { return ((o + 1) * in + out - 1) / out; }

// Values from {-0, +0, -1, 1, 2} (ties of every kind) and, for max, some NaN.
Tensor tie_input(const Shape& s, DType t, bool nan) {
  Generator g(13);
  std::vector<double> v =
      randint(0, 6, s, g, DType::i64, Device::cpu()).to(DType::f64).to_vector<double>();
  const double map[] = {-0.0, 0.0, -1.0, 1.0, 2.0, nan ? std::nan("") : 0.5};
  for (double& x : v) x = map[static_cast<int>(x)];
  return from_vector(v, s).to(t);
}

Tensor input_of(const Case& c, DType t, bool nan) {
  if (!c.transposed) return tie_input(c.x, t, nan);
  return tie_input({c.x[0], c.x[1], c.x[3], c.x[2]}, t, nan).transpose(2, 3);
}

// The definition, written out plainly: {out, dx} for upstream gradient gr (both cpu tensors).
template <class T>
std::vector<Tensor> reference(bool is_max, const Tensor& x, Size2 os, const Tensor& gr) {
  const i64 N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OH = os.h, OW = os.w;
  const std::vector<T> xv = x.contiguous().to_vector<T>(), gv = gr.contiguous().to_vector<T>();
  std::vector<T> out(static_cast<std::size_t>(N * C * OH * OW));
  std::vector<i64> arg(out.size());
  std::vector<T> dx(static_cast<std::size_t>(N * C * H * W), T(0));
  for (i64 p = 0; p < N * C; ++p) {
    for (i64 oh = 0; oh < OH; ++oh) {
      for (i64 ow = 0; ow < OW; ++ow) {
        const i64 hs = start_of(oh, H, OH), he = end_of(oh, H, OH);
        const i64 ws = start_of(ow, W, OW), we = end_of(ow, W, OW);
        const auto k = static_cast<std::size_t>((p * OH + oh) * OW + ow);
        std::vector<T> taps;
        for (i64 h = hs; h < he; ++h)
          for (i64 w = ws; w < we; ++w)
            taps.push_back(xv[static_cast<std::size_t>((p * H + h) * W + w)]);
        const T count = static_cast<T>(taps.size());
        if (is_max) {
          Tensor tv = from_vector(taps);
          out[k] = max(tv).template item<T>();
          const i64 t = argmax(tv).template item<i64>();
          arg[k] = (hs + t / (we - ws)) * W + ws + t % (we - ws);
        } else {
          out[k] = test_fixtures::canonical_sum(taps) / count;
        }
        // The gather's order for every pixel is this loop's: oh, then ow ascending, from +0.
        for (i64 h = hs; h < he; ++h) {
          for (i64 w = ws; w < we; ++w) {
            T& d = dx[static_cast<std::size_t>((p * H + h) * W + w)];
            if (is_max)
              d = d + (arg[k] == h * W + w ? gv[k] : T(0));
            else
              d = d + gv[k] / count;
          }
        }
      }
    }
  }
  return {from_vector(out, {N, C, OH, OW}), from_vector(dx, {N, C, H, W})};
}

// The op forward + backward on device d with upstream gradient from a fixed seed: {out, dx, gr}.
std::vector<Tensor> run(bool is_max, const Tensor& x0, Size2 os, Mode m, Device d) {
  Tensor x = x0.to(d).detach().requires_grad_();
  Tensor y = is_max ? adaptive_max_pool2d(x, os, m) : adaptive_avg_pool2d(x, os, m);
  Generator g(3);
  Tensor gr = randn(y.shape(), g, DType::f64, Device::cpu()).to(x.dtype()).to(d);
  y.backward(gr);
  return {y.detach().to(Device::cpu()), x.grad().to(Device::cpu()), gr.to(Device::cpu())};
}

}  // namespace

TEST_SUITE("adaptive_pool_kernel") {
  TEST_CASE("adaptive pools: PyTorch's windows and values (arange 5x7 -> 3x3), 3-D, global") {
    Tensor x = arange(35.0).reshape({1, 1, 5, 7});
    // Rows [0,2) [1,4) [3,5), columns [0,3) [2,5) [4,7): the average of 7r + c is 7 mean(r) +
    // mean(c), the maximum 7 max(r) + max(c).
    CHECK(adaptive_avg_pool2d(x, {3, 3}).to_vector<float>() ==
          std::vector<float>{4.5f, 6.5f, 8.5f, 15, 17, 19, 25.5f, 27.5f, 29.5f});
    Tensor xm = x.detach().requires_grad_();
    Tensor ym = adaptive_max_pool2d(xm, {3, 3});
    CHECK(ym.to_vector<float>() == std::vector<float>{9, 11, 13, 23, 25, 27, 30, 32, 34});
    ym.sum().backward();
    std::vector<float> g = xm.grad().to_vector<float>();
    for (int i : {9, 11, 13, 23, 25, 27, 30, 32, 34}) CHECK(g[static_cast<std::size_t>(i)] == 1.0f);
    CHECK(xm.grad().sum().item<float>() == 9.0f);
    // 3-D input (C, H, W) gives (C, OH, OW); output 1 is the global mean.
    Tensor x3 = arange(24.0).reshape({2, 3, 4});
    CHECK(adaptive_avg_pool2d(x3, 1).shape() == Shape{2, 1, 1});
    CHECK(adaptive_avg_pool2d(x3, 1).to_vector<float>() == std::vector<float>{5.5f, 17.5f});
    CHECK(adaptive_max_pool2d(x3, {2, 1}).to_vector<float>() == std::vector<float>{7, 11, 19, 23});
  }

  TEST_CASE(
      "adaptive pools Deterministic: the definition's bits, cpu (every ISA, 1-3 threads), sim") {
    ThreadsRestore restore;
    for (DType t : {DType::f32, DType::f64}) {
      for (std::size_t k = 0; k < cases().size(); ++k) {
        for (bool is_max : {true, false}) {
          const Case& c = cases()[k];
          CAPTURE(dtype_name(t));
          CAPTURE(k);
          CAPTURE(is_max);
          const Tensor x = input_of(c, t, is_max);
          std::vector<Tensor> got = run(is_max, x, c.out, Mode::Deterministic, Device::cpu());
          std::vector<Tensor> ref = t == DType::f32 ? reference<float>(is_max, x, c.out, got[2])
                                                    : reference<double>(is_max, x, c.out, got[2]);
          CHECK(same_bits(got[0], ref[0]));
          CHECK(same_bits(got[1], ref[1]));
          test_fixtures::for_each_cpu_config([&] {
            std::vector<Tensor> again = run(is_max, x, c.out, Mode::Deterministic, Device::cpu());
            CHECK(same_bits(again[0], ref[0]));
            CHECK(same_bits(again[1], ref[1]));
          });
          std::vector<Tensor> sim = run(is_max, x, c.out, Mode::Deterministic, Device::sim());
          CHECK(same_bits(sim[0], ref[0]));
          CHECK(same_bits(sim[1], ref[1]));
        }
      }
    }
  }

  TEST_CASE(
      "adaptive pools Fast: within rounding of Deterministic; on sim the bits follow the "
      "schedule") {
    Generator g(4);
    const Tensor x = randn({2, 4, 12, 12}, g);  // -> 5x5: windows overlap by one row and column
    const Size2 os{5, 5};
    for (bool is_max : {true, false}) {
      CAPTURE(is_max);
      for (Device d : {Device::cpu(), Device::sim()}) {
        std::vector<Tensor> det = run(is_max, x, os, Mode::Deterministic, d);
        std::vector<Tensor> fast = run(is_max, x, os, Mode::Fast, d);
        CHECK(same_bits(det[0], fast[0]));  // the forward has one order in both modes
        CHECK(test_fixtures::max_abs_diff(det[1], fast[1]) <= 1e-6);
      }
    }
    // 2x2 -> 7x7 maps every pixel into 16 windows: heavy contention on each atomic.
    const Tensor small = randn({2, 3, 2, 2}, g);
    std::set<std::vector<float>> patterns;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      ditto::sim::ScheduleGuard sg({ditto::sim::Order::kRandom, seed}, 2);
      patterns.insert(run(false, small, {7, 7}, Mode::Fast, Device::sim())[1].to_vector<float>());
    }
    MESSAGE("adaptive_avg_pool2d Fast backward on sim: "
            << patterns.size() << " distinct results over 10 schedule seeds");
    CHECK(patterns.size() >= 2);
  }

  TEST_CASE("adaptive pools on sim: one launch forward, one backward (Deterministic)") {
    for (bool is_max : {true, false}) {
      Tensor x = input_of(cases()[0], DType::f32, false).to(Device::sim()).requires_grad_();
      Tensor y;
      const std::uint64_t forward = test_fixtures::sim_launches([&] {
        y = is_max ? adaptive_max_pool2d(x, {3, 4}) : adaptive_avg_pool2d(x, {3, 4});
      });
      Tensor gr = ones(y.shape(), DType::f32, Device::sim());
      // One of them stores the leaf's gradient (test_dropout_kernel measures that: 1).
      const std::uint64_t backward = test_fixtures::sim_launches([&] { y.backward(gr); }) - 1;
      MESSAGE((is_max ? "adaptive_max_pool2d" : "adaptive_avg_pool2d")
              << " on sim: " << forward << " launch forward, " << backward << " backward");
      CHECK(forward == 1);
      CHECK(backward == 1);
    }
  }

  TEST_CASE("adaptive pools: clear errors for bad sizes") {
    const Tensor x = zeros({1, 2, 5, 5});
    CHECK_ERROR(adaptive_avg_pool2d(x, {0, 2}), "adaptive_avg_pool2d", "output_size", "[1,2,5,5]");
    CHECK_ERROR(adaptive_max_pool2d(zeros({5, 5}), 2), "adaptive_max_pool2d");
    CHECK_ERROR(adaptive_avg_pool2d(zeros({1, 1, 300, 300}), 1), "adaptive_avg_pool2d", "300x300",
                "65536");
    CHECK_ERROR(nn::AdaptiveMaxPool2d({.output_size = {2, -1}}), "AdaptiveMaxPool2d",
                "output_size");
  }
}

TEST_SUITE("nn") {
  TEST_CASE(
      "nn: AdaptiveAvgPool2d / AdaptiveMaxPool2d: PyTorch's repr, no state, state_dict loads") {
    nn::AdaptiveAvgPool2d avg({.output_size = {3, 4}});
    nn::AdaptiveMaxPool2d mx({});
    CHECK(avg.extra_repr() == "output_size=(3, 4)");
    CHECK(mx.extra_repr() == "output_size=1");
    CHECK(avg.state_dict().empty());
    Generator g(2);
    const Tensor x = randn({2, 3, 7, 9}, g);
    CHECK(same_bits(avg(x), adaptive_avg_pool2d(x, {3, 4})));
    CHECK(same_bits(mx(x), adaptive_max_pool2d(x, 1)));
    // torchvision's head: conv, ReLU, AdaptiveAvgPool2d((1, 1)), Flatten, Linear. The state_dict
    // has PyTorch's keys (the pool adds none), and one built under those keys loads.
    auto make = [](Generator& gen) {
      return nn::Sequential(
          nn::Conv2d({.in_channels = 3, .out_channels = 4, .kernel_size = 3}, gen), nn::ReLU(),
          nn::AdaptiveAvgPool2d({.output_size = 1}), nn::Flatten(),
          nn::Linear({.in_features = 4, .out_features = 2}, gen));
    };
    Generator g1(7), g2(8);
    nn::Sequential a = make(g1), b = make(g2);
    std::vector<std::string> keys;
    for (auto& [k, t] : a.named_parameters()) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"0.weight", "0.bias", "4.weight", "4.bias"});
    CHECK(a.state_dict().size() == 4);
    b.load_state_dict(a.state_dict());
    CHECK(same_bits(a.forward(x), b.forward(x)));
  }
}
