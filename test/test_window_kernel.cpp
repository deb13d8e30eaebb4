// ditto — tests of the window kernels (kernels/window.h): im2col and col2im on cpu
// (kernels/cpu/window.cpp) and sim (kernels/cuda/window.cuh on the SIMT simulator).
//  - im2col equals a naive loop bit for bit (padding, stride, dilation, non-square windows,
//    pad values, strided / permuted / broadcast input views), on both devices.
//  - col2im Deterministic is within rounding of a float64 (long double for f64) reference, and
//    follows the documented order exactly (a tiny case whose result is computed by hand and
//    differs for any other order of the taps).
//  - cpu and sim agree bitwise (memcmp) for both dtypes and many geometries; sim bits do not move
//    with the schedule seed, the worker count or a forced launch configuration; cpu bits do not
//    move with the thread count.
//  - col2im Fast is within rounding of Deterministic, and on sim it is honestly atomic: the bits
//    change with the schedule seed on an overlapping-window case.
//  - bad arguments throw ditto::Error naming the kernel and the shapes.
// sim memory is host memory: the same std::vector buffers serve both devices.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/errors.h"
#include "core/error.h"
#include "core/threads.h"
#include "kernels/window.h"
#include "kernels/launch_config.h"
#include "kernels/sim/runtime.h"
#include "test/fixtures/views.h"

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h

using ditto::DType;
using ditto::Mode;
using ditto::kernels::LaunchOverride;
using ditto::kernels::LaunchOverrideGuard;
using ditto::kernels::View;
using ditto::kernels::WindowGeom;
using ditto::sim::Order;
using ditto::sim::Schedule;
using ditto::sim::ScheduleGuard;
using namespace ditto::test_fixtures;  // test/fixtures/views.h

enum class Dev { cpu, sim };

/// A geometry with the usual (floor-mode) output size, or `oh`/`ow` when given (>= 0).
WindowGeom geom(i64 N, i64 C, i64 H, i64 W, i64 kH, i64 kW, i64 sH = 1, i64 sW = 1, i64 pH = 0,
                i64 pW = 0, i64 dH = 1, i64 dW = 1, i64 oh = -1, i64 ow = -1) {
  WindowGeom g;
  g.N = N, g.C = C, g.H = H, g.W = W, g.kH = kH, g.kW = kW, g.sH = sH, g.sW = sW;
  g.pH = pH, g.pW = pW, g.dH = dH, g.dW = dW;
  const i64 eh = H + 2 * pH - dH * (kH - 1) - 1, ew = W + 2 * pW - dW * (kW - 1) - 1;
  g.OH = oh >= 0 ? oh : (eh < 0 ? 0 : eh / sH + 1);
  g.OW = ow >= 0 ? ow : (ew < 0 ? 0 : ew / sW + 1);
  return g;
}

std::string describe(const WindowGeom& g) {
  auto s = [](i64 v) { return std::to_string(v); };
  return "N" + s(g.N) + " C" + s(g.C) + " " + s(g.H) + "x" + s(g.W) + " k" + s(g.kH) + "x" +
         s(g.kW) + " s" + s(g.sH) + "x" + s(g.sW) + " p" + s(g.pH) + "x" + s(g.pW) + " d" +
         s(g.dH) + "x" + s(g.dW) + " out" + s(g.OH) + "x" + s(g.OW);
}

/// Geometries covering: overlapping windows (3x3 and 5x5 at stride 1), padding, stride > kernel
/// (holes that no window reads), dilation, non-square everything, sizes that are multiples of
/// nothing, a ceil-mode extra window reaching into the padding, 1x1, an image smaller than the
/// window (only padding reaches it), and empty N / C / output.
std::vector<WindowGeom> geometries() {
  return {
      geom(2, 3, 6, 5, 3, 3, 1, 1, 1, 1),              // overlapping, "same" padding
      geom(1, 2, 7, 7, 5, 5, 1, 1, 2, 2),              // heavy overlap
      geom(3, 2, 7, 5, 2, 3, 2, 1, 0, 1, 2, 1),        // non-square k/s/p/d, N*OH*OW = 45
      geom(2, 1, 9, 8, 2, 2, 3, 3),                    // stride > kernel: holes
      geom(1, 2, 9, 11, 3, 2, 2, 3, 1, 0, 2, 3),       // dilation, odd sizes
      geom(2, 2, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 4, 4),  // ceil mode: last window in padding
      geom(2, 3, 4, 5, 1, 1),                          // 1x1
      geom(1, 1, 2, 3, 4, 4, 1, 1, 2, 2),              // image smaller than the window
      geom(1, 1, 1, 1, 3, 3, 1, 1, 1, 1),              // 1x1 image, 3x3 window
      geom(0, 3, 5, 5, 3, 3, 1, 1, 1, 1),              // N = 0
      geom(2, 0, 5, 5, 3, 3),                          // C = 0
      geom(2, 2, 3, 3, 5, 5),                          // no window fits: OH = OW = 0
  };
}

/// Random floats of mixed sign and magnitude (10^-3 .. 10^3) with some exact +-0: sums of them
/// round differently in different orders.
template <class T>
std::vector<T> random_values(i64 n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (T& e : v) {
    const auto r = gen();
    const double mag = std::pow(10.0, static_cast<double>(r % 7) - 3.0);
    const double u = static_cast<double>(r >> 11) * 0x1p-53;
    e = (r % 23 == 0) ? T(0) : (r % 29 == 0) ? -T(0) : T(u * mag);
    if ((r >> 7) & 1) e = -e;
  }
  return v;
}

/// How the (N, C, H, W) input of im2col is laid out in memory.
enum class Layout { contiguous, nhwc, sliced, broadcast_n };

/// An input image: storage plus a (N, C, H, W) view into it with the layout's strides.
template <class T>
struct Image {
  std::vector<T> store;
  View view;
};

template <class T>
Image<T> make_image(const WindowGeom& g, Layout layout, std::uint64_t seed) {
  Image<T> im;
  View& v = im.view;
  v.dtype = dtype_of<T>();
  v.ndim = 4;
  v.shape[0] = g.N, v.shape[1] = g.C, v.shape[2] = g.H, v.shape[3] = g.W;
  i64 n = 0;
  switch (layout) {
    case Layout::contiguous:  // (N, C, H, W)
      n = g.N * g.C * g.H * g.W;
      v.strides[0] = g.C * g.H * g.W, v.strides[1] = g.H * g.W, v.strides[2] = g.W;
      v.strides[3] = 1;
      break;
    case Layout::nhwc:  // stored (N, H, W, C), viewed as (N, C, H, W)
      n = g.N * g.C * g.H * g.W;
      v.strides[0] = g.H * g.W * g.C, v.strides[1] = 1, v.strides[2] = g.W * g.C;
      v.strides[3] = g.C;
      break;
    case Layout::sliced:  // every other column and row of a (N, C + 1, 2H, 2W + 1) buffer
      n = g.N * (g.C + 1) * 2 * g.H * (2 * g.W + 1);
      v.strides[3] = 2;
      v.strides[2] = 2 * (2 * g.W + 1);
      v.strides[1] = 2 * g.H * (2 * g.W + 1);
      v.strides[0] = (g.C + 1) * v.strides[1];
      break;
    case Layout::broadcast_n:  // one (C, H, W) image broadcast over N (stride 0)
      n = g.C * g.H * g.W;
      v.strides[0] = 0, v.strides[1] = g.H * g.W, v.strides[2] = g.W, v.strides[3] = 1;
      break;
  }
  im.store = random_values<T>(n, seed);
  v.data = im.store.data();
  return im;
}

/// A contiguous view of `v` with the given shape.
template <class T>
View contiguous_view(std::vector<T>& v, std::initializer_list<i64> shape) {
  View r;
  r.data = v.data();
  r.dtype = dtype_of<T>();
  r.ndim = static_cast<int>(shape.size());
  int d = 0;
  for (i64 s : shape) r.shape[d++] = s;
  i64 st = 1;
  for (d = r.ndim - 1; d >= 0; --d) {
    r.strides[d] = st;
    st *= r.shape[d];
  }
  return r;
}

i64 cols_size(const WindowGeom& g) { return g.C * g.kH * g.kW * g.N * g.OH * g.OW; }

/// Runs im2col on `dev` into a fresh cols buffer pre-filled with garbage bytes.
template <class T>
std::vector<T> run_im2col(Dev dev, const WindowGeom& g, const View& in, double pad) {
  std::vector<T> cols(static_cast<std::size_t>(cols_size(g)));
  if (!cols.empty()) std::memset(cols.data(), 0xAB, cols.size() * sizeof(T));
  const View cv = contiguous_view(cols, {g.C, g.kH, g.kW, g.N, g.OH, g.OW});
  if (dev == Dev::cpu) {
    ditto::kernels::window_kernels(ditto::Device::cpu()).im2col(g, in, cv, pad);
  } else {
    ditto::kernels::window_kernels(ditto::Device::sim()).im2col(g, in, cv, pad);
  }
  return cols;
}

/// Runs col2im on `dev` into a fresh image buffer pre-filled with garbage bytes.
template <class T>
std::vector<T> run_col2im(Dev dev, Mode mode, const WindowGeom& g, std::vector<T>& cols) {
  std::vector<T> img(static_cast<std::size_t>(g.N * g.C * g.H * g.W));
  if (!img.empty()) std::memset(img.data(), 0xAB, img.size() * sizeof(T));
  const View cv = contiguous_view(cols, {g.C, g.kH, g.kW, g.N, g.OH, g.OW});
  const View iv = contiguous_view(img, {g.N, g.C, g.H, g.W});
  if (dev == Dev::cpu) {
    ditto::kernels::window_kernels(ditto::Device::cpu()).col2im(mode, g, cv, iv);
  } else {
    ditto::kernels::window_kernels(ditto::Device::sim()).col2im(mode, g, cv, iv);
  }
  return img;
}

/// Naive im2col, straight from the definition in kernels/window.h.
template <class T>
std::vector<T> naive_im2col(const WindowGeom& g, const View& in, double pad) {
  std::vector<T> cols;
  const T* x = static_cast<const T*>(in.data);
  for (i64 c = 0; c < g.C; ++c)
    for (i64 kh = 0; kh < g.kH; ++kh)
      for (i64 kw = 0; kw < g.kW; ++kw)
        for (i64 n = 0; n < g.N; ++n)
          for (i64 oh = 0; oh < g.OH; ++oh)
            for (i64 ow = 0; ow < g.OW; ++ow) {
              const i64 h = oh * g.sH - g.pH + kh * g.dH, w = ow * g.sW - g.pW + kw * g.dW;
              const bool in_img = h >= 0 && h < g.H && w >= 0 && w < g.W;
              cols.push_back(in_img ? x[n * in.strides[0] + c * in.strides[1] + h * in.strides[2] +
                                        w * in.strides[3]]
                                    : static_cast<T>(pad));
            }
  return cols;
}

/// Naive col2im in a wider type (scatter order), plus the sum of |contributions| per pixel.
template <class T>
void naive_col2im(const WindowGeom& g, const std::vector<T>& cols, std::vector<long double>& ref,
                  std::vector<long double>& mag) {
  ref.assign(static_cast<std::size_t>(g.N * g.C * g.H * g.W), 0.0L);
  mag = ref;
  std::size_t i = 0;
  for (i64 c = 0; c < g.C; ++c)
    for (i64 kh = 0; kh < g.kH; ++kh)
      for (i64 kw = 0; kw < g.kW; ++kw)
        for (i64 n = 0; n < g.N; ++n)
          for (i64 oh = 0; oh < g.OH; ++oh)
            for (i64 ow = 0; ow < g.OW; ++ow, ++i) {
              const i64 h = oh * g.sH - g.pH + kh * g.dH, w = ow * g.sW - g.pW + kw * g.dW;
              if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
              const auto p = static_cast<std::size_t>(((n * g.C + c) * g.H + h) * g.W + w);
              ref[p] += cols[i];
              mag[p] += std::fabs(static_cast<long double>(cols[i]));
            }
}

/// Worst |got - ref| / (kH*kW * eps * mag) over the pixels (<= 1 for any summation order).
template <class T>
double error_ratio(const WindowGeom& g, const std::vector<T>& cols, const std::vector<T>& got) {
  std::vector<long double> ref, mag;
  naive_col2im(g, cols, ref, mag);
  REQUIRE(ref.size() == got.size());
  const long double bound_scale =
      static_cast<long double>(g.kH * g.kW) * std::numeric_limits<T>::epsilon();
  double worst = 0;
  for (std::size_t p = 0; p < got.size(); ++p) {
    const long double err = std::fabs(static_cast<long double>(got[p]) - ref[p]);
    const long double bound = bound_scale * mag[p];
    const double r = bound > 0 ? static_cast<double>(err / bound) : (err > 0 ? 1e30 : 0.0);
    if (!(r <= worst)) worst = r;  // NaN counts as the worst
  }
  return worst;
}


struct ThreadGuard {
  int prev = ditto::get_num_threads();
  ~ThreadGuard() { ditto::set_num_threads(prev); }
};

using ditto::test_fixtures::error_of;  // test/fixtures/errors.h

}  // namespace

TEST_SUITE("window_kernel") {
  TEST_CASE_TEMPLATE("im2col equals the naive gather, every layout and pad value", T, float,
                     double) {
    ScheduleGuard sg(Schedule{Order::kRandom, 7});
    const double inf = std::numeric_limits<double>::infinity();
    std::uint64_t seed = 1;
    for (const WindowGeom& g : geometries()) {
      for (Layout layout :
           {Layout::contiguous, Layout::nhwc, Layout::sliced, Layout::broadcast_n}) {
        for (double pad : {0.0, -inf, 2.5}) {
          CAPTURE(describe(g));
          CAPTURE(static_cast<int>(layout));
          CAPTURE(pad);
          const Image<T> im = make_image<T>(g, layout, seed++);
          const std::vector<T> want = naive_im2col<T>(g, im.view, pad);
          CHECK(same_bits(run_im2col<T>(Dev::cpu, g, im.view, pad), want));
          CHECK(same_bits(run_im2col<T>(Dev::sim, g, im.view, pad), want));
        }
      }
    }
  }

  TEST_CASE("im2col: pad entries are exactly the pad value, image entries the input's") {
    // 1 x 1 x 2 x 2 image, 2x2 window, padding 1: 9 windows, 36 cols entries, 16 of them
    // inside the image (each of the 4 pixels read by 4 windows).
    const WindowGeom g = geom(1, 1, 2, 2, 2, 2, 1, 1, 1, 1);
    REQUIRE(g.OH == 3);
    std::vector<float> x = {1, 2, 3, 4};
    const View in = contiguous_view(x, {1, 1, 2, 2});
    const float ninf = -std::numeric_limits<float>::infinity();
    for (Dev dev : {Dev::cpu, Dev::sim}) {
      const std::vector<float> cols = run_im2col<float>(dev, g, in, -INFINITY);
      // Tap (0, 0) of window (oh, ow) reads (oh - 1, ow - 1): only windows (1..2, 1..2) hit.
      const std::vector<float> tap00 = {ninf, ninf, ninf, ninf, 1, 2, ninf, 3, 4};
      const std::vector<float> got00(cols.begin(), cols.begin() + 9);
      CHECK(same_bits(got00, tap00));
      // Tap (1, 1) reads (oh, ow).
      const std::vector<float> tap11 = {1, 2, ninf, 3, 4, ninf, ninf, ninf, ninf};
      const std::vector<float> got11(cols.begin() + 27, cols.end());
      CHECK(same_bits(got11, tap11));
    }
  }

  TEST_CASE_TEMPLATE("col2im deterministic is within rounding of a wide reference", T, float,
                     double) {
    ScheduleGuard sg(Schedule{Order::kRandom, 11});
    std::uint64_t seed = 100;
    for (const WindowGeom& g : geometries()) {
      CAPTURE(describe(g));
      std::vector<T> cols = random_values<T>(cols_size(g), seed++);
      for (Dev dev : {Dev::cpu, Dev::sim}) {
        CAPTURE(static_cast<int>(dev));
        CHECK(error_ratio(g, cols, run_col2im<T>(dev, Mode::Deterministic, g, cols)) <= 1.0);
      }
    }
  }

  TEST_CASE_TEMPLATE("col2im deterministic follows the documented tap order (hand-computed)", T,
                     float, double) {
    // 3x3 image, 2x2 window, stride 1: pixel (1, 1) is tap (kh, kw) of window (1 - kh, 1 - kw).
    // Its contributions in the documented order (kh, then kw, ascending) are
    //   (0,0): big, (0,1): 1, (1,0): -big, (1,1): 0.5
    // with big + 1 == big in T, so the result is ((((+0 + big) + 1) - big) + 0.5) = 0.5 exactly;
    // kw before kh gives 1.5, the reverse order 0, pairwise (big + 1) + (-big + 0.5) gives 0.
    const WindowGeom g = geom(1, 1, 3, 3, 2, 2);
    REQUIRE((g.OH == 2 && g.OW == 2));
    const T big = std::is_same_v<T, float> ? T(1e8) : T(1e17);
    REQUIRE(big + T(1) == big);
    std::vector<T> cols(16, T(0));  // (1, 2, 2, 1, 2, 2): index (kh*2 + kw)*4 + oh*2 + ow
    auto at = [&](int kh, int kw, int oh, int ow) -> T& {
      return cols[static_cast<std::size_t>((kh * 2 + kw) * 4 + oh * 2 + ow)];
    };
    at(0, 0, 1, 1) = big;
    at(0, 1, 1, 0) = T(1);
    at(1, 0, 0, 1) = -big;
    at(1, 1, 0, 0) = T(0.5);
    // Pixel (0, 0) is only tap (0, 0) of window (0, 0); give it -0: +0 + -0 = +0.
    at(0, 0, 0, 0) = -T(0);
    // Pixel (2, 2) is only tap (1, 1) of window (1, 1).
    at(1, 1, 1, 1) = T(3);
    for (Dev dev : {Dev::cpu, Dev::sim}) {
      CAPTURE(static_cast<int>(dev));
      const std::vector<T> img = run_col2im<T>(dev, Mode::Deterministic, g, cols);
      CHECK(img[4] == T(0.5));
      CHECK(img[0] == T(0));
      CHECK_FALSE(std::signbit(img[0]));  // acc starts at +0
      CHECK(img[8] == T(3));
      for (int p : {1, 2, 3, 5, 6, 7}) {
        CHECK(img[static_cast<std::size_t>(p)] == T(0));
        CHECK_FALSE(std::signbit(img[static_cast<std::size_t>(p)]));
      }
    }
    // Holes (stride 3 > kernel 2) and pixels only padding reaches get +0, never the garbage.
    const WindowGeom gh = geom(1, 1, 5, 5, 2, 2, 3, 3);
    std::vector<T> ch(static_cast<std::size_t>(cols_size(gh)), T(1));
    for (Dev dev : {Dev::cpu, Dev::sim}) {
      const std::vector<T> img = run_col2im<T>(dev, Mode::Deterministic, gh, ch);
      for (i64 h = 0; h < 5; ++h)
        for (i64 w = 0; w < 5; ++w) {
          const bool hit = h % 3 < 2 && w % 3 < 2;
          CHECK(img[static_cast<std::size_t>(h * 5 + w)] == (hit ? T(1) : T(0)));
        }
    }
  }

  TEST_CASE_TEMPLATE("cpu and sim agree bitwise on every geometry", T, float, double) {
    ScheduleGuard sg(Schedule{Order::kRandom, 13});
    std::uint64_t seed = 200;
    for (const WindowGeom& g : geometries()) {
      CAPTURE(describe(g));
      const Image<T> im = make_image<T>(g, Layout::nhwc, seed++);
      const std::vector<T> c_cpu = run_im2col<T>(Dev::cpu, g, im.view, -1.25);
      CHECK(same_bits(run_im2col<T>(Dev::sim, g, im.view, -1.25), c_cpu));
      std::vector<T> cols = random_values<T>(cols_size(g), seed++);
      CHECK(same_bits(run_col2im<T>(Dev::sim, Mode::Deterministic, g, cols),
                      run_col2im<T>(Dev::cpu, Mode::Deterministic, g, cols)));
    }
  }

  TEST_CASE("sim bits do not depend on schedule seed, workers or launch configuration") {
    const std::vector<WindowGeom> gs = {geom(2, 2, 5, 6, 3, 3, 1, 1, 1, 1),
                                        geom(1, 2, 7, 5, 3, 2, 2, 1, 1, 0, 1, 2)};
    std::vector<LaunchOverride> launches = {{0, 0}};
    for (int b : {1, 3, 64})
      for (int t : {32, 256, 1024}) launches.push_back({b, t});
    std::uint64_t data_seed = 300;
    for (const WindowGeom& g : gs) {
      CAPTURE(describe(g));
      const Image<float> im = make_image<float>(g, Layout::sliced, data_seed++);
      std::vector<float> cols32 = random_values<float>(cols_size(g), data_seed++);
      std::vector<double> cols64 = random_values<double>(cols_size(g), data_seed++);
      const std::vector<float> i2c = run_im2col<float>(Dev::cpu, g, im.view, 0.0);
      const std::vector<float> want32 = run_col2im<float>(Dev::cpu, Mode::Deterministic, g, cols32);
      const std::vector<double> want64 =
          run_col2im<double>(Dev::cpu, Mode::Deterministic, g, cols64);
      for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        for (int workers : {1, 2}) {
          for (const LaunchOverride& o : launches) {
            CAPTURE(seed);
            CAPTURE(workers);
            CAPTURE(o.blocks);
            CAPTURE(o.threads);
            ScheduleGuard sg(Schedule{Order::kRandom, seed}, workers);
            LaunchOverrideGuard lo(o);
            CHECK(same_bits(run_col2im<float>(Dev::sim, Mode::Deterministic, g, cols32), want32));
            CHECK(same_bits(run_col2im<double>(Dev::sim, Mode::Deterministic, g, cols64), want64));
            CHECK(same_bits(run_im2col<float>(Dev::sim, g, im.view, 0.0), i2c));
          }
        }
      }
      ScheduleGuard sg(Schedule{Order::kInOrder, 0}, 1);
      CHECK(same_bits(run_col2im<float>(Dev::sim, Mode::Deterministic, g, cols32), want32));
    }
  }

  TEST_CASE_TEMPLATE("cpu bits do not depend on the thread count", T, float, double) {
    ThreadGuard tg;
    // Large enough (cols 8*9*2*32*30 = 138240 entries) that the kernels really run in parallel.
    for (const WindowGeom& g :
         {geom(2, 8, 32, 30, 3, 3, 1, 1, 1, 1), geom(3, 5, 33, 31, 5, 4, 2, 1, 2, 1, 1, 2)}) {
      CAPTURE(describe(g));
      const Image<T> im = make_image<T>(g, Layout::nhwc, 400);
      std::vector<T> cols = random_values<T>(cols_size(g), 401);
      std::vector<std::vector<T>> i2c, c2i;
      for (int th : {1, 2, 3}) {
        ditto::set_num_threads(th);
        i2c.push_back(run_im2col<T>(Dev::cpu, g, im.view, 0.0));
        c2i.push_back(run_col2im<T>(Dev::cpu, Mode::Deterministic, g, cols));
      }
      CHECK(same_bits(i2c[1], i2c[0]));
      CHECK(same_bits(i2c[2], i2c[0]));
      CHECK(same_bits(c2i[1], c2i[0]));
      CHECK(same_bits(c2i[2], c2i[0]));
      CHECK(same_bits(i2c[0], naive_im2col<T>(g, im.view, 0.0)));
      CHECK(error_ratio(g, cols, c2i[0]) <= 1.0);
      ditto::set_num_threads(3);
      CHECK(error_ratio(g, cols, run_col2im<T>(Dev::cpu, Mode::Fast, g, cols)) <= 1.0);
    }
  }

  TEST_CASE_TEMPLATE("col2im fast is within rounding of deterministic, cpu and sim", T, float,
                     double) {
    ScheduleGuard sg(Schedule{Order::kRandom, 17});
    std::uint64_t seed = 500;
    for (const WindowGeom& g : geometries()) {
      CAPTURE(describe(g));
      std::vector<T> cols = random_values<T>(cols_size(g), seed++);
      const std::vector<T> det = run_col2im<T>(Dev::cpu, Mode::Deterministic, g, cols);
      for (Dev dev : {Dev::cpu, Dev::sim}) {
        CAPTURE(static_cast<int>(dev));
        const std::vector<T> fast = run_col2im<T>(dev, Mode::Fast, g, cols);
        REQUIRE(fast.size() == det.size());
        CHECK(error_ratio(g, cols, fast) <= 1.0);
        // Between two orders: at most twice the one-order bound.
        std::vector<long double> ref, mag;
        naive_col2im(g, cols, ref, mag);
        const long double eps = std::numeric_limits<T>::epsilon();
        for (std::size_t p = 0; p < det.size(); ++p) {
          CHECK(std::fabs(static_cast<long double>(fast[p]) - det[p]) <=
                2 * g.kH * g.kW * eps * mag[p]);
        }
      }
    }
  }

  TEST_CASE("col2im fast on sim is honestly atomic: bits change with the schedule seed") {
    // 5x5 windows at stride 1 over a 6x6 image with padding 2: inner pixels receive 25 atomic
    // adds each, of mixed magnitudes, in an order set by the seeded block and thread schedule.
    const WindowGeom g = geom(2, 2, 6, 6, 5, 5, 1, 1, 2, 2);
    std::vector<float> cols = random_values<float>(cols_size(g), 600);
    const std::vector<float> det = run_col2im<float>(Dev::cpu, Mode::Deterministic, g, cols);
    std::set<std::vector<std::uint32_t>> patterns;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) {
      CAPTURE(seed);
      ScheduleGuard sg(Schedule{Order::kRandom, seed}, 1);
      const std::vector<float> got = run_col2im<float>(Dev::sim, Mode::Fast, g, cols);
      CHECK(error_ratio(g, cols, got) <= 1.0);
      std::vector<std::uint32_t> bits(got.size());
      std::memcpy(bits.data(), got.data(), got.size() * sizeof(float));
      patterns.insert(bits);
      // Deterministic mode under the same schedule: still the cpu bits.
      CHECK(same_bits(run_col2im<float>(Dev::sim, Mode::Deterministic, g, cols), det));
    }
    MESSAGE("fast f32 col2im (5x5, stride 1): " << patterns.size()
                                                << " distinct results in 10 seeds");
    CHECK(patterns.size() >= 2);
    // One worker and the same seed replay the same bits: the differences are the schedule's.
    std::vector<float> a, b;
    {
      ScheduleGuard sg(Schedule{Order::kRandom, 4}, 1);
      a = run_col2im<float>(Dev::sim, Mode::Fast, g, cols);
    }
    {
      ScheduleGuard sg(Schedule{Order::kRandom, 4}, 1);
      b = run_col2im<float>(Dev::sim, Mode::Fast, g, cols);
    }
    CHECK(same_bits(a, b));
  }

  TEST_CASE("bad arguments throw ditto::Error naming the kernel and the shapes") {
    const WindowGeom g = geom(2, 3, 7, 5, 3, 3, 1, 1, 1, 1);  // out 7x5
    std::vector<float> x(2 * 3 * 7 * 5), cols(static_cast<std::size_t>(cols_size(g))), img = x;
    std::vector<double> xd(x.size()), colsd(cols.size());
    std::vector<std::int64_t> xi(x.size()), colsi(cols.size());
    const View in = contiguous_view(x, {2, 3, 7, 5});
    const View cv = contiguous_view(cols, {3, 3, 3, 2, 7, 5});
    const View iv = contiguous_view(img, {2, 3, 7, 5});
    auto both = [&](const std::function<void(Dev)>& f, std::initializer_list<const char*> parts) {
      for (Dev dev : {Dev::cpu, Dev::sim}) {
        const std::string msg = error_of([&] { f(dev); });
        INFO("message: " << msg);
        CHECK_THROWS_AS(f(dev), ditto::Error);
        for (const char* p : parts)
          CHECK_MESSAGE(msg.find(p) != std::string::npos, "missing: " << p);
      }
    };
    auto i2c = [](Dev dev, const WindowGeom& gg, const View& a, const View& b) {
      if (dev == Dev::cpu) {
        ditto::kernels::window_kernels(ditto::Device::cpu()).im2col(gg, a, b, 0.0);
      } else {
        ditto::kernels::window_kernels(ditto::Device::sim()).im2col(gg, a, b, 0.0);
      }
    };
    auto c2i = [](Dev dev, const WindowGeom& gg, const View& a, const View& b) {
      if (dev == Dev::cpu) {
        ditto::kernels::window_kernels(ditto::Device::cpu()).col2im(Mode::Deterministic, gg, a, b);
      } else {
        ditto::kernels::window_kernels(ditto::Device::sim()).col2im(Mode::Fast, gg, a, b);
      }
    };
    // Sanity: the good call works on both.
    for (Dev dev : {Dev::cpu, Dev::sim}) {
      CHECK_NOTHROW(i2c(dev, g, in, cv));
      CHECK_NOTHROW(c2i(dev, g, cv, iv));
    }
    // dtype: not a float type; mismatched.
    const View in_i = contiguous_view(xi, {2, 3, 7, 5});
    const View cv_i = contiguous_view(colsi, {3, 3, 3, 2, 7, 5});
    const View cv_d = contiguous_view(colsd, {3, 3, 3, 2, 7, 5});
    both([&](Dev d) { i2c(d, g, in_i, cv_i); }, {"im2col", "f32 or f64", "i64", "[2,3,7,5]"});
    both([&](Dev d) { i2c(d, g, in, cv_d); }, {"im2col", "f64", "f32"});
    both([&](Dev d) { c2i(d, g, cv_i, iv); }, {"col2im", "f32 or f64", "i64"});
    both([&](Dev d) { c2i(d, g, cv_d, iv); }, {"col2im", "f64", "f32"});
    // Input shape / ndim.
    const View in3 = contiguous_view(x, {6, 7, 5});
    both([&](Dev d) { i2c(d, g, in3, cv); }, {"im2col", "[6,7,5]", "[2,3,7,5]"});
    const View in_wrong = contiguous_view(x, {2, 3, 5, 7});
    both([&](Dev d) { i2c(d, g, in_wrong, cv); }, {"im2col", "[2,3,5,7]", "[2,3,7,5]"});
    // cols shape (wrong order of dims), ndim, contiguity.
    const View cv_perm = contiguous_view(cols, {3, 3, 3, 2, 5, 7});
    both([&](Dev d) { i2c(d, g, in, cv_perm); },
         {"im2col", "cols", "[3,3,3,2,5,7]", "[3,3,3,2,7,5]"});
    both([&](Dev d) { c2i(d, g, cv_perm, iv); }, {"col2im", "cols", "[3,3,3,2,5,7]"});
    const View cv_flat = contiguous_view(cols, {static_cast<i64>(cols.size())});
    both([&](Dev d) { c2i(d, g, cv_flat, iv); }, {"col2im", "cols", "[3,3,3,2,7,5]"});
    View cv_nc = cv;
    std::swap(cv_nc.strides[4], cv_nc.strides[5]);  // right shape, transposed memory
    both([&](Dev d) { i2c(d, g, in, cv_nc); }, {"im2col", "contiguous"});
    both([&](Dev d) { c2i(d, g, cv_nc, iv); }, {"col2im", "contiguous"});
    // Image shape and contiguity.
    const View iv_wrong = contiguous_view(img, {3, 2, 7, 5});
    both([&](Dev d) { c2i(d, g, cv, iv_wrong); }, {"col2im", "image", "[3,2,7,5]", "[2,3,7,5]"});
    View iv_nc = iv;
    iv_nc.strides[1] = 1;
    iv_nc.strides[3] = 3;
    both([&](Dev d) { c2i(d, g, cv, iv_nc); }, {"col2im", "image", "contiguous"});
    // Geometry fields.
    auto bad = [&](auto edit, const char* what) {
      WindowGeom b = g;
      edit(b);
      both([&](Dev d) { i2c(d, b, in, cv); }, {"im2col", what});
      both([&](Dev d) { c2i(d, b, cv, iv); }, {"col2im", what});
    };
    bad([](WindowGeom& b) { b.kH = 0; }, ">= 1");
    bad([](WindowGeom& b) { b.sW = 0; }, ">= 1");
    bad([](WindowGeom& b) { b.dH = -1; }, ">= 1");
    bad([](WindowGeom& b) { b.pW = -1; }, "padding");
    bad([](WindowGeom& b) { b.N = -2; }, "negative size");
    bad([](WindowGeom& b) { b.OH = -1; }, "negative size");
  }
}
