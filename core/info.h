// ditto — build information: how this copy of the library was compiled (for `ditto info`,
// bug reports, and programs that log the configuration their results came from).
#pragma once
#include <string_view>

namespace ditto {

/// Facts fixed when the library was built. String views point at static storage.
struct BuildInfo {
  std::string_view version;     ///< "0.1.0"
  std::string_view compiler;    ///< host C++ compiler, e.g. "GNU 12.2.0"
  std::string_view build_type;  ///< "Release", "RelWithDebInfo", "Debug", ...
  /// Flags ditto's own C++ sources were compiled with (build type, -march, -ffp-contract,
  /// OpenMP, sanitizers, ...).
  std::string_view cxx_flags;
  std::string_view cpu_arch;  ///< value of -march; empty = the compiler's default
  /// Self-test of the compiled library: true when `x*x - y` was evaluated as two rounded
  /// operations (no fused multiply-add contraction by the compiler), as the contract requires.
  bool fp_contract_off = true;
  int openmp = 0;                  ///< _OPENMP (yyyymm) ditto was compiled with; 0 = no OpenMP
  bool cuda_enabled = false;       ///< configured with DITTO_CUDA=ON (an nvcc was found)
  bool cuda_compiled = false;      ///< CUDA kernels are compiled into this library
  std::string_view cuda_archs;     ///< "80,90" when cuda_enabled, else empty
  std::string_view cuda_compiler;  ///< e.g. "NVIDIA 13.0.88" when cuda_enabled, else empty
  std::string_view sanitizers;     ///< e.g. "address,undefined"; empty = none
};

/// How this library was built.
BuildInfo build_info();

/// The library version, "MAJOR.MINOR.PATCH".
std::string_view version();

}  // namespace ditto
