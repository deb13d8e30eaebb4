// ditto — which x86-64 level this CPU kernel source is being compiled for. CMake compiles every
// kernels/cpu/*.cpp three times, with -march=x86-64-v<N> and DITTO_CPU_VARIANT=<N> (N = 2, 3, 4),
// into the namespace ditto::kernels::cpu::v<N> (DITTO_CPU_NS). Every inline function those
// sources share (canonical_sum.h, strided_loop.h, parallel.h, and dmath.h / philox.h, which also
// serve the GPU code) is defined inside that namespace too: with one shared copy, the linker could
// keep the AVX-512 one for everybody. CMake also makes every other symbol of a variant local
// (cmake/DittoCpuVariants.cmake) — the standard library's and Eigen's templates included.
// Code outside the variants (tests that include canonical_sum.h) sees the baseline, v2.
#pragma once

#if !defined(DITTO_CPU_VARIANT) || DITTO_CPU_VARIANT == 2
#define DITTO_CPU_NS v2
#elif DITTO_CPU_VARIANT == 3
#define DITTO_CPU_NS v3
#elif DITTO_CPU_VARIANT == 4
#define DITTO_CPU_NS v4
#else
#error "DITTO_CPU_VARIANT must be 2, 3 or 4"
#endif
