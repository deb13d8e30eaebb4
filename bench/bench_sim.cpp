// ditto — SIMT simulator costs: one launch of a 2^20-element sum (256-thread blocks) per schedule
// and worker count, the fiber-switch rate inside barrier-heavy blocks, and the raw context switch.
// Arguments of the launch benchmarks: order (0 in-order, 1 random), workers.
// Run: build/bench/bench_sim (or the standalone command in kernels/sim/README.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/sim/fiber.h"
#include "kernels/cuda/launch.h"
#include "kernels/sim/runtime.h"

namespace {

// The first pass of a deterministic sum: a fixed pairwise tree per 256-element block
// (8 barriers per block).
__global__ void block_sum_256(const float* x, int n, float* partials) {
  __shared__ float s[256];
  const int i = blockIdx.x * 256 + threadIdx.x;
  s[threadIdx.x] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int stride = 128; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride)
      s[threadIdx.x] = s[threadIdx.x] + s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = s[0];
}

// The fast-mode sum: one atomicAdd per element.
__global__ void atomic_sum(const float* x, int n, float* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(out, x[i]);
}

// Nothing but barriers: every barrier switches through every thread of the block.
__global__ void barriers(int rounds) {
  for (int r = 0; r < rounds; ++r) __syncthreads();
}

std::vector<float> inputs(int n) {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = d(gen);
  return x;
}

ditto::sim::Schedule schedule_of(const benchmark::State& state) {
  return {state.range(0) == 0 ? ditto::sim::Order::kInOrder : ditto::sim::Order::kRandom, 1};
}

void add_switch_counters(benchmark::State& state, const ditto::sim::Stats& before) {
  const ditto::sim::Stats after = ditto::sim::get_stats();
  state.counters["switches/s"] = benchmark::Counter(
      static_cast<double>(after.switches - before.switches), benchmark::Counter::kIsRate);
  state.counters["threads/s"] = benchmark::Counter(
      static_cast<double>(after.threads - before.threads), benchmark::Counter::kIsRate);
}

void BM_sum_pass1_2p20(benchmark::State& state) {
  ditto::sim::ScheduleGuard g(schedule_of(state), static_cast<int>(state.range(1)));
  const int n = 1 << 20;
  const std::vector<float> x = inputs(n);
  std::vector<float> partials(n / 256);
  const ditto::sim::Stats before = ditto::sim::get_stats();
  for (auto _ : state) {
    ditto::gpu::launch(block_sum_256, dim3(n / 256), dim3(256), 0, x.data(), n, partials.data());
    benchmark::DoNotOptimize(partials.data());
  }
  add_switch_counters(state, before);
}
// Real time: with two workers, half the work runs on a pool thread the CPU timer does not see.
BENCHMARK(BM_sum_pass1_2p20)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_atomic_sum_2p20(benchmark::State& state) {
  ditto::sim::ScheduleGuard g(schedule_of(state), static_cast<int>(state.range(1)));
  const int n = 1 << 20;
  const std::vector<float> x = inputs(n);
  float sum = 0.0f;
  const ditto::sim::Stats before = ditto::sim::get_stats();
  for (auto _ : state) {
    sum = 0.0f;
    ditto::gpu::launch(atomic_sum, dim3(n / 256), dim3(256), 0, x.data(), n, &sum);
    benchmark::DoNotOptimize(sum);
  }
  add_switch_counters(state, before);
}
BENCHMARK(BM_atomic_sum_2p20)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Blocks of `threads` (third argument) doing 64 barriers: dominated by fiber switches.
void BM_barrier_switches(benchmark::State& state) {
  ditto::sim::ScheduleGuard g(schedule_of(state), static_cast<int>(state.range(1)));
  const int threads = static_cast<int>(state.range(2));
  const ditto::sim::Stats before = ditto::sim::get_stats();
  for (auto _ : state)
    ditto::gpu::launch(barriers, dim3(64 * 1024 / threads), dim3(threads), 0, 64);
  add_switch_counters(state, before);
}
BENCHMARK(BM_barrier_switches)
    ->ArgsProduct({{0, 1}, {1, 2}, {32, 256, 1024}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The bare context switch: two fibers ping-pong (each iteration = 2 switches).
namespace raw {
using ditto::sim::detail::Context;
Context main_ctx, a_ctx, b_ctx;
std::uint64_t remaining = 0;
[[noreturn]] void a_entry() {
  ditto::sim::detail::on_fiber_start();
  for (;;) {
    if (remaining == 0) ditto::sim::detail::switch_context(a_ctx, main_ctx);
    --remaining;
    ditto::sim::detail::switch_context(a_ctx, b_ctx);
  }
}
[[noreturn]] void b_entry() {
  ditto::sim::detail::on_fiber_start();
  for (;;) ditto::sim::detail::switch_context(b_ctx, a_ctx);
}
}  // namespace raw

void BM_raw_context_switch(benchmark::State& state) {
  ditto::sim::detail::Stack sa(64 * 1024), sb(64 * 1024);
  ditto::sim::detail::init_thread_context(raw::main_ctx);
  ditto::sim::detail::prepare_context(raw::a_ctx, sa, &raw::a_entry);
  ditto::sim::detail::prepare_context(raw::b_ctx, sb, &raw::b_entry);
  const std::uint64_t per_batch = 1 << 20;
  std::uint64_t switches = 0;
  for (auto _ : state) {
    raw::remaining = per_batch;
    ditto::sim::detail::switch_context(raw::main_ctx, raw::a_ctx);
    switches += 2 * per_batch + 2;
  }
  state.counters["switches/s"] =
      benchmark::Counter(static_cast<double>(switches), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_raw_context_switch)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
