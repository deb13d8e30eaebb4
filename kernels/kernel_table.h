// ditto — how a kernel family is declared once and implemented by every backend.
//
// A family (kernels/<family>.h) is a struct of function pointers, `<Family>Kernels`: each entry's
// signature and contract are written there, once. Every backend fills one table of that type at
// the end of its source for the family:
//   - cpu::v2, cpu::v3, cpu::v4: kernels/cpu/<family>.cpp, compiled once per x86-64 level
//     (kernels/cpu/level.h); the level in use is ditto::get_cpu_isa();
//   - sim: kernels/cuda/<family>.cuh compiled by the host compiler against the SIMT simulator
//     (kernels/sim/<family>_sim.cpp);
//   - cuda: the same .cuh compiled by nvcc (kernels/cuda/<family>.cu), when CUDA is compiled.
// Op front ends call `kernels::<family>_kernels(device).<entry>(...)`. A table with a missing
// entry does not compile (designated initialisers, -Werror=missing-field-initializers), a missing
// backend table does not link, a missing backend file fails configuration
// (cmake/DittoChecks.cmake), and a device without kernels in this build raises ditto::Error.
#pragma once

#include "core/device.h"
#include "core/profile_scope.h"

namespace ditto::kernels {

/// Where a device's kernels come from.
enum class Backend : int { cpu_v2, cpu_v3, cpu_v4, sim, cuda };
inline constexpr int kBackendCount = 5;

/// "cpu/v3", "sim", "cuda".
const char* backend_name(Backend b);

/// The backend that runs device `d`'s kernels now (cpu: the level of ditto::get_cpu_isa()).
Backend backend_of(Device d);

/// One family's tables, indexed by Backend; cuda is null when CUDA is not compiled.
template <class Family>
struct FamilyTables {
  const Family* table[kBackendCount];
};

/// Raises the error for a device whose backend has no kernels in this build.
[[noreturn]] void throw_no_kernels(Device d, const char* family);

/// The family's table for device d (ditto::Error naming the family when it has none). Op front
/// ends fetch the table once per kernel call, so pick() counts kernel calls for the profiler
/// (core/profiler.h, "kernels").
template <class Family>
const Family& pick(Device d, const char* family, const FamilyTables<Family>& t) {
  const Family* f = t.table[static_cast<int>(backend_of(d))];
  if (f == nullptr) throw_no_kernels(d, family);
  profile::note_kernel_call(d);
  return *f;
}

}  // namespace ditto::kernels
