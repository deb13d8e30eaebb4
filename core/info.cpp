#include "core/info.h"

// The DITTO_INFO_* macros are set by CMakeLists.txt on this file only. The fallbacks let the file
// compile in a standalone build (e.g. a scratch test driver) with obviously-unknown values.
#ifndef DITTO_INFO_VERSION
#define DITTO_INFO_VERSION "unknown"
#endif
#ifndef DITTO_INFO_COMPILER
#define DITTO_INFO_COMPILER "unknown"
#endif
#ifndef DITTO_INFO_BUILD_TYPE
#define DITTO_INFO_BUILD_TYPE "unknown"
#endif
#ifndef DITTO_INFO_CXX_FLAGS
#define DITTO_INFO_CXX_FLAGS "unknown"
#endif
#ifndef DITTO_INFO_CPU_ARCH
#define DITTO_INFO_CPU_ARCH ""
#endif
#ifndef DITTO_INFO_CUDA_ENABLED
#define DITTO_INFO_CUDA_ENABLED 0
#endif
#ifndef DITTO_INFO_CUDA_ARCHS
#define DITTO_INFO_CUDA_ARCHS ""
#endif
#ifndef DITTO_INFO_CUDA_COMPILER
#define DITTO_INFO_CUDA_COMPILER ""
#endif
#ifndef DITTO_INFO_SANITIZERS
#define DITTO_INFO_SANITIZERS ""
#endif
#ifndef DITTO_CUDA_COMPILED
#define DITTO_CUDA_COMPILED 0
#endif

// This file is compiled with the library's flags, so it guards them: fast-math would make every
// bitwise promise void.
#ifdef __FAST_MATH__
#error "ditto must not be compiled with -ffast-math (see docs/design.md, the determinism contract)"
#endif

namespace ditto {

namespace {

// x = 1 + 2^-30, so x*x = 1 + 2^-29 + 2^-60 exactly. Rounded to double, x*x is 1 + 2^-29 and
// x*x - (1 + 2^-29) is 0; if the compiler contracts the expression into fma(x, x, -y), the 2^-60
// survives. volatile keeps the operands out of constant folding.
bool contraction_is_off() {
  volatile double xv = 1.0 + 0x1p-30;
  volatile double yv = 1.0 + 0x1p-29;
  double x = xv, y = yv;
  double r = x * x - y;
  return r == 0.0;
}

}  // namespace

BuildInfo build_info() {
  BuildInfo b;
  b.version = DITTO_INFO_VERSION;
  b.compiler = DITTO_INFO_COMPILER;
  b.build_type = DITTO_INFO_BUILD_TYPE;
  b.cxx_flags = DITTO_INFO_CXX_FLAGS;
  b.cpu_arch = DITTO_INFO_CPU_ARCH;
  b.fp_contract_off = contraction_is_off();
#ifdef _OPENMP
  b.openmp = _OPENMP;
#endif
  b.cuda_enabled = DITTO_INFO_CUDA_ENABLED != 0;
  b.cuda_compiled = DITTO_CUDA_COMPILED != 0;
  b.cuda_archs = DITTO_INFO_CUDA_ARCHS;
  b.cuda_compiler = DITTO_INFO_CUDA_COMPILER;
  b.sanitizers = DITTO_INFO_SANITIZERS;
  return b;
}

std::string_view version() { return DITTO_INFO_VERSION; }

}  // namespace ditto
