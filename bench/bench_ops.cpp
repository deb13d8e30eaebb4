// Deterministic vs fast, through the public API, per device: what determinism costs.
//   build/bench/bench_ops --benchmark_filter='cpu'            (cpu only)
//   build/bench/bench_ops --benchmark_filter='pool|dropout|interpolate|batch_norm|conv'
//     --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true   (issue 11's kernels)
// Arguments: /<log2 size or n>/<mode 0=deterministic 1=fast>/<threads>.
// The sim device runs the CUDA kernels on the simulator (slow by design): its cases use small
// sizes and exist to compare the two kernel variants' structure, not to measure a GPU.
#include <benchmark/benchmark.h>

#include "ditto/ditto.h"

namespace {

ditto::Mode mode_of(const benchmark::State& s) {
  return s.range(1) == 0 ? ditto::Mode::Deterministic : ditto::Mode::Fast;
}

void set_label(benchmark::State& s) {
  s.SetLabel(std::string(ditto::mode_name(mode_of(s))) + ", " + std::to_string(s.range(2)) +
             " thread(s)");
}

// Sum of 2^k f32 values.
void sum_on(benchmark::State& s, ditto::Device dev) {
  ditto::set_num_threads(static_cast<int>(s.range(2)));
  ditto::Generator g(1);
  ditto::Tensor x = ditto::randn({std::int64_t{1} << s.range(0)}, g, ditto::DType::f32, dev);
  for (auto _ : s) {
    ditto::Tensor r = ditto::sum(x, {}, false, mode_of(s));
    benchmark::DoNotOptimize(r.raw_data());
  }
  s.SetBytesProcessed(s.iterations() * x.numel() * 4);
  set_label(s);
}

// n x n x n f32 matmul.
void matmul_on(benchmark::State& s, ditto::Device dev) {
  ditto::set_num_threads(static_cast<int>(s.range(2)));
  std::int64_t n = s.range(0);
  ditto::Generator g(2);
  ditto::Tensor a = ditto::randn({n, n}, g, ditto::DType::f32, dev);
  ditto::Tensor b = ditto::randn({n, n}, g, ditto::DType::f32, dev);
  for (auto _ : s) {
    ditto::Tensor c = ditto::matmul(a, b, mode_of(s));
    benchmark::DoNotOptimize(c.raw_data());
  }
  s.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * s.iterations() / 1e9, benchmark::Counter::kIsRate);
  set_label(s);
}

// batch_norm training forward + backward over a (2^k / 2^18, 16, 128, 128) f32 input (2^24
// values at k = 24), affine, with running statistics: what determinism costs for the per-channel
// sums (the passes over memory are the same in both modes).
void batch_norm_on(benchmark::State& s, ditto::Device dev) {
  using namespace ditto;
  set_num_threads(static_cast<int>(s.range(2)));
  Generator g(3);
  const std::int64_t n = (std::int64_t{1} << s.range(0)) / (16 * 128 * 128);
  Tensor x = randn({n, 16, 128, 128}, g, DType::f32, dev).requires_grad_();
  Tensor w = ones({16}, DType::f32, dev).requires_grad_();
  Tensor b = zeros({16}, DType::f32, dev).requires_grad_();
  Tensor rm = zeros({16}, DType::f32, dev), rv = ones({16}, DType::f32, dev);
  Tensor gr = randn(x.shape(), g, DType::f32, dev);
  for (auto _ : s) {
    Tensor y = batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5, mode_of(s));
    y.backward(gr);
    benchmark::DoNotOptimize(x.grad().raw_data());
    for (Tensor* t : {&x, &w, &b}) t->set_grad(Tensor());  // no accumulation across iterations
  }
  s.SetBytesProcessed(s.iterations() * x.numel() * 4);
  set_label(s);
}

// conv2d's weight gradient over a (2^k / 2^18, 16, 128, 128) f32 input (2^24 values at k = 24),
// 16 -> 16 channels, 3x3, padding 1: the backward pass alone is timed (the forward, whose GEMM
// also differs between the modes, runs with the timer paused). Deterministic: a chain per sample
// then the canonical tree over the batch; Fast: one GEMM with K = N*OH*OW.
void conv_backward_weight_on(benchmark::State& s, ditto::Device dev) {
  using namespace ditto;
  set_num_threads(static_cast<int>(s.range(2)));
  Generator g(4);
  const std::int64_t n = (std::int64_t{1} << s.range(0)) / (16 * 128 * 128);
  Tensor x = randn({n, 16, 128, 128}, g, DType::f32, dev);
  Tensor w = randn({16, 16, 3, 3}, g, DType::f32, dev).requires_grad_();
  Tensor gr = randn({n, 16, 128, 128}, g, DType::f32, dev);
  for (auto _ : s) {
    s.PauseTiming();
    Tensor y = conv2d(x, w, Tensor(), 1, 1, 1, 1, mode_of(s));
    s.ResumeTiming();
    y.backward(gr);
    benchmark::DoNotOptimize(w.grad().raw_data());
    w.set_grad(Tensor());
  }
  s.SetBytesProcessed(s.iterations() * x.numel() * 4);
  set_label(s);
}

// forward + backward of op(x) over a (2^k / 2^18, 16, 128, 128) f32 input (2^24 values at
// k = 24): the issue-11 kernels whose two modes differ only in the backward's summation order
// (pools, interpolate) or in the random streams (dropout).
template <class Op>
void forward_backward_on(benchmark::State& s, ditto::Device dev, Op op) {
  using namespace ditto;
  set_num_threads(static_cast<int>(s.range(2)));
  Generator g(5);
  const std::int64_t n = (std::int64_t{1} << s.range(0)) / (16 * 128 * 128);
  Tensor x = randn({n, 16, 128, 128}, g, DType::f32, dev).requires_grad_();
  Tensor y = op(x, mode_of(s));
  Tensor gr = randn(y.shape(), g, DType::f32, dev);
  for (auto _ : s) {
    Tensor out = op(x, mode_of(s));
    out.backward(gr);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.set_grad(Tensor());
  }
  s.SetBytesProcessed(s.iterations() * x.numel() * 4);
  set_label(s);
}

void BM_dropout_cpu(benchmark::State& s) {
  ditto::Generator drop(7);
  forward_backward_on(s, ditto::Device::cpu(), [&](const ditto::Tensor& x, ditto::Mode m) {
    return ditto::dropout(x, 0.25, true, drop, m);
  });
}
void BM_max_pool2d_cpu(benchmark::State& s) {
  forward_backward_on(s, ditto::Device::cpu(), [](const ditto::Tensor& x, ditto::Mode m) {
    return ditto::max_pool2d(x, 3, ditto::Size2{2}, 1, 1, false, m);  // overlapping windows
  });
}
void BM_avg_pool2d_cpu(benchmark::State& s) {
  forward_backward_on(s, ditto::Device::cpu(), [](const ditto::Tensor& x, ditto::Mode m) {
    return ditto::avg_pool2d(x, 3, ditto::Size2{2}, 1, false, true, m);
  });
}
void BM_adaptive_avg_pool2d_cpu(benchmark::State& s) {
  forward_backward_on(s, ditto::Device::cpu(), [](const ditto::Tensor& x, ditto::Mode m) {
    return ditto::adaptive_avg_pool2d(x, {48, 48}, m);  // 128 -> 48: overlapping windows
  });
}
void BM_interpolate_bilinear_cpu(benchmark::State& s) {
  forward_backward_on(s, ditto::Device::cpu(), [](const ditto::Tensor& x, ditto::Mode m) {
    return ditto::interpolate(x, {.size = {181, 181}, .mode = ditto::InterpolateMode::bilinear},
                              m);  // 2^24 -> 2^25 outputs
  });
}

void BM_sum_cpu(benchmark::State& s) { sum_on(s, ditto::Device::cpu()); }
void BM_batch_norm_cpu(benchmark::State& s) { batch_norm_on(s, ditto::Device::cpu()); }
void BM_conv_backward_weight_cpu(benchmark::State& s) {
  conv_backward_weight_on(s, ditto::Device::cpu());
}
void BM_matmul_cpu(benchmark::State& s) { matmul_on(s, ditto::Device::cpu()); }
void BM_sum_sim(benchmark::State& s) { sum_on(s, ditto::Device::sim()); }
void BM_matmul_sim(benchmark::State& s) { matmul_on(s, ditto::Device::sim()); }

BENCHMARK(BM_sum_cpu)->ArgsProduct({{24}, {0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_batch_norm_cpu)->ArgsProduct({{24}, {0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_conv_backward_weight_cpu)
    ->ArgsProduct({{24}, {0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_dropout_cpu)->ArgsProduct({{24}, {0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_max_pool2d_cpu)->ArgsProduct({{24}, {0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_avg_pool2d_cpu)->ArgsProduct({{24}, {0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_adaptive_avg_pool2d_cpu)
    ->ArgsProduct({{24}, {0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_interpolate_bilinear_cpu)
    ->ArgsProduct({{24}, {0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_matmul_cpu)->ArgsProduct({{1024}, {0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_sum_sim)->ArgsProduct({{20}, {0, 1}, {1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_matmul_sim)->ArgsProduct({{64}, {0, 1}, {1}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
