// ditto — conv2d's two CPU routes, Deterministic, same bits: im2col + the vectorised canonical
// GEMM (what conv2d runs on the cpu) vs the direct per-element kernels of kernels/conv.h (what
// the GPU devices run; the cpu table holds them too). Forward + dx + dW of a 16 -> 16 3x3
// padding-1 layer on a (64, 16, 28, 28) f32 input. Arguments: /<route 0 = im2col + GEMM,
// 1 = direct>/<threads>.
//   build/bench/bench_conv_route --benchmark_repetitions=5
//   --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include "core/ops/op_util.h"
#include "core/ops/window.h"
#include "ditto/ditto.h"
#include "kernels/conv.h"

namespace {

void BM_conv_route_cpu(benchmark::State& s) {
  using namespace ditto;
  set_num_threads(static_cast<int>(s.range(1)));
  Generator g(6);
  const Tensor x = randn({64, 16, 28, 28}, g);
  const Tensor w = randn({16, 16, 3, 3}, g);
  const Tensor gr = randn({64, 16, 28, 28}, g);
  const kernels::ConvGeom geom{detail::window_geom(x, {3, 3}, 1, 1, 1, 28, 28), 16, 1};
  for (auto _ : s) {
    if (s.range(0) == 0) {
      Tensor xr = x.detach().requires_grad_(), wr = w.detach().requires_grad_();
      Tensor y = conv2d(xr, wr, Tensor(), 1, 1);
      y.backward(gr);
      benchmark::DoNotOptimize(wr.grad().raw_data());
    } else {
      const kernels::ConvKernels& k = kernels::conv_kernels(Device::cpu());
      Tensor y = empty(gr.shape()), dx = empty(x.shape()), dw = empty(w.shape());
      k.forward(geom, detail::make_view(x, "bench"), detail::make_view(w, "bench"), kernels::View{},
                detail::make_view(y, "bench"));
      k.backward_data(geom, detail::make_view(gr, "bench"), detail::make_view(w, "bench"),
                      detail::make_view(dx, "bench"));
      k.backward_weight(Mode::Deterministic, geom, detail::make_view(x, "bench"),
                        detail::make_view(gr, "bench"), detail::make_view(dw, "bench"));
      benchmark::DoNotOptimize(dw.raw_data());
    }
  }
  s.SetLabel(std::string(s.range(0) == 0 ? "im2col + GEMM" : "direct") + ", " +
             std::to_string(s.range(1)) + " thread(s)");
}

}  // namespace

BENCHMARK(BM_conv_route_cpu)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
