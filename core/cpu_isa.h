// ditto — the x86-64 instruction-set level the CPU kernels run at. The CPU kernels
// (kernels/cpu/) are compiled once per level into their own namespace; one of them is chosen at
// run time. Deterministic results have the same bits on every level (docs/determinism.md,
// "Instruction-set levels"); Fast-mode results may differ between levels.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ditto {

/// The x86-64 micro-architecture levels (psABI): v2 = SSE4.2 + POPCNT (the baseline ditto
/// requires), v3 = AVX2 + FMA + BMI2, v4 = AVX-512 F/BW/CD/DQ/VL.
enum class CpuIsa : std::uint8_t { v2 = 2, v3 = 3, v4 = 4 };

/// "v2", "v3" or "v4" (the spelling DITTO_CPU_ISA accepts).
constexpr std::string_view cpu_isa_name(CpuIsa isa) {
  return isa == CpuIsa::v2 ? "v2" : isa == CpuIsa::v3 ? "v3" : "v4";
}
/// Parses "v2" / "v3" / "v4" (also "x86-64-v3"); nullopt for anything else.
std::optional<CpuIsa> parse_cpu_isa(std::string_view s);

/// True when this CPU and its operating system can run code compiled for `isa` (cpuid feature
/// bits, and xgetbv for the AVX / AVX-512 register state).
bool cpu_isa_supported(CpuIsa isa);
/// The levels this machine can run, ascending (v2 is always first: ditto needs it).
std::vector<CpuIsa> cpu_isas_supported();

/// The level the CPU kernels run at. Decided on first use: the value of the environment variable
/// DITTO_CPU_ISA when set (ditto::Error if the value is unknown or the CPU lacks that level),
/// otherwise the highest level the CPU supports.
CpuIsa get_cpu_isa();
/// Switches the level for the whole process (tests, benchmarks, `ditto train --cpu-isa`).
/// Throws ditto::Error when the CPU lacks it. Call it between ops, not while kernels run on
/// other threads.
void set_cpu_isa(CpuIsa isa);

/// Scoped set_cpu_isa; restores the previous level on destruction.
class CpuIsaGuard {
 public:
  explicit CpuIsaGuard(CpuIsa isa);
  ~CpuIsaGuard();
  CpuIsaGuard(const CpuIsaGuard&) = delete;
  CpuIsaGuard& operator=(const CpuIsaGuard&) = delete;

 private:
  CpuIsa prev_;
};

}  // namespace ditto
