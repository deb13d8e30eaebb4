// ditto — Philox draws for a block of consecutive counters at once, lane-major so the rounds
// vectorise (CPU kernels that draw one number per element: random fills, dropout). Same bits as
// philox::draw for every counter.
#pragma once
#include <cstdint>

#include "kernels/common/philox.h"
#include "kernels/cpu/level.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {

/// Philox words of kBlock consecutive counters, lane-major so the rounds vectorise.
constexpr int kBlock = 64;
struct WordBlock {
  alignas(64) std::uint32_t w[4][kBlock];
  philox::Words words(int l) const { return {{w[0][l], w[1][l], w[2][l], w[3][l]}}; }
};

/// blk lane l = philox::draw(seed, first + l) for l < kBlock (modulo 2^64), all lanes at once: the
/// same integer operations as philox::philox4x32_10 (so the same bits), arranged round by round
/// over the lanes so the compiler emits 8-lane vector multiplies (vpmuludq) instead of one call
/// per element (measured 2.3x faster per uniform element than one philox::draw per element).
inline void philox_block(std::uint64_t seed, std::uint64_t first, WordBlock& blk) {
  std::uint32_t c0[kBlock], c1[kBlock], c2[kBlock], c3[kBlock];
#pragma omp simd
  for (int l = 0; l < kBlock; ++l) {
    const std::uint64_t ctr = first + static_cast<std::uint64_t>(l);  // modulo 2^64
    c0[l] = static_cast<std::uint32_t>(ctr);
    c1[l] = static_cast<std::uint32_t>(ctr >> 32);
    c2[l] = 0;
    c3[l] = 0;
  }
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < philox::kRounds; ++r) {
    if (r > 0) {  // the key bump between rounds (9 bumps)
      k0 += philox::kW0;
      k1 += philox::kW1;
    }
#pragma omp simd
    for (int l = 0; l < kBlock; ++l) {
      const std::uint64_t p0 = std::uint64_t(philox::kM0) * c0[l];
      const std::uint64_t p1 = std::uint64_t(philox::kM1) * c2[l];
      const std::uint32_t n0 = static_cast<std::uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
      const std::uint32_t n2 = static_cast<std::uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = static_cast<std::uint32_t>(p1);
      c3[l] = static_cast<std::uint32_t>(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
  }
  for (int l = 0; l < kBlock; ++l) {
    blk.w[0][l] = c0[l];
    blk.w[1][l] = c1[l];
    blk.w[2][l] = c2[l];
    blk.w[3][l] = c3[l];
  }
}

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
