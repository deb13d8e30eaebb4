// ditto — index_add kernels (the embedding backward): deterministic (stable sort + segmented sums)
// vs fast (direct accumulation / atomics), called through kernels/index.h.
//   build/bench/bench_index --benchmark_filter=cpu
// Arguments: case (0 = heavy repetition: out (V=1000, D=64) f32, M = 65536 indices drawn from
// only 100 distinct rows; 1 = no repetition: out (V=65536, D=64), M = 65536 distinct indices),
// fast (0 deterministic, 1 fast), threads. The sim cases run the CUDA kernels on the simulator
// (slow by design, small sizes): they compare the two kernels' structure, not a GPU.
// Rates: src bytes read per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "core/threads.h"
#include "kernels/index.h"
#include "kernels/sim/runtime.h"

namespace {

using i64 = std::int64_t;

/// An index_add problem: out (1, V, D), index (M), src (1, M, D), f32, contiguous.
struct Problem {
  i64 V, D, M;
  std::vector<float> out, src;
  std::vector<i64> index;

  /// `distinct` rows named by the index (all rows when distinct == V == M: a permutation).
  Problem(i64 v, i64 d, i64 m, i64 distinct, std::uint64_t seed) : V(v), D(d), M(m) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    out.resize(static_cast<std::size_t>(V * D));
    src.resize(static_cast<std::size_t>(M * D));
    for (float& x : out) x = nd(rng);
    for (float& x : src) x = nd(rng);
    std::vector<i64> rows(static_cast<std::size_t>(V));
    for (i64 k = 0; k < V; ++k) rows[static_cast<std::size_t>(k)] = k;
    std::shuffle(rows.begin(), rows.end(), rng);
    index.resize(static_cast<std::size_t>(M));
    if (distinct == M) {
      std::copy(rows.begin(), rows.begin() + M, index.begin());
    } else {
      std::uniform_int_distribution<i64> pick(0, distinct - 1);
      for (i64& k : index) k = rows[static_cast<std::size_t>(pick(rng))];
    }
  }
  static ditto::kernels::View view3(void* p, i64 a, i64 b, i64 c) {
    ditto::kernels::View v;
    v.data = p;
    v.dtype = ditto::DType::f32;
    v.ndim = 3;
    v.shape[0] = a;
    v.shape[1] = b;
    v.shape[2] = c;
    v.strides[0] = b * c;
    v.strides[1] = c;
    v.strides[2] = 1;
    return v;
  }
  ditto::kernels::View out_view() { return view3(out.data(), 1, V, D); }
  ditto::kernels::View src_view() { return view3(src.data(), 1, M, D); }
  ditto::kernels::View index_view() {
    ditto::kernels::View v;
    v.data = index.data();
    v.dtype = ditto::DType::i64;
    v.ndim = 1;
    v.shape[0] = M;
    v.strides[0] = 1;
    return v;
  }
};

ditto::Mode mode_of(const benchmark::State& s) {
  return s.range(1) == 0 ? ditto::Mode::Deterministic : ditto::Mode::Fast;
}

void BM_index_add_cpu(benchmark::State& s) {
  const int prev = ditto::get_num_threads();
  ditto::set_num_threads(static_cast<int>(s.range(2)));
  Problem p = s.range(0) == 0 ? Problem(1000, 64, 65536, 100, 1) : Problem(65536, 64, 65536, 65536, 2);
  const auto out = p.out_view(), ix = p.index_view(), src = p.src_view();
  const ditto::Mode mode = mode_of(s);
  for (auto _ : s) {
    ditto::kernels::index_kernels(ditto::Device::cpu()).index_add(mode, out, ix, src);
    benchmark::DoNotOptimize(p.out.data());
    benchmark::ClobberMemory();
  }
  s.SetBytesProcessed(s.iterations() * p.M * p.D * 4);
  s.SetLabel(s.range(0) == 0 ? "repeat100" : "distinct");
  ditto::set_num_threads(prev);
}

void BM_index_add_sim(benchmark::State& s) {
  // out (100, 16), M = 2048 indices over 20 distinct rows.
  Problem p(100, 16, 2048, 20, 3);
  const auto out = p.out_view(), ix = p.index_view(), src = p.src_view();
  const ditto::Mode mode = mode_of(s);
  for (auto _ : s) {
    ditto::kernels::index_kernels(ditto::Device::sim()).index_add(mode, out, ix, src);
    benchmark::DoNotOptimize(p.out.data());
    benchmark::ClobberMemory();
  }
  s.SetBytesProcessed(s.iterations() * p.M * p.D * 4);
  s.SetLabel("repeat20");
}

BENCHMARK(BM_index_add_cpu)
    ->ArgsProduct({{0, 1}, {0, 1}, {1, 2}})
    ->ArgNames({"case", "fast", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_index_add_sim)
    ->ArgsProduct({{0}, {0, 1}})
    ->ArgNames({"case", "fast"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
