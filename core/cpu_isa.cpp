#include "core/cpu_isa.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace ditto {
namespace {

struct Cpuid {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Cpuid cpuid(unsigned leaf, unsigned subleaf = 0) {
  Cpuid r;
  if (!__get_cpuid_count(leaf, subleaf, &r.a, &r.b, &r.c, &r.d)) return Cpuid{};
  return r;
}

// XCR0: which register state the OS saves on a context switch. AVX needs XMM|YMM (bits 1, 2),
// AVX-512 also opmask|ZMM_Hi256|Hi16_ZMM (bits 5, 6, 7). Only valid when OSXSAVE is set.
std::uint64_t xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t{hi} << 32) | lo;
}

bool bit(unsigned word, int i) { return (word >> i) & 1u; }

// Feature sets of the psABI levels (x86-64 psABI, "Micro-architecture levels").
int detect_level() {
  const Cpuid l1 = cpuid(1);
  const Cpuid l7 = cpuid(7, 0);
  const Cpuid e1 = cpuid(0x80000001);
  const bool v2 = bit(l1.c, 0) /*sse3*/ && bit(l1.c, 9) /*ssse3*/ && bit(l1.c, 13) /*cx16*/ &&
                  bit(l1.c, 19) /*sse4.1*/ && bit(l1.c, 20) /*sse4.2*/ &&
                  bit(l1.c, 23) /*popcnt*/ && bit(e1.c, 0) /*lahf*/;
  if (!v2) return 1;
  const bool osxsave = bit(l1.c, 27);
  const std::uint64_t x = osxsave ? xcr0() : 0;
  const bool ymm_state = (x & 0x6) == 0x6;
  const bool v3 = ymm_state && bit(l1.c, 28) /*avx*/ && bit(l1.c, 12) /*fma*/ &&
                  bit(l1.c, 29) /*f16c*/ && bit(l1.c, 22) /*movbe*/ && bit(l1.c, 26) /*xsave*/ &&
                  bit(l7.b, 3) /*bmi1*/ && bit(l7.b, 5) /*avx2*/ && bit(l7.b, 8) /*bmi2*/ &&
                  bit(e1.c, 5) /*lzcnt*/;
  if (!v3) return 2;
  const bool zmm_state = (x & 0xE6) == 0xE6;
  const bool v4 = zmm_state && bit(l7.b, 16) /*avx512f*/ && bit(l7.b, 17) /*avx512dq*/ &&
                  bit(l7.b, 28) /*avx512cd*/ && bit(l7.b, 30) /*avx512bw*/ &&
                  bit(l7.b, 31) /*avx512vl*/;
  return v4 ? 4 : 3;
}

int machine_level() {
  static const int level = detect_level();
  return level;
}

CpuIsa initial_isa() {
  const char* env = std::getenv("DITTO_CPU_ISA");
  if (env == nullptr || *env == '\0') {
    // v1-only CPUs cannot run the library's baseline code at all; report v2 and let the first
    // SSE4.2 instruction fail, as any x86-64-v2 program would.
    return machine_level() >= 4 ? CpuIsa::v4 : machine_level() == 3 ? CpuIsa::v3 : CpuIsa::v2;
  }
  const std::optional<CpuIsa> isa = parse_cpu_isa(env);
  DITTO_CHECK(isa.has_value(), "DITTO_CPU_ISA=", std::string(env),
              ": unknown level (use v2, v3 or v4)");
  DITTO_CHECK(cpu_isa_supported(*isa), "DITTO_CPU_ISA=", std::string(env),
              ": this CPU lacks x86-64-", cpu_isa_name(*isa), " (it supports up to x86-64-v",
              machine_level(), ")");
  return *isa;
}

// 0 = not decided yet; otherwise the level's number.
std::atomic<int> g_isa{0};

}  // namespace

std::optional<CpuIsa> parse_cpu_isa(std::string_view s) {
  if (s.substr(0, 7) == "x86-64-") s.remove_prefix(7);
  if (s == "v2") return CpuIsa::v2;
  if (s == "v3") return CpuIsa::v3;
  if (s == "v4") return CpuIsa::v4;
  return std::nullopt;
}

bool cpu_isa_supported(CpuIsa isa) { return machine_level() >= static_cast<int>(isa); }

std::vector<CpuIsa> cpu_isas_supported() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : {CpuIsa::v2, CpuIsa::v3, CpuIsa::v4}) {
    if (cpu_isa_supported(isa)) out.push_back(isa);
  }
  if (out.empty()) out.push_back(CpuIsa::v2);
  return out;
}

CpuIsa get_cpu_isa() {
  int v = g_isa.load(std::memory_order_acquire);
  if (v == 0) {
    // Racing first calls compute the same answer; an invalid DITTO_CPU_ISA throws every time.
    v = static_cast<int>(initial_isa());
    g_isa.store(v, std::memory_order_release);
  }
  return static_cast<CpuIsa>(v);
}

void set_cpu_isa(CpuIsa isa) {
  DITTO_CHECK(cpu_isa_supported(isa), "set_cpu_isa: this CPU lacks x86-64-", cpu_isa_name(isa),
              " (it supports up to x86-64-v", machine_level(), ")");
  g_isa.store(static_cast<int>(isa), std::memory_order_release);
}

CpuIsaGuard::CpuIsaGuard(CpuIsa isa) : prev_(get_cpu_isa()) { set_cpu_isa(isa); }
CpuIsaGuard::~CpuIsaGuard() { g_isa.store(static_cast<int>(prev_), std::memory_order_release); }

}  // namespace ditto
