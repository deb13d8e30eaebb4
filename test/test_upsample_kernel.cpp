// ditto — tests of the upsample kernels (kernels/upsample.h) through interpolate and nn::Upsample:
//  - PyTorch's values on small closed-form cases (nearest 2x and 2 -> 3; bilinear 2x with and
//    without align_corners) and the gradient of a sum;
//  - Deterministic forward and backward equal the definition written out plainly here (PyTorch's
//    source-index formulas; the backward adding every output's taps in output order from +0), bit
//    for bit, on cpu at every x86-64 level and 1-3 threads and on sim, for f32/f64, up and down,
//    sizes and scale factors, align_corners, the identity and 2x special cases, strided input;
//  - Fast backward is within rounding of Deterministic and on sim honestly atomic;
//  - launches on sim: one forward, one backward; clear errors for bad arguments.
#include <doctest/doctest.h>

#include <cmath>
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
const InterpolateMode kNearest = InterpolateMode::nearest, kBilinear = InterpolateMode::bilinear;

struct Case {
  Shape x;  // (N, C, H, W)
  InterpolateOptions o;
  bool transposed;  // the input is a transposed view
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {{2, 3, 5, 4}, {.scale_factor = 2.0}, false},               // the 2x rule
      {{1, 2, 5, 4}, {.size = {7, 9}}, false},                    // float scale 5/7, 4/9
      {{1, 2, 7, 9}, {.size = {3, 4}}, true},                     // down, strided
      {{1, 2, 5, 4}, {.scale_factor = Scale2{1.5, 0.6}}, false},  // 1 / scale maps
      {{2, 2, 5, 4}, {.scale_factor = 2.0, .mode = kBilinear}, false},
      {{1, 2, 5, 4}, {.size = {7, 5}, .mode = kBilinear, .align_corners = true}, false},
      {{1, 2, 5, 4}, {.size = {3, 2}, .mode = kBilinear}, false},  // down: taps skip pixels
      {{1, 2, 5, 4}, {.size = {1, 1}, .mode = kBilinear, .align_corners = true}, false},
      {{1, 2, 5, 4}, {.size = {5, 4}, .mode = kBilinear}, false},  // the identity rule
      {{1, 3, 6, 5}, {.scale_factor = 3.7, .mode = kBilinear}, true},
      {{1, 2, 6, 5}, {.scale_factor = Scale2{0.5, 2.5}, .mode = kBilinear}, false},
  };
  return c;
}

// PyTorch's nearest_idx (UpSample.h), written out.
i64 ref_nearest(i64 o, i64 in, i64 out, double sf) {
  if (out == in) return o;
  if (out == 2 * in) return o >> 1;
  const float scale = sf > 0 ? static_cast<float>(1.0 / sf) : float(in) / float(out);
  return std::min(static_cast<i64>(std::floor(float(o) * scale)), in - 1);
}

// PyTorch's area_pixel_compute_source_index + guard_index_and_lambda, written out.
template <class T>
void ref_linear(i64 o, i64 in, i64 out, bool align, double sf, i64& i0, i64& i1, T& l0, T& l1) {
  if (out == in) {
    i0 = i1 = o;
    l0 = T(1);
    l1 = T(0);
    return;
  }
  T src;
  if (align) {
    src = (out > 1 ? T(in - 1) / T(out - 1) : T(0)) * T(o);
  } else {
    const T scale = sf > 0 ? static_cast<T>(1.0 / sf) : T(in) / T(out);
    src = std::max(scale * (T(o) + T(0.5)) - T(0.5), T(0));
  }
  i0 = std::min(static_cast<i64>(std::floor(src)), in - 1);
  l1 = std::min(std::max(src - T(i0), T(0)), T(1));
  l0 = T(1) - l1;
  i1 = i0 + (i0 < in - 1 ? 1 : 0);
}

// The definition: {out, dx} for upstream gradient gr (cpu tensors).
template <class T>
std::vector<Tensor> reference(const Tensor& x, const InterpolateOptions& o, const Tensor& gr) {
  const i64 N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const i64 OH = gr.size(2), OW = gr.size(3);
  const double sh = o.scale_factor ? o.scale_factor->h : 0,
               sw = o.scale_factor ? o.scale_factor->w : 0;
  const bool bl = o.mode == kBilinear, align = o.align_corners.value_or(false);
  const std::vector<T> xv = x.contiguous().to_vector<T>(), gv = gr.contiguous().to_vector<T>();
  std::vector<T> out(static_cast<std::size_t>(N * C * OH * OW));
  std::vector<T> dx(static_cast<std::size_t>(N * C * H * W), T(0));
  for (i64 p = 0; p < N * C; ++p) {
    auto X = [&](i64 h, i64 w) { return xv[static_cast<std::size_t>((p * H + h) * W + w)]; };
    auto D = [&](i64 h, i64 w) -> T& { return dx[static_cast<std::size_t>((p * H + h) * W + w)]; };
    for (i64 oh = 0; oh < OH; ++oh) {
      for (i64 ow = 0; ow < OW; ++ow) {
        const auto k = static_cast<std::size_t>((p * OH + oh) * OW + ow);
        if (!bl) {
          const i64 h = ref_nearest(oh, H, OH, sh), w = ref_nearest(ow, W, OW, sw);
          out[k] = X(h, w);
          D(h, w) = D(h, w) + gv[k];
          continue;
        }
        i64 h0, h1, w0, w1;
        T a0, a1, b0, b1;
        ref_linear<T>(oh, H, OH, align, sh, h0, h1, a0, a1);
        ref_linear<T>(ow, W, OW, align, sw, w0, w1, b0, b1);
        out[k] = a0 * (b0 * X(h0, w0) + b1 * X(h0, w1)) + a1 * (b0 * X(h1, w0) + b1 * X(h1, w1));
        D(h0, w0) = D(h0, w0) + (a0 * b0) * gv[k];
        D(h0, w1) = D(h0, w1) + (a0 * b1) * gv[k];
        D(h1, w0) = D(h1, w0) + (a1 * b0) * gv[k];
        D(h1, w1) = D(h1, w1) + (a1 * b1) * gv[k];
      }
    }
  }
  return {from_vector(out, {N, C, OH, OW}), from_vector(dx, {N, C, H, W})};
}

Tensor input_of(const Case& c, DType t) {
  Generator g(17);
  if (!c.transposed) return randn(c.x, g, DType::f64).to(t);
  return randn({c.x[0], c.x[1], c.x[3], c.x[2]}, g, DType::f64).to(t).transpose(2, 3);
}

// interpolate forward + backward on device d with upstream gradient from a fixed seed:
// {out, dx, gr} on the cpu.
std::vector<Tensor> run(const Tensor& x0, const InterpolateOptions& o, Mode m, Device d) {
  Tensor x = x0.to(d).detach().requires_grad_();
  Tensor y = interpolate(x, o, m);
  Generator g(3);
  Tensor gr = randn(y.shape(), g, DType::f64, Device::cpu()).to(x.dtype()).to(d);
  y.backward(gr);
  return {y.detach().to(Device::cpu()), x.grad().to(Device::cpu()), gr.to(Device::cpu())};
}

std::vector<float> values(const Tensor& t) { return t.to(DType::f32).to_vector<float>(); }

}  // namespace

TEST_SUITE("upsample_kernel") {
  TEST_CASE("interpolate: PyTorch's values on closed-form cases, and the gradient of a sum") {
    const Tensor x = arange(4.0).reshape({1, 1, 2, 2});  // [[0, 1], [2, 3]]
    CHECK(values(interpolate(x, {.scale_factor = 2.0})) ==
          std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3});
    CHECK(values(interpolate(x, {.size = 3})) == std::vector<float>{0, 0, 1, 0, 0, 1, 2, 2, 3});
    // torch.nn.functional.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
    CHECK(values(interpolate(x, {.scale_factor = 2.0, .mode = kBilinear})) ==
          std::vector<float>{0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f,
                             2, 2.25f, 2.75f, 3});
    CHECK(values(interpolate(x, {.size = 3, .mode = kBilinear, .align_corners = true})) ==
          std::vector<float>{0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
    // Each output's weights sum to 1: by symmetry every pixel of the 2x2 gets 16 / 4.
    Tensor xr = x.detach().requires_grad_();
    interpolate(xr, {.scale_factor = 2.0, .mode = kBilinear}).sum().backward();
    CHECK(values(xr.grad()) == std::vector<float>{4, 4, 4, 4});
    Tensor xn = x.detach().requires_grad_();
    interpolate(xn, {.size = 3}).sum().backward();
    CHECK(values(xn.grad()) == std::vector<float>{4, 2, 2, 1});
  }

  TEST_CASE("interpolate Deterministic: the definition's bits, cpu (every ISA, 1-3 threads), sim") {
    ThreadsRestore restore;
    for (DType t : {DType::f32, DType::f64}) {
      for (std::size_t k = 0; k < cases().size(); ++k) {
        const Case& c = cases()[k];
        CAPTURE(dtype_name(t));
        CAPTURE(k);
        const Tensor x = input_of(c, t);
        std::vector<Tensor> got = run(x, c.o, Mode::Deterministic, Device::cpu());
        std::vector<Tensor> ref =
            t == DType::f32 ? reference<float>(x, c.o, got[2]) : reference<double>(x, c.o, got[2]);
        CHECK(same_bits(got[0], ref[0]));
        CHECK(same_bits(got[1], ref[1]));
        test_fixtures::for_each_cpu_config([&] {
          std::vector<Tensor> again = run(x, c.o, Mode::Deterministic, Device::cpu());
          CHECK(same_bits(again[0], ref[0]));
          CHECK(same_bits(again[1], ref[1]));
        });
        std::vector<Tensor> sim = run(x, c.o, Mode::Deterministic, Device::sim());
        CHECK(same_bits(sim[0], ref[0]));
        CHECK(same_bits(sim[1], ref[1]));
      }
    }
  }

  TEST_CASE(
      "interpolate Fast: within rounding of Deterministic; on sim the bits follow the "
      "schedule") {
    Generator g(4);
    const Tensor x = randn({2, 3, 5, 6}, g);
    for (const Case& c : cases()) {
      for (Device d : {Device::cpu(), Device::sim()}) {
        std::vector<Tensor> det = run(x, c.o, Mode::Deterministic, d);
        std::vector<Tensor> fast = run(x, c.o, Mode::Fast, d);
        CHECK(same_bits(det[0], fast[0]));  // the forward has one order in both modes
        CHECK(test_fixtures::max_abs_diff(det[1], fast[1]) <= 1e-5);
      }
    }
    // x8 bilinear: every pixel takes shares from about 100 outputs, each an atomicAdd.
    const Tensor small = randn({1, 2, 3, 3}, g);
    std::set<std::vector<float>> patterns;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      ditto::sim::ScheduleGuard sg({ditto::sim::Order::kRandom, seed}, 2);
      patterns.insert(
          run(small, {.scale_factor = 8.0, .mode = kBilinear}, Mode::Fast, Device::sim())[1]
              .to_vector<float>());
    }
    MESSAGE("interpolate bilinear Fast backward on sim: "
            << patterns.size() << " distinct results over 10 schedule seeds");
    CHECK(patterns.size() >= 2);
  }

  TEST_CASE("interpolate on sim: one launch forward, one backward (Deterministic)") {
    for (InterpolateMode m : {kNearest, kBilinear}) {
      Tensor x = input_of(cases()[0], DType::f32).to(Device::sim()).requires_grad_();
      Tensor y;
      const std::uint64_t forward = test_fixtures::sim_launches(
          [&] { y = interpolate(x, {.scale_factor = 2.0, .mode = m}); });
      Tensor gr = ones(y.shape(), DType::f32, Device::sim());
      // One of them stores the leaf's gradient (test_dropout_kernel measures that: 1).
      const std::uint64_t backward = test_fixtures::sim_launches([&] { y.backward(gr); }) - 1;
      MESSAGE("interpolate " << std::string(m == kNearest ? "nearest" : "bilinear") << " on sim: "
                             << forward << " launch forward, " << backward << " backward");
      CHECK(forward == 1);
      CHECK(backward == 1);
    }
  }

  TEST_CASE("interpolate: clear errors for bad arguments") {
    const Tensor x = zeros({1, 2, 5, 5});
    CHECK_ERROR(interpolate(zeros({2, 5, 5}), {.scale_factor = 2.0}), "interpolate", "4-D",
                "[2,5,5]");
    CHECK_ERROR(interpolate(x, {.size = 3, .scale_factor = 2.0}), "interpolate", "only one");
    CHECK_ERROR(interpolate(x, {}), "interpolate", "size or scale_factor");
    CHECK_ERROR(interpolate(x, {.size = 3, .align_corners = false}), "interpolate",
                "align_corners");
    CHECK_ERROR(interpolate(x, {.scale_factor = 0.0}), "interpolate", "scale_factor", "> 0");
    CHECK_ERROR(interpolate(x, {.scale_factor = 0.1}), "interpolate", "height", ">= 1");
    CHECK_ERROR(interpolate(x, {.size = {3, 0}}), "interpolate", "width");
    CHECK_ERROR(interpolate(x, {.scale_factor = 1e300}), "interpolate", "scale_factor");
    CHECK_ERROR(interpolate(zeros({1, 1, 2, 2}, DType::i64), {.size = 3}), "interpolate", "f32");
    CHECK_ERROR(nn::Upsample({}), "Upsample", "size and scale_factor");
    CHECK_ERROR(nn::Upsample({.size = 2, .align_corners = true}), "Upsample", "align_corners");
  }
}

TEST_SUITE("nn") {
  TEST_CASE("nn: Upsample: PyTorch's repr, no state, interpolate's bits") {
    CHECK(nn::Upsample({.scale_factor = 2.0}).extra_repr() == "scale_factor=2.0, mode='nearest'");
    CHECK(nn::Upsample({.scale_factor = Scale2{1.5, 2.0}, .mode = kBilinear}).extra_repr() ==
          "scale_factor=(1.5, 2.0), mode='bilinear'");
    CHECK(nn::Upsample({.size = {4, 6}, .mode = kBilinear}).extra_repr() ==
          "size=(4, 6), mode='bilinear'");
    nn::Upsample up({.scale_factor = 2.0, .mode = kBilinear, .align_corners = true});
    CHECK(up.state_dict().empty());
    Generator g(2);
    const Tensor x = randn({2, 3, 4, 5}, g);
    CHECK(same_bits(up(x), interpolate(x, up.options())));
    CHECK(up(x).shape() == Shape{2, 3, 8, 10});
  }
}
