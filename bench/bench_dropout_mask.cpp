// ditto — how dropout's keep mask is stored: one byte per element (what kernels/dropout.h does)
// or one bit. Both variants here run the same Deterministic forward (Philox block draws, the
// keep test, (x * keep) * scale) and backward ((g * keep) * scale) over 2^24 f32 values and
// differ only in the mask's layout, so the ratio is the cost of the layout alone.
// Arguments: /<0 = u8, 1 = bits>/<threads>.
//   build/bench/bench_dropout_mask --benchmark_repetitions=5
//   --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/common/philox.h"
#include "kernels/cpu/philox_block.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

using i64 = std::int64_t;
namespace k = ditto::kernels::cpu::DITTO_CPU_NS;
namespace philox = ditto::philox;  // outside a CPU variant (kernels/common/philox.h)

constexpr i64 kN = i64{1} << 24;
constexpr float kKeepBelow = 0.75f, kScale = 1.0f / 0.75f;

template <bool kBits>
void forward(const float* x, float* out, std::uint8_t* mask, int threads) {
  const i64 blocks = kN / k::kBlock;  // kBlock = 64 elements: 8 mask bytes as bits
#pragma omp parallel for num_threads(threads) schedule(static)
  for (i64 b = 0; b < blocks; ++b) {
    k::WordBlock blk;
    k::philox_block(1234, static_cast<std::uint64_t>(b * k::kBlock), blk);
    const i64 i0 = b * k::kBlock;
    for (int l = 0; l < k::kBlock; ++l) {
      const bool keep = philox::uniform01<float>(blk.words(l)) < kKeepBelow;
      out[i0 + l] = (x[i0 + l] * float(keep ? 1 : 0)) * kScale;
      if constexpr (kBits) {
        std::uint8_t& m = mask[(i0 + l) / 8];
        if (l % 8 == 0) m = 0;
        m = static_cast<std::uint8_t>(m | (keep ? 1u : 0u) << (l % 8));
      } else {
        mask[i0 + l] = keep ? 1 : 0;
      }
    }
  }
}

template <bool kBits>
void backward(const float* g, const std::uint8_t* mask, float* dx, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (i64 i = 0; i < kN; ++i) {
    const unsigned keep = kBits ? (mask[i / 8] >> (i % 8)) & 1u : mask[i];
    dx[i] = (g[i] * float(keep)) * kScale;
  }
}

void BM_dropout_mask(benchmark::State& s) {
  const bool bits = s.range(0) == 1;
  const int threads = static_cast<int>(s.range(1));
  std::vector<float> x(kN, 1.5f), out(kN), g(kN, 0.5f), dx(kN);
  std::vector<std::uint8_t> mask(bits ? kN / 8 : kN);
  for (auto _ : s) {
    if (bits) {
      forward<true>(x.data(), out.data(), mask.data(), threads);
      backward<true>(g.data(), mask.data(), dx.data(), threads);
    } else {
      forward<false>(x.data(), out.data(), mask.data(), threads);
      backward<false>(g.data(), mask.data(), dx.data(), threads);
    }
    benchmark::DoNotOptimize(dx.data());
  }
  s.SetLabel(std::string(bits ? "1-bit mask" : "u8 mask") + ", " + std::to_string(threads) +
             " thread(s)");
}

}  // namespace

BENCHMARK(BM_dropout_mask)->ArgsProduct({{0, 1}, {1, 2}})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
