// conv2d, max_pool2d, avg_pool2d through the public API (core/ops/conv.cpp, core/ops/pool.cpp).
//
// Suite "conv_ops" (also run with sim as the default device: `ctest -R sim/conv_ops`, so every
// tensor is created on the default device and sizes stay small):
//  - values against plain loops: float64 within tolerance, and bit for bit against loops that
//    follow the documented canonical orders (conv: fma chain over (cg, kh, kw) then + bias;
//    conv backward: dx = fma chain over the group's output channels then the col2im gather,
//    dW = per-sample fma chains over (oh, ow) then the canonical sum over n, db = canonical sum;
//    avg_pool: canonical sum over the taps then / divisor; max_pool: exact);
//  - gradcheck in f64; Fast vs Deterministic within tolerance; cpu thread counts 1, 2, 3 and
//    batch sizes 1, 7, 64 bitwise; bad input messages.
// cpu vs sim bitwise: the "window" entries of the op-case list (test/test_op_cases.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/rng.h"
#include "ditto/ditto.h"
#include "kernels/launch_config.h"
#include "kernels/sim/runtime.h"
#include "test/gradcheck.h"

using namespace ditto;
using i64 = std::int64_t;
using V = std::vector<Tensor>;

namespace {

using ditto::test_fixtures::canonical_sum;  // test/fixtures/bits.h
using ditto::test_fixtures::same_bits;

// splitmix64 → double in [0, 1): test inputs independent of ditto's own RNG.
using ditto::test_fixtures::Rng;  // test/fixtures/rng.h

using ditto::test_fixtures::numel_of;

// Values in [-1, 1) with magnitude >= 1/16 (no zeros, so no zero-sign questions), exactly
// representable in f32 so the f32 and f64 runs see the same inputs.
std::vector<double> values(i64 n, std::uint64_t seed) {
  Rng r(seed);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) {
    double m = static_cast<float>(0.0625 + 0.9375 * r.next());
    x = r.next() < 0.5 ? -m : m;
  }
  return v;
}

// Distinct values (a shuffled grid, spacing 0.1, plus jitter): no ties for max_pool2d.
std::vector<double> distinct(i64 n, std::uint64_t seed) {
  Rng r(seed);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; ++i) v[i] = 0.1 * static_cast<double>(i) - 0.05 * static_cast<double>(n);
  for (i64 i = n - 1; i > 0; --i) std::swap(v[i], v[static_cast<i64>(r.next() * (i + 1))]);
  for (auto& x : v) x = static_cast<float>(x + 0.01 * r.next());
  return v;
}

template <class T>
Tensor make(const std::vector<double>& v, const Shape& s) {
  return from_vector(std::vector<T>(v.begin(), v.end()), s);
}




// ---- conv2d reference ------------------------------------------------------------------------
struct ConvCfg {
  i64 N, C, H, W, O, kH, kW;
  i64 sH = 1, sW = 1, pH = 0, pW = 0, dH = 1, dW = 1, G = 1;
  bool bias = true;
  i64 OH() const { return (H + 2 * pH - dH * (kH - 1) - 1) / sH + 1; }
  i64 OW() const { return (W + 2 * pW - dW * (kW - 1) - 1) / sW + 1; }
  Shape x_shape() const { return {N, C, H, W}; }
  Shape w_shape() const { return {O, C / G, kH, kW}; }
  Shape y_shape() const { return {N, O, OH(), OW()}; }
  Tensor run(const Tensor& x, const Tensor& w, const Tensor& b,
             std::optional<Mode> mode = std::nullopt) const {
    return conv2d(x, w, bias ? b : Tensor(), {sH, sW}, {pH, pW}, {dH, dW}, G, mode);
  }
};

// x[n, c, h, w] or +0 in the padding.
template <class T>
T x_at(const ConvCfg& c, const std::vector<T>& x, i64 n, i64 ch, i64 h, i64 w) {
  if (h < 0 || h >= c.H || w < 0 || w >= c.W) return T(0);
  return x[((n * c.C + ch) * c.H + h) * c.W + w];
}

// The canonical forward: per output, acc = fma(w, x, acc) over (cg, kh, kw), then + bias.
template <class T>
std::vector<T> conv_ref(const ConvCfg& c, const std::vector<T>& x, const std::vector<T>& w,
                        const std::vector<T>& b) {
  const i64 OH = c.OH(), OW = c.OW(), Cg = c.C / c.G, Og = c.O / c.G;
  std::vector<T> y(static_cast<std::size_t>(c.N * c.O * OH * OW));
  for (i64 n = 0; n < c.N; ++n)
    for (i64 o = 0; o < c.O; ++o)
      for (i64 oh = 0; oh < OH; ++oh)
        for (i64 ow = 0; ow < OW; ++ow) {
          T acc = 0;
          for (i64 cg = 0; cg < Cg; ++cg)
            for (i64 kh = 0; kh < c.kH; ++kh)
              for (i64 kw = 0; kw < c.kW; ++kw)
                acc = std::fma(w[((o * Cg + cg) * c.kH + kh) * c.kW + kw],
                               x_at(c, x, n, (o / Og) * Cg + cg, oh * c.sH - c.pH + kh * c.dH,
                                    ow * c.sW - c.pW + kw * c.dW),
                               acc);
          if (c.bias) acc = acc + b[o];
          y[((n * c.O + o) * OH + oh) * OW + ow] = acc;
        }
  return y;
}

// The canonical backward for upstream gradient dy: {dx, dW, db}.
template <class T>
std::vector<std::vector<T>> conv_backward_ref(const ConvCfg& c, const std::vector<T>& x,
                                              const std::vector<T>& w, const std::vector<T>& dy) {
  const i64 OH = c.OH(), OW = c.OW(), Cg = c.C / c.G, Og = c.O / c.G;
  auto DY = [&](i64 n, i64 o, i64 oh, i64 ow) { return dy[((n * c.O + o) * OH + oh) * OW + ow]; };
  std::vector<T> dx(static_cast<std::size_t>(c.N * c.C * c.H * c.W));
  for (i64 n = 0; n < c.N; ++n)
    for (i64 ch = 0; ch < c.C; ++ch)
      for (i64 h = 0; h < c.H; ++h)
        for (i64 wi = 0; wi < c.W; ++wi) {
          const i64 g = ch / Cg, cg = ch % Cg;
          T acc = 0;
          for (i64 kh = 0; kh < c.kH; ++kh)
            for (i64 kw = 0; kw < c.kW; ++kw) {
              const i64 th = h + c.pH - kh * c.dH, tw = wi + c.pW - kw * c.dW;
              if (th < 0 || tw < 0 || th % c.sH || tw % c.sW) continue;
              const i64 oh = th / c.sH, ow = tw / c.sW;
              if (oh >= OH || ow >= OW) continue;
              T dcol = 0;  // fma chain over the group's output channels
              for (i64 og = 0; og < Og; ++og) {
                const i64 o = g * Og + og;
                dcol = std::fma(w[((o * Cg + cg) * c.kH + kh) * c.kW + kw], DY(n, o, oh, ow), dcol);
              }
              acc = acc + dcol;
            }
          dx[((n * c.C + ch) * c.H + h) * c.W + wi] = acc;
        }
  std::vector<T> dw(static_cast<std::size_t>(c.O * Cg * c.kH * c.kW));
  for (i64 o = 0; o < c.O; ++o)
    for (i64 cg = 0; cg < Cg; ++cg)
      for (i64 kh = 0; kh < c.kH; ++kh)
        for (i64 kw = 0; kw < c.kW; ++kw) {
          std::vector<T> per_sample;
          for (i64 n = 0; n < c.N; ++n) {
            T acc = 0;
            for (i64 oh = 0; oh < OH; ++oh)
              for (i64 ow = 0; ow < OW; ++ow)
                acc = std::fma(DY(n, o, oh, ow),
                               x_at(c, x, n, (o / Og) * Cg + cg, oh * c.sH - c.pH + kh * c.dH,
                                    ow * c.sW - c.pW + kw * c.dW),
                               acc);
            per_sample.push_back(acc);
          }
          dw[((o * Cg + cg) * c.kH + kh) * c.kW + kw] = canonical_sum(per_sample);
        }
  std::vector<T> db(static_cast<std::size_t>(c.O));
  for (i64 o = 0; o < c.O; ++o) {
    std::vector<T> all;
    for (i64 n = 0; n < c.N; ++n)
      for (i64 p = 0; p < OH * OW; ++p) all.push_back(DY(n, o, p / OW, p % OW));
    db[o] = canonical_sum(all);
  }
  return {dx, dw, db};
}

std::vector<ConvCfg> conv_configs() {
  std::vector<ConvCfg> v;
  v.push_back({2, 3, 7, 5, 4, 3, 2});                              // plain, non-square
  v.push_back({2, 3, 7, 6, 4, 3, 3, 2, 1, 1, 2});                  // stride, padding
  v.push_back({1, 2, 8, 7, 3, 3, 2, 1, 2, 0, 1, 2, 3});            // dilation
  v.push_back({2, 4, 6, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2});         // groups 2
  v.push_back({2, 4, 5, 6, 8, 3, 3, 2, 2, 1, 1, 1, 1, 4, false});  // depthwise x2, no bias
  v.push_back({3, 2, 4, 4, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, false});  // 1x1
  v.push_back({1, 3, 5, 9, 2, 2, 4, 3, 2, 1, 2, 2, 1});            // everything
  return v;
}

// ---- pool references --------------------------------------------------------------------------
struct PoolCfg {
  i64 N, C, H, W, kH, kW, sH, sW, pH = 0, pW = 0, dH = 1, dW = 1;
  bool ceil = false, include_pad = true;
  static i64 out(i64 in, i64 k, i64 s, i64 p, i64 d, bool ceil) {
    const i64 num = in + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
    i64 o = num / s + 1;  // num >= 0 in every config here
    if (ceil && (o - 1) * s >= in + p) --o;
    return o;
  }
  i64 OH() const { return out(H, kH, sH, pH, dH, ceil); }
  i64 OW() const { return out(W, kW, sW, pW, dW, ceil); }
  Shape x_shape() const { return {N, C, H, W}; }
  Shape y_shape() const { return {N, C, OH(), OW()}; }
  Tensor max(const Tensor& x, std::optional<Mode> m = std::nullopt) const {
    return max_pool2d(x, {kH, kW}, Size2{sH, sW}, {pH, pW}, {dH, dW}, ceil, m);
  }
  Tensor avg(const Tensor& x, std::optional<Mode> m = std::nullopt) const {
    return avg_pool2d(x, {kH, kW}, Size2{sH, sW}, {pH, pW}, ceil, include_pad, m);
  }
};

// kind 0: max (exact); 1: avg with the canonical sum over the taps (pad taps read +0), then
// / divisor; 2: avg with a plain double sum (the float64 reference).
template <class T>
std::vector<T> pool_ref(const PoolCfg& c, const std::vector<T>& x, int kind) {
  const i64 OH = c.OH(), OW = c.OW();
  std::vector<T> y;
  for (i64 n = 0; n < c.N; ++n)
    for (i64 ch = 0; ch < c.C; ++ch)
      for (i64 oh = 0; oh < OH; ++oh)
        for (i64 ow = 0; ow < OW; ++ow) {
          std::vector<T> taps;
          T mx = -std::numeric_limits<T>::infinity();
          i64 inside = 0;
          for (i64 kh = 0; kh < c.kH; ++kh)
            for (i64 kw = 0; kw < c.kW; ++kw) {
              const i64 h = oh * c.sH - c.pH + kh * c.dH, w = ow * c.sW - c.pW + kw * c.dW;
              const bool in = h >= 0 && h < c.H && w >= 0 && w < c.W;
              const T v = in ? x[((n * c.C + ch) * c.H + h) * c.W + w] : T(0);
              inside += in;
              taps.push_back(v);
              if (in && v > mx) mx = v;
            }
          if (kind == 0) {
            y.push_back(mx);
            continue;
          }
          // PyTorch's divisor: the window clipped to the padded input, with or without padding.
          const i64 h0 = oh * c.sH - c.pH, w0 = ow * c.sW - c.pW;
          const i64 pool =
              (std::min(h0 + c.kH, c.H + c.pH) - h0) * (std::min(w0 + c.kW, c.W + c.pW) - w0);
          const T div = static_cast<T>(c.include_pad ? pool : inside);
          T s = 0;
          if (kind == 1) {
            s = canonical_sum(taps);
          } else {
            for (T v : taps) s += v;
          }
          y.push_back(s / div);
        }
  return y;
}

std::vector<PoolCfg> pool_configs() {
  std::vector<PoolCfg> v;
  v.push_back({2, 3, 6, 5, 2, 2, 2, 2});                            // basic
  v.push_back({2, 2, 7, 6, 3, 3, 2, 2, 1, 1});                      // padding
  v.push_back({1, 3, 7, 7, 3, 2, 1, 2, 1, 0});                      // stride != kernel
  v.push_back({2, 2, 7, 8, 3, 3, 2, 3, 1, 1, 1, 1, true});          // ceil_mode
  v.push_back({2, 2, 6, 5, 3, 3, 2, 2, 1, 1, 1, 1, true});          // ceil, clipped window
  v.push_back({1, 2, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, true, false});   // ceil, exclude pad
  v.push_back({2, 2, 5, 7, 2, 3, 2, 2, 1, 1, 1, 1, false, false});  // exclude pad
  return v;
}

// Max pool configs add dilation.
std::vector<PoolCfg> max_pool_configs() {
  std::vector<PoolCfg> v = pool_configs();
  v.push_back({1, 2, 9, 8, 3, 2, 2, 1, 1, 1, 2, 3});        // dilation
  v.push_back({2, 1, 8, 9, 2, 3, 3, 2, 1, 1, 3, 2, true});  // dilation + ceil_mode
  return v;
}

template <class T>
double max_rel_err(const std::vector<T>& got, const std::vector<double>& want) {
  double e = got.size() == want.size() ? 0.0 : 1e300;
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i)
    e = std::max(e, std::fabs(static_cast<double>(got[i]) - want[i]) / (1.0 + std::fabs(want[i])));
  return e;
}

template <class T, class S>
std::vector<T> cast(const std::vector<S>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Restores the thread count on scope exit.
struct ThreadCountRestore {
  int prev = get_num_threads();
  ~ThreadCountRestore() { set_num_threads(prev); }
};

}  // namespace

TEST_SUITE("conv_ops") {
  TEST_CASE("conv2d values: float64 loops, and the canonical fma order bit for bit") {
    for (const ConvCfg& c : conv_configs()) {
      CAPTURE(shape_str(c.x_shape()));
      CAPTURE(shape_str(c.w_shape()));
      const auto xv = values(numel_of(c.x_shape()), 1), wv = values(numel_of(c.w_shape()), 2),
                 bv = values(c.O, 3);
      const auto ref = conv_ref<double>(c, xv, wv, bv);
      Tensor y32 =
          c.run(make<float>(xv, c.x_shape()), make<float>(wv, c.w_shape()), make<float>(bv, {c.O}));
      Tensor y64 = c.run(make<double>(xv, c.x_shape()), make<double>(wv, c.w_shape()),
                         make<double>(bv, {c.O}));
      CHECK(y32.shape() == c.y_shape());
      CHECK(y32.dtype() == DType::f32);
      CHECK(y32.is_contiguous());
      CHECK(max_rel_err(y32.to_vector<float>(), ref) <= 2e-6);
      CHECK(same_bits(y32.to_vector<float>(),
                      conv_ref<float>(c, cast<float>(xv), cast<float>(wv), cast<float>(bv))));
      CHECK(same_bits(y64.to_vector<double>(), ref));
    }
  }

  TEST_CASE_TEMPLATE("conv2d backward: dx, dW, db follow the canonical orders bit for bit", T,
                     float, double) {
    for (const ConvCfg& c : conv_configs()) {
      CAPTURE(shape_str(c.x_shape()));
      CAPTURE(shape_str(c.w_shape()));
      const auto xv = cast<T>(values(numel_of(c.x_shape()), 4));
      const auto wv = cast<T>(values(numel_of(c.w_shape()), 5));
      const auto dyv = cast<T>(values(numel_of(c.y_shape()), 6));
      Tensor x = from_vector(xv, c.x_shape()).requires_grad_();
      Tensor w = from_vector(wv, c.w_shape()).requires_grad_();
      Tensor b = from_vector(cast<T>(values(c.O, 7)), {c.O}).requires_grad_();
      Tensor y = c.run(x, w, b);
      REQUIRE(y.impl().grad_fn != nullptr);
      CHECK(y.impl().grad_fn->name == "conv2d");  // one node for the whole op
      CHECK(y.impl().grad_fn->inputs.size() == (c.bias ? 3u : 2u));
      y.backward(from_vector(dyv, c.y_shape()));
      const auto ref = conv_backward_ref<T>(c, xv, wv, dyv);
      CHECK(same_bits(x.grad().to_vector<T>(), ref[0]));
      CHECK(same_bits(w.grad().to_vector<T>(), ref[1]));
      if (c.bias) {
        CHECK(same_bits(b.grad().to_vector<T>(), ref[2]));
      } else {
        CHECK(!b.grad().defined());
      }
    }
  }

  TEST_CASE("conv2d: unbatched input, and gradients only where asked") {
    const ConvCfg c{1, 3, 7, 5, 4, 3, 2, 1, 2, 1, 0};
    Tensor x3 = make<float>(values(3 * 7 * 5, 8), {3, 7, 5}).requires_grad_();
    Tensor w = make<float>(values(numel_of(c.w_shape()), 9), c.w_shape());
    Tensor b = make<float>(values(4, 10), {4});
    Tensor y = conv2d(x3, w, b, {1, 2}, {1, 0});
    CHECK(y.shape() == Shape{4, c.OH(), c.OW()});
    Tensor x4 = x3.detach().unsqueeze(0).requires_grad_();
    Tensor y4 = conv2d(x4, w, b, {1, 2}, {1, 0});
    CHECK(same_bits(y, y4.squeeze(0)));
    Tensor dy = make<float>(values(numel_of(y.shape()), 11), y.shape());
    y.backward(dy);
    y4.backward(dy.unsqueeze(0));
    CHECK(x3.grad().shape() == x3.shape());
    CHECK(same_bits(x3.grad(), x4.grad().squeeze(0)));
    CHECK(!w.grad().defined());
    // Only the weight requires grad: x gets nothing, dW is still the canonical one.
    Tensor wg = w.detach().requires_grad_();
    Tensor xd = x3.detach().unsqueeze(0);
    conv2d(xd, wg, b, {1, 2}, {1, 0}).backward(dy.unsqueeze(0));
    CHECK(!xd.grad().defined());
    const auto ref = conv_backward_ref<float>(c, xd.to_vector<float>(), w.to_vector<float>(),
                                              dy.to_vector<float>());
    CHECK(same_bits(wg.grad().to_vector<float>(), ref[1]));
  }

  TEST_CASE("non-contiguous operands and an empty batch") {
    // Stored as (2, 3, 5, 7) and viewed as (2, 3, 7, 5): im2col reads any strides.
    Tensor xt = make<float>(values(2 * 3 * 5 * 7, 14), {2, 3, 5, 7}).transpose(2, 3);
    Tensor xc = xt.contiguous();
    Tensor w = make<float>(values(4 * 3 * 3 * 2, 15), {4, 3, 3, 2});
    Tensor wt = make<float>(values(4 * 3 * 2 * 3, 16), {4, 3, 2, 3}).transpose(2, 3);
    CHECK(!xt.is_contiguous());
    CHECK(same_bits(conv2d(xt, w, {}, 1, 1), conv2d(xc, w, {}, 1, 1)));
    CHECK(same_bits(conv2d(xc, wt, {}, 2), conv2d(xc, wt.contiguous(), {}, 2)));
    CHECK(same_bits(max_pool2d(xt, 2), max_pool2d(xc, 2)));
    CHECK(same_bits(avg_pool2d(xt, 3, Size2{2}, 1), avg_pool2d(xc, 3, Size2{2}, 1)));
    Tensor e = zeros({0, 3, 7, 5}).requires_grad_();
    Tensor b = zeros({4}).requires_grad_();
    Tensor y = conv2d(e, w, b, 1, 1);
    CHECK(y.shape() == Shape{0, 4, 7, 6});
    (sum(y) + sum(max_pool2d(e, 2)) + sum(avg_pool2d(e, 2))).backward();
    CHECK(e.grad().shape() == e.shape());
    CHECK(b.grad().to_vector<float>() == std::vector<float>(4, 0.0f));
  }

  TEST_CASE_TEMPLATE("max_pool2d and avg_pool2d values: loops, bit for bit", T, float, double) {
    for (const PoolCfg& c : max_pool_configs()) {
      CAPTURE(shape_str(c.x_shape()));
      CAPTURE(c.kH);
      CAPTURE(c.ceil);
      const auto xv = cast<T>(values(numel_of(c.x_shape()), 12));
      Tensor x = from_vector(xv, c.x_shape());
      Tensor y = c.max(x);
      CHECK(y.shape() == c.y_shape());
      CHECK(same_bits(y.to_vector<T>(), pool_ref<T>(c, xv, 0)));
      if (c.dH != 1 || c.dW != 1) continue;  // avg_pool2d has no dilation
      Tensor a = c.avg(x);
      CHECK(a.shape() == c.y_shape());
      CHECK(same_bits(a.to_vector<T>(), pool_ref<T>(c, xv, 1)));
      CHECK(max_rel_err(a.to_vector<T>(), pool_ref<double>(c, cast<double>(xv), 2)) <= 1e-6);
    }
  }

  TEST_CASE("pool divisors and output sizes match PyTorch; stride defaults to the kernel") {
    // avg_pool2d(ones(1,1,4,4), 3, stride 2, padding 1, ceil_mode): 3x3 outputs; the corner
    // windows count 9 (with padding) or 4 real inputs; the ceil window at (2, 2) is clipped to
    // the padded input: 2x2 = 4 with padding, 1 real input.
    Tensor one = ones({1, 1, 4, 4});
    auto inc = avg_pool2d(one, 3, Size2{2}, 1, true, true).to_vector<double>();
    auto exc = avg_pool2d(one, 3, Size2{2}, 1, true, false).to_vector<double>();
    REQUIRE(inc.size() == 9u);
    CHECK(inc[0] == doctest::Approx(4.0 / 9.0));
    CHECK(inc[2] == doctest::Approx(2.0 / 6.0));
    CHECK(inc[8] == doctest::Approx(1.0 / 4.0));
    for (double e : exc) CHECK(e == 1.0);
    // ceil_mode drops a last window that would start in the right padding.
    CHECK(max_pool2d(zeros({1, 1, 5, 5}), 2, Size2{2}, 1, 1, true).shape() == Shape{1, 1, 3, 3});
    CHECK(max_pool2d(zeros({1, 1, 5, 5}), 2, Size2{2}, 0, 1, true).shape() == Shape{1, 1, 3, 3});
    CHECK(max_pool2d(zeros({1, 1, 5, 5}), 2).shape() == Shape{1, 1, 2, 2});
    Tensor x = make<float>(values(2 * 6 * 7, 13), {2, 6, 7});  // unbatched (C, H, W)
    CHECK(same_bits(max_pool2d(x, {2, 3}), max_pool2d(x, {2, 3}, Size2{2, 3})));
    CHECK(same_bits(avg_pool2d(x, {2, 3}), avg_pool2d(x, {2, 3}, Size2{2, 3})));
    CHECK(max_pool2d(x, {2, 3}).shape() == Shape{2, 3, 2});
    CHECK(same_bits(avg_pool2d(x, 3, Size2{1}, 1),
                    avg_pool2d(x.unsqueeze(0), 3, Size2{1}, 1).squeeze(0)));
  }

  TEST_CASE("max_pool2d propagates NaN") {
    std::vector<float> v(16, 1.0f);
    v[5] = std::numeric_limits<float>::quiet_NaN();
    auto y = max_pool2d(from_vector(v, {1, 1, 4, 4}), 2).to_vector<float>();
    CHECK(std::isnan(y[0]));
    CHECK(y[1] == 1.0f);
    CHECK(y[3] == 1.0f);
  }

  TEST_CASE("gradcheck conv2d: x, weight, bias (stride, padding, dilation, groups, unbatched)") {
    CHECK_GRADCHECK(
        [](const V& v) {
          return conv2d(v[0], v[1], v[2], {2, 1}, {1, 1});
        },
        {make<double>(values(2 * 3 * 5 * 4, 20), {2, 3, 5, 4}),
         make<double>(values(2 * 3 * 3 * 2, 21), {2, 3, 3, 2}), make<double>(values(2, 22), {2})});
    CHECK_GRADCHECK(
        [](const V& v) {
          return conv2d(v[0], v[1], v[2], 1, 1, {2, 1}, 2);
        },
        {make<double>(values(4 * 5 * 4, 23), {1, 4, 5, 4}),
         make<double>(values(4 * 2 * 2 * 2, 24), {4, 2, 2, 2}), make<double>(values(4, 25), {4})});
    CHECK_GRADCHECK([](const V& v) { return conv2d(v[0], v[1], Tensor(), 2, 1, 1, 3); },
                    {make<double>(values(3 * 5 * 5, 26), {3, 5, 5}),  // unbatched depthwise
                     make<double>(values(6 * 3 * 3, 27), {6, 1, 3, 3})});
  }

  TEST_CASE("gradcheck max_pool2d and avg_pool2d") {
    Tensor x = make<double>(distinct(2 * 6 * 5, 30), {1, 2, 6, 5});
    CHECK_GRADCHECK([](const V& v) { return max_pool2d(v[0], 2); }, {x});
    CHECK_GRADCHECK([](const V& v) { return max_pool2d(v[0], 3, Size2{2}, 1, 1, true); }, {x});
    CHECK_GRADCHECK(
        [](const V& v) {
          return max_pool2d(v[0], {2, 3}, Size2{1, 2}, {1, 1}, {2, 1});
        },
        {x});
    CHECK_GRADCHECK([](const V& v) { return avg_pool2d(v[0], 3, Size2{2}, 1, true, true); }, {x});
    CHECK_GRADCHECK(
        [](const V& v) {
          return avg_pool2d(v[0], {3, 2}, Size2{1, 2}, {1, 0}, true, false);
        },
        {x});
    CHECK_GRADCHECK([](const V& v) { return avg_pool2d(v[0], 2); },
                    {make<double>(values(3 * 5 * 4, 31), {3, 5, 4})});  // unbatched
  }

  TEST_CASE("Fast mode is within tolerance of Deterministic, forward and backward") {
    auto run = [](std::optional<Mode> m) {
      const ConvCfg c{3, 4, 7, 6, 6, 3, 3, 1, 2, 1, 1, 1, 1, 2};
      Tensor x = make<float>(values(numel_of(c.x_shape()), 40), c.x_shape()).requires_grad_();
      Tensor w = make<float>(values(numel_of(c.w_shape()), 41), c.w_shape()).requires_grad_();
      Tensor b = make<float>(values(c.O, 42), {c.O}).requires_grad_();
      Tensor y = c.run(x, w, b, m);
      Tensor xp = make<float>(values(2 * 3 * 6 * 7, 43), {2, 3, 6, 7}).requires_grad_();
      Tensor mp = max_pool2d(xp, 3, Size2{2}, 1, 1, true, m);
      Tensor ap = avg_pool2d(xp, 3, Size2{2}, 1, false, true, m);
      Tensor loss = sum(y * y) + sum(mp * mp) + sum(ap * ap * 3.0);
      loss.backward();
      return V{y.detach(), mp.detach(), ap.detach(), x.grad(), w.grad(), b.grad(), xp.grad()};
    };
    V det = run(Mode::Deterministic), fast = run(Mode::Fast);
    V guarded;
    {
      ModeGuard g(Mode::Fast);
      guarded = run(std::nullopt);
    }
    for (std::size_t i = 0; i < det.size(); ++i) {
      CAPTURE(i);
      auto d = det[i].to_vector<double>();
      CHECK(max_rel_err(fast[i].to_vector<double>(), d) <= 1e-5);
      CHECK(max_rel_err(guarded[i].to_vector<double>(), d) <= 1e-5);
    }
  }

  TEST_CASE("Deterministic bits do not depend on the cpu thread count (1, 2, 3)") {
    // Large enough on cpu that the kernels split work across threads; small on sim.
    const bool cpu = default_device().is_cpu();
    const ConvCfg c = cpu ? ConvCfg{8, 8, 20, 18, 16, 3, 3, 1, 1, 1, 1}
                          : ConvCfg{2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1};
    const Shape ps = cpu ? Shape{8, 16, 24, 22} : Shape{2, 2, 6, 5};
    auto run = [&] {
      Tensor x = make<float>(values(numel_of(c.x_shape()), 50), c.x_shape()).requires_grad_();
      Tensor w = make<float>(values(numel_of(c.w_shape()), 51), c.w_shape()).requires_grad_();
      Tensor b = make<float>(values(c.O, 52), {c.O}).requires_grad_();
      Tensor xp = make<float>(values(numel_of(ps), 53), ps).requires_grad_();
      Tensor y = c.run(x, w, b);
      Tensor mp = max_pool2d(xp, 3, Size2{2}, 1);
      Tensor ap = avg_pool2d(xp, 3, Size2{2}, 1, true, false);
      (sum(y * y) + sum(mp * mp) + sum(ap * ap)).backward();
      std::vector<float> all;
      for (const Tensor& t : {y, mp, ap, x.grad(), w.grad(), b.grad(), xp.grad()}) {
        auto v = t.to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
      }
      return all;
    };
    ThreadCountRestore restore;
    set_num_threads(1);
    const auto first = run();
    for (int threads : {2, 3, 1}) {
      CAPTURE(threads);
      set_num_threads(threads);
      CHECK(same_bits(run(), first));
    }
  }

  TEST_CASE("batch invariance: op(x)[i] has the bits of op(x[i:i+1]) for batch 1, 7, 64") {
    Tensor w = make<float>(values(3 * 2 * 3 * 3, 60), {3, 2, 3, 3});
    Tensor b = make<float>(values(3, 61), {3});
    const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> ops = {
        {"conv2d", [&](const Tensor& x) { return conv2d(x, w, b, 1, 1); }},
        {"max_pool2d", [](const Tensor& x) { return max_pool2d(x, 3, Size2{2}, 1, 1, true); }},
        {"avg_pool2d", [](const Tensor& x) { return avg_pool2d(x, 3, Size2{2}, 1, true, false); }},
    };
    for (i64 n : {1, 7, 64}) {
      Tensor x = make<float>(values(n * 2 * 5 * 5, 62 + n), {n, 2, 5, 5});
      for (const auto& [name, op] : ops) {
        CAPTURE(name);
        CAPTURE(n);
        Tensor y = op(x);
        bool ok = true;
        for (i64 i = 0; i < n; ++i) ok = ok && same_bits(y.narrow(0, i, 1), op(x.narrow(0, i, 1)));
        CHECK(ok);
      }
    }
  }

  TEST_CASE("bad input: errors name the op and show the shapes") {
    auto error_of = [](const std::function<void()>& f) -> std::string {
      try {
        f();
      } catch (const Error& e) {
        return e.what();
      }
      return "<no error>";
    };
    auto check_error = [&](const std::function<void()>& f, std::vector<std::string> parts) {
      const std::string msg = error_of(f);
      INFO("message: " << msg);
      for (const std::string& p : parts)
        CHECK_MESSAGE(msg.find(p) != std::string::npos, "missing: " << p);
    };
    const Tensor x = zeros({2, 3, 7, 5}), w = zeros({4, 3, 3, 2});
    check_error(
        [&] {
          conv2d(x, zeros({4, 4, 3, 2}));
        },
        {"conv2d: input has 3 channels, weight expects 4", "input [2,3,7,5]", "weight [4,4,3,2]"});
    check_error(
        [&] {
          conv2d(zeros({1, 2, 3, 3}), zeros({1, 2, 4, 2}));
        },
        {"conv2d", "larger than the padded input 3x3", "[1,2,3,3]", "[1,2,4,2]"});
    check_error(
        [&] {
          conv2d(zeros({1, 2, 3, 3}), zeros({1, 2, 2, 2}), {}, 1, 0, 3);
        },
        {"conv2d", "larger than the padded input", "dilation 3x3"});
    check_error(
        [&] {
          conv2d(zeros({1, 4, 5, 5}), zeros({3, 2, 3, 3}), {}, 1, 0, 1, 2);
        },
        {"conv2d", "groups 2 must divide the output channels 3", "[1,4,5,5]", "[3,2,3,3]"});
    check_error(
        [&] {
          conv2d(zeros({1, 3, 5, 5}), zeros({4, 1, 3, 3}), {}, 1, 0, 1, 2);
        },
        {"conv2d", "groups 2 must divide the input channels 3", "[1,3,5,5]"});
    check_error(
        [&] {
          conv2d(zeros({1, 4, 5, 5}), zeros({4, 1, 3, 3}), {}, 1, 0, 1, 2);
        },
        {"conv2d: input has 4 channels, weight expects 2", "[1,4,5,5]", "[4,1,3,3]"});
    check_error([&] { conv2d(x, w, {}, 1, 0, 1, 0); }, {"conv2d", "groups must be >= 1"});
    check_error([&] { conv2d(x, zeros({4, 3, 3})); }, {"conv2d", "weight must be 4-D", "[4,3,3]"});
    check_error([&] { conv2d(x, w, zeros({3})); },
                {"conv2d", "bias must have shape [4]", "bias [3]", "[2,3,7,5]"});
    check_error([&] { conv2d(x, w, zeros({4, 1})); }, {"conv2d", "bias must be 1-D", "[4,1]"});
    check_error(
        [&] {
          conv2d(x, zeros({4, 3, 3, 2}, DType::f64));
        },
        {"conv2d", "weight dtype f64 differs from input dtype f32", "[2,3,7,5]"});
    check_error([&] { conv2d(x, w, zeros({4}, DType::f64)); },
                {"conv2d", "bias dtype f64 differs from input dtype f32"});
    check_error(
        [&] {
          conv2d(zeros({2, 3, 7, 5}, DType::i64), w);
        },
        {"conv2d", "dtype must be f32 or f64", "i64"});
    const Device other = default_device().is_cpu() ? Device::sim() : Device::cpu();
    check_error(
        [&] {
          conv2d(x, zeros({4, 3, 3, 2}, DType::f32, other));
        },
        {"conv2d", "different devices", "[2,3,7,5]", "[4,3,3,2]"});
    check_error(
        [&] {
          conv2d(x, w, {}, {0, 1});
        },
        {"conv2d", "stride must be >= 1, got 0x1", "[2,3,7,5]"});
    check_error(
        [&] {
          conv2d(x, w, {}, 1, 0, {1, -1});
        },
        {"conv2d", "dilation must be >= 1, got 1x-1"});
    check_error(
        [&] {
          conv2d(x, w, {}, 1, {-1, 0});
        },
        {"conv2d", "padding must be >= 0, got -1x0"});
    check_error(
        [&] {
          conv2d(zeros({7, 5}), w);
        },
        {"conv2d", "input must be 3-D (C, H, W) or 4-D (N, C, H, W), got 2-D", "[7,5]"});
    check_error([&] { conv2d(zeros({1, 2, 3, 7, 5}), w); }, {"conv2d", "got 5-D", "[1,2,3,7,5]"});
    check_error([&] { conv2d(Tensor(), w); }, {"conv2d", "input is undefined"});

    for (const char* op : {"max_pool2d", "avg_pool2d"}) {
      CAPTURE(op);
      const bool is_max = std::string(op) == "max_pool2d";
      auto pool = [&](const Tensor& t, Size2 k, std::optional<Size2> s, Size2 p) {
        return is_max ? max_pool2d(t, k, s, p) : avg_pool2d(t, k, s, p);
      };
      const Tensor img = zeros({1, 2, 5, 5});
      check_error(
          [&] {
            pool(img, 3, std::nullopt, {2, 1});
          },
          {op, "pad should be at most half of kernel size", "padding 2x1", "[1,2,5,5]"});
      check_error(
          [&] {
            pool(zeros({1, 2, 2, 2}), 3, std::nullopt, 0);
          },
          {op, "output size 0x0 is too small", "[1,2,2,2]"});
      check_error([&] { pool(img, 2, Size2{0}, 0); },
                  {op, "stride must be >= 1, got 0x0", "[1,2,5,5]"});
      check_error(
          [&] {
            pool(img, {2, 0}, std::nullopt, 0);
          },
          {op, "kernel_size must be >= 1, got 2x0"});
      check_error(
          [&] {
            pool(img, 2, std::nullopt, {0, -1});
          },
          {op, "padding must be >= 0, got 0x-1"});
      check_error([&] { pool(zeros({5, 5}), 2, std::nullopt, 0); }, {op, "got [5,5]"});
      check_error(
          [&] {
            pool(zeros({1, 2, 5, 5}, DType::i64), 2, std::nullopt, 0);
          },
          {op, "dtype must be f32 or f64", "i64"});
    }
    check_error(
        [&] {
          max_pool2d(zeros({1, 1, 5, 5}), 2, std::nullopt, 0, 0);
        },
        {"max_pool2d", "dilation must be >= 1, got 0x0"});
  }
}
