// ditto — CPU matrix-multiply kernel: deterministic (canonical fma chains) vs fast (Eigen).
// Reports FLOP/s (2·M·N·K per product). Arguments: n (square n x n x n), mode (0 deterministic,
// 1 fast), threads, dtype (0 f32, 1 f64).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/threads.h"
#include "kernels/gemm.h"

namespace {

template <typename T>
void run(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const auto mode = state.range(1) == 0 ? ditto::Mode::Deterministic : ditto::Mode::Fast;
  const int prev_threads = ditto::get_num_threads();
  ditto::set_num_threads(static_cast<int>(state.range(2)));
  std::vector<T> a(n * n), b(n * n), c(n * n);  // (n, n) each, row-major
  std::mt19937 gen(42);
  std::uniform_real_distribution<T> dist(-1, 1);
  for (T& x : a) x = dist(gen);
  for (T& x : b) x = dist(gen);
  ditto::kernels::GemmArgs g;
  g.dtype = sizeof(T) == 4 ? ditto::DType::f32 : ditto::DType::f64;
  g.M = g.N = g.K = n;
  g.A = a.data();
  g.a_rs = n;
  g.a_cs = 1;
  g.B = b.data();
  g.b_rs = n;
  g.b_cs = 1;
  g.C = c.data();
  g.c_rs = n;
  g.c_cs = 1;
  for (auto _ : state) {
    ditto::kernels::gemm_kernels(ditto::Device::cpu()).gemm(g, mode);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * double(n) * double(n) * double(n),
                         benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(ditto::mode_name(mode)) + " t" + std::to_string(state.range(2)));
  ditto::set_num_threads(prev_threads);
}

void BM_gemm_f32(benchmark::State& state) { run<float>(state); }
void BM_gemm_f64(benchmark::State& state) { run<double>(state); }

// Wall-clock time: the kernels run their own OpenMP threads.
BENCHMARK(BM_gemm_f32)
    ->ArgsProduct({{256, 512, 1024}, {0, 1}, {1, 2}})
    ->ArgNames({"n", "fast", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_f64)
    ->ArgsProduct({{512}, {0, 1}, {1, 2}})
    ->ArgNames({"n", "fast", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
