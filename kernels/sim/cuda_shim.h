// ditto — the CUDA shim: one kernel source, two compilers.
//
// Every file in kernels/cuda/ includes this header first. Under nvcc (__CUDACC__) it is a thin
// layer over real CUDA. Under the host compiler it defines DITTO_SIM and provides the CUDA
// keywords, built-in index variables, barriers, warp shuffles/votes, atomics and fences, backed by
// the SIMT simulator (kernels/sim/runtime.cpp): every CUDA thread is a fiber, so barriers and warp
// collectives are real rendezvous points. What is (not) supported: kernels/sim/README.md.
//
// Portable helpers defined in both modes:
//   ditto_dynamic_smem<T>()     the block's dynamic shared memory (the launch's `dyn_smem` bytes)
//   DITTO_UNROLL                `#pragma unroll` (nothing under g++, which would warn about it)
//   DITTO_KERNEL_ASSERT(cond)   assert in kernels; on sim a failure aborts the launch with a
//                               ditto::Error instead of the process (plain `assert` aborts on sim)
#pragma once

#if defined(__CUDACC__)
// =================================== real CUDA ===================================
#include <cuda_runtime.h>

#include <cassert>
#include <cstdio>

#define DITTO_KERNEL_ASSERT(cond) assert(cond)
/// `#pragma unroll`, spelled so that the host compiler accepts it silently.
#define DITTO_UNROLL _Pragma("unroll")

/// The block's dynamic shared memory, typed. One `extern __shared__` array for all types, as CUDA
/// requires; 16-byte aligned.
template <class T>
__device__ __forceinline__ T* ditto_dynamic_smem() {
  extern __shared__ __align__(16) unsigned char ditto_dynamic_smem_bytes_[];
  return reinterpret_cast<T*>(ditto_dynamic_smem_bytes_);
}

/// CUDA has no signed 64-bit atomicAdd; in two's complement the unsigned one gives the same bits.
/// (The simulator provides the same overload, so kernels may use it on both.)
__device__ __forceinline__ long long atomicAdd(long long* address, long long val) {
  return static_cast<long long>(atomicAdd(reinterpret_cast<unsigned long long*>(address),
                                          static_cast<unsigned long long>(val)));
}

#else
// ============================ host compiler: the simulator ============================
#define DITTO_SIM 1

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "kernels/sim/runtime.h"

// `#pragma unroll` is unknown to GCC (a -Wunknown-pragmas warning that GCC 12 cannot silence from
// a header): write DITTO_UNROLL instead.
#if defined(__clang__)
#define DITTO_UNROLL _Pragma("unroll")
#else
#define DITTO_UNROLL
#endif

// ---- keywords. (Never define __noinline__: libstdc++ spells __attribute__((__noinline__)).) ----
#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __forceinline__
#define __global__
#define __device__
#define __host__
#define __forceinline__ __inline__ __attribute__((always_inline))
// Static shared memory: one instance per OS thread. All threads of a block run on one OS thread
// (a worker), so they share it; blocks on other workers have their own. Already static at block
// scope, so `static __shared__` keeps working (a `static thread_local` here would break it).
#define __shared__ thread_local
// Read-only tables with initialisers only (there is no cudaMemcpyToSymbol on sim).
#define __constant__
#define __launch_bounds__(...)
#define __grid_constant__
#ifndef __align__
#define __align__(n) __attribute__((aligned(n)))
#endif

// ---- dim3, uint3 and the small vector types: equivalent definitions, or CUDA's own
// <vector_types.h> when DITTO_SIM_CUDA_VECTOR_TYPES is defined (needs the CUDA include directory;
// lets cuda_fp16.h etc. be mixed in). Define it for all sim translation units of a program or
// for none. ----
#if defined(DITTO_SIM_CUDA_VECTOR_TYPES)
#include <vector_functions.h>
#include <vector_types.h>
#else
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned int x, y;
};
struct alignas(16) uint4 {
  unsigned int x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return {x, y}; }
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) {
  return {x, y, z, w};
}
#endif

// ---- built-in variables. threadIdx is rewritten by the scheduler at every fiber switch; the
// others at every block start. ----
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace ditto::sim::detail {
template <class T>
inline std::uint64_t to_bits(const T& v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "sim: warp shuffles/votes take trivially copyable values of at most 8 bytes");
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
inline T from_bits(std::uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}
template <class T>
inline T shuffle(int kind, unsigned mask, T var, int arg, int width, const char* file, int line) {
  return from_bits<T>(warp_collective(kind, mask, to_bits(var), sizeof(T), arg, width, file, line));
}
// Atomics: real hardware atomics (blocks on other workers run concurrently), preceded by a yield
// point so the random schedule interleaves them within a block.
template <class T>
inline T atomic_add_int(T* p, T v) {
  atomic_point();
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
template <class T, class F>
inline T atomic_update(T* p, F f) {  // CAS loop for operations without a native instruction
  atomic_point();
  T old;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  T desired = f(old);
  while (!__atomic_compare_exchange(p, &old, &desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    desired = f(old);
  }
  return old;
}
template <class T>
inline T atomic_exch(T* p, T v) {
  atomic_point();
  T old;
  __atomic_exchange(p, &v, &old, __ATOMIC_RELAXED);
  return old;
}
template <class T>
inline T atomic_cas(T* p, T compare, T v) {
  atomic_point();
  __atomic_compare_exchange(p, &compare, &v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;  // holds the old value whether or not the exchange happened
}
}  // namespace ditto::sim::detail

// ---- barriers (default arguments record the call site: divergent barriers are diagnosed) ----
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ditto::sim::detail::barrier(ditto::sim::detail::kBarrierPlain, 1, file, line);
}
inline int __syncthreads_count(int pred, const char* file = __builtin_FILE(),
                               int line = __builtin_LINE()) {
  return ditto::sim::detail::barrier(ditto::sim::detail::kBarrierCount, pred, file, line);
}
inline int __syncthreads_and(int pred, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  return ditto::sim::detail::barrier(ditto::sim::detail::kBarrierAnd, pred, file, line);
}
inline int __syncthreads_or(int pred, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE()) {
  return ditto::sim::detail::barrier(ditto::sim::detail::kBarrierOr, pred, file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  ditto::sim::detail::warp_collective(ditto::sim::detail::kWarpSync, mask, 0, 0, 0, warpSize, file,
                                      line);
}

// ---- warp shuffles (CUDA Programming Guide, "Warp Shuffle Functions"; the lane arithmetic is
// PTX shfl.sync's, which uses the low 5 bits of srcLane/delta/laneMask). A source lane outside
// `mask` (or absent in a partial warp) yields all-ones bits: undefined on hardware, NaN here. ----
template <class T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ditto::sim::detail::shuffle(ditto::sim::detail::kShflIdx, mask, var, srcLane, width, file,
                                     line);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned int delta, int width = warpSize,
                        const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ditto::sim::detail::shuffle(ditto::sim::detail::kShflUp, mask, var,
                                     static_cast<int>(delta), width, file, line);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned int delta, int width = warpSize,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ditto::sim::detail::shuffle(ditto::sim::detail::kShflDown, mask, var,
                                     static_cast<int>(delta), width, file, line);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ditto::sim::detail::shuffle(ditto::sim::detail::kShflXor, mask, var, laneMask, width, file,
                                     line);
}

// ---- votes, match, reduce ----
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(ditto::sim::detail::warp_collective(
      ditto::sim::detail::kBallot, mask, pred != 0, 4, 0, warpSize, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(ditto::sim::detail::warp_collective(
      ditto::sim::detail::kAny, mask, pred != 0, 4, 0, warpSize, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(ditto::sim::detail::warp_collective(
      ditto::sim::detail::kAll, mask, pred != 0, 4, 0, warpSize, file, line));
}
/// On sim: the lanes of the warp that exist and have not exited (there is no divergence).
inline unsigned __activemask() { return ditto::sim::detail::active_mask(); }
template <class T>
inline unsigned __match_any_sync(unsigned mask, T value, const char* file = __builtin_FILE(),
                                 int line = __builtin_LINE()) {
  return static_cast<unsigned>(ditto::sim::detail::warp_collective(
      ditto::sim::detail::kMatchAny, mask, ditto::sim::detail::to_bits(value), sizeof(T), 0,
      warpSize, file, line));
}
template <class T>
inline unsigned __match_all_sync(unsigned mask, T value, int* pred,
                                 const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  const std::uint64_t r = ditto::sim::detail::warp_collective(ditto::sim::detail::kMatchAll, mask,
                                                              ditto::sim::detail::to_bits(value),
                                                              sizeof(T), 0, warpSize, file, line);
  *pred = static_cast<int>(r >> 32);
  return static_cast<unsigned>(r);
}
#define DITTO_SIM_WARP_REDUCE(name, T, kind)                                                     \
  inline T name(unsigned mask, T value, const char* file = __builtin_FILE(),                     \
                int line = __builtin_LINE()) {                                                   \
    return static_cast<T>(ditto::sim::detail::warp_collective(ditto::sim::detail::kind, mask,    \
                                                              static_cast<std::uint32_t>(value), \
                                                              4, 0, warpSize, file, line));      \
  }
DITTO_SIM_WARP_REDUCE(__reduce_add_sync, unsigned, kReduceAddU)
DITTO_SIM_WARP_REDUCE(__reduce_add_sync, int, kReduceAddU)
DITTO_SIM_WARP_REDUCE(__reduce_min_sync, unsigned, kReduceMinU)
DITTO_SIM_WARP_REDUCE(__reduce_min_sync, int, kReduceMinI)
DITTO_SIM_WARP_REDUCE(__reduce_max_sync, unsigned, kReduceMaxU)
DITTO_SIM_WARP_REDUCE(__reduce_max_sync, int, kReduceMaxI)
DITTO_SIM_WARP_REDUCE(__reduce_and_sync, unsigned, kReduceAnd)
DITTO_SIM_WARP_REDUCE(__reduce_or_sync, unsigned, kReduceOr)
DITTO_SIM_WARP_REDUCE(__reduce_xor_sync, unsigned, kReduceXor)
#undef DITTO_SIM_WARP_REDUCE

// ---- atomics (return the old value, like CUDA) ----
inline int atomicAdd(int* p, int v) { return ditto::sim::detail::atomic_add_int(p, v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  return ditto::sim::detail::atomic_add_int(p, v);
}
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return ditto::sim::detail::atomic_add_int(p, v);
}
inline long long atomicAdd(long long* p, long long v) {
  return ditto::sim::detail::atomic_add_int(p, v);
}
inline float atomicAdd(float* p, float v) {
  return ditto::sim::detail::atomic_update(p, [v](float o) { return o + v; });
}
inline double atomicAdd(double* p, double v) {
  return ditto::sim::detail::atomic_update(p, [v](double o) { return o + v; });
}
inline int atomicSub(int* p, int v) {
  ditto::sim::detail::atomic_point();
  return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED);
}
inline unsigned atomicSub(unsigned* p, unsigned v) {
  ditto::sim::detail::atomic_point();
  return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED);
}
inline int atomicExch(int* p, int v) { return ditto::sim::detail::atomic_exch(p, v); }
inline unsigned atomicExch(unsigned* p, unsigned v) {
  return ditto::sim::detail::atomic_exch(p, v);
}
inline unsigned long long atomicExch(unsigned long long* p, unsigned long long v) {
  return ditto::sim::detail::atomic_exch(p, v);
}
inline float atomicExch(float* p, float v) { return ditto::sim::detail::atomic_exch(p, v); }
inline int atomicCAS(int* p, int compare, int v) {
  return ditto::sim::detail::atomic_cas(p, compare, v);
}
inline unsigned atomicCAS(unsigned* p, unsigned compare, unsigned v) {
  return ditto::sim::detail::atomic_cas(p, compare, v);
}
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long compare,
                                    unsigned long long v) {
  return ditto::sim::detail::atomic_cas(p, compare, v);
}
inline unsigned short atomicCAS(unsigned short* p, unsigned short compare, unsigned short v) {
  return ditto::sim::detail::atomic_cas(p, compare, v);
}
#define DITTO_SIM_ATOMIC_MINMAX(T)                                                   \
  inline T atomicMin(T* p, T v) {                                                    \
    return ditto::sim::detail::atomic_update(p, [v](T o) { return v < o ? v : o; }); \
  }                                                                                  \
  inline T atomicMax(T* p, T v) {                                                    \
    return ditto::sim::detail::atomic_update(p, [v](T o) { return v > o ? v : o; }); \
  }
DITTO_SIM_ATOMIC_MINMAX(int)
DITTO_SIM_ATOMIC_MINMAX(unsigned)
DITTO_SIM_ATOMIC_MINMAX(unsigned long long)
DITTO_SIM_ATOMIC_MINMAX(long long)
#undef DITTO_SIM_ATOMIC_MINMAX
#define DITTO_SIM_ATOMIC_BITS(T)                       \
  inline T atomicAnd(T* p, T v) {                      \
    ditto::sim::detail::atomic_point();                \
    return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); \
  }                                                    \
  inline T atomicOr(T* p, T v) {                       \
    ditto::sim::detail::atomic_point();                \
    return __atomic_fetch_or(p, v, __ATOMIC_RELAXED);  \
  }                                                    \
  inline T atomicXor(T* p, T v) {                      \
    ditto::sim::detail::atomic_point();                \
    return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); \
  }
DITTO_SIM_ATOMIC_BITS(int)
DITTO_SIM_ATOMIC_BITS(unsigned)
DITTO_SIM_ATOMIC_BITS(unsigned long long)
#undef DITTO_SIM_ATOMIC_BITS
inline unsigned atomicInc(unsigned* p, unsigned v) {
  return ditto::sim::detail::atomic_update(p, [v](unsigned o) { return o >= v ? 0u : o + 1u; });
}
inline unsigned atomicDec(unsigned* p, unsigned v) {
  return ditto::sim::detail::atomic_update(
      p, [v](unsigned o) { return (o == 0u || o > v) ? v : o - 1u; });
}

// ---- fences: all threads of a block share one OS thread; blocks on other workers are real
// concurrent threads, so the device-scope fences are real fences. ----
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- misc device functions with exact host equivalents ----
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) {
  return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x));
}
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline int __float_as_int(float x) {
  return ditto::sim::detail::from_bits<int>(ditto::sim::detail::to_bits(x));
}
inline unsigned __float_as_uint(float x) {
  return ditto::sim::detail::from_bits<unsigned>(ditto::sim::detail::to_bits(x));
}
inline float __int_as_float(int x) {
  return ditto::sim::detail::from_bits<float>(ditto::sim::detail::to_bits(x));
}
inline float __uint_as_float(unsigned x) {
  return ditto::sim::detail::from_bits<float>(ditto::sim::detail::to_bits(x));
}
inline long long __double_as_longlong(double x) {
  return ditto::sim::detail::from_bits<long long>(ditto::sim::detail::to_bits(x));
}
inline double __longlong_as_double(long long x) {
  return ditto::sim::detail::from_bits<double>(ditto::sim::detail::to_bits(x));
}
// Correctly rounded, never contracted (each is one IEEE operation on both devices).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __drcp_rn(double a) { return 1.0 / a; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }

/// __trap(): aborts the launch with a ditto::Error naming the call site.
inline void __trap(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ditto::sim::detail::kernel_trap(file, line);
}

#define DITTO_KERNEL_ASSERT(cond) \
  ((cond) ? static_cast<void>(0)  \
          : ::ditto::sim::detail::kernel_assert_fail(#cond, __FILE__, __LINE__, __func__))

/// The block's dynamic shared memory, typed (see the nvcc version above).
template <class T>
inline T* ditto_dynamic_smem() {
  return static_cast<T*>(ditto::sim::detail::dynamic_smem());
}

#endif  // __CUDACC__
