// ditto — the deterministic GEMM's register-blocked core, shared by the GEMM (gemm.cpp) and the
// convolution's implicit GEMM (conv.cpp): blocking, aligned scratch, the micro-kernels and the
// packing of A. Included inside the variant namespace (kernels/cpu/level.h), like every inline
// header the CPU kernels share, so each x86-64 level keeps its own copy.
//
// The micro-kernel contract (what the tests check bitwise): each output element is one chain
// acc = fma(a[i,k], b[k,j], acc), k ascending, from +0 (or from C, continuing the same chain
// after a K block); tiles, threads and packing change speed only.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "kernels/cpu/level.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define DITTO_GEMM_AVX2 1
#endif

namespace ditto::kernels::cpu::DITTO_CPU_NS::gemm_micro {

using i64 = std::int64_t;

constexpr i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }
constexpr i64 round_up(i64 a, i64 b) { return ceil_div(a, b) * b; }

/// Register tile (MR x NR, 12 ymm accumulators for both types) and cache blocking. KC * NR
/// elements of B (16 KiB) stay in L1 while a column strip runs down the packed A block
/// (MC x KC, ~144 KiB, L2). The numbers change speed only, never bits.
template <typename T>
struct Blocking;
#if defined(__AVX512F__)
// x86-64-v4: 8 x 32 (f32) / 8 x 16 (f64) tiles, 16 zmm accumulators; KC = 128 keeps the B
// micro-panel (KC x NR, 16 KiB) in L1 while it runs down the A block.
template <>
struct Blocking<float> {
  static constexpr i64 MR = 8, NR = 32, KC = 128, MC = 144, NC = 2048;
};
template <>
struct Blocking<double> {
  static constexpr i64 MR = 8, NR = 16, KC = 128, MC = 72, NC = 1024;
};
#else
template <>
struct Blocking<float> {
  static constexpr i64 MR = 6, NR = 16, KC = 256, MC = 144, NC = 2048;
};
template <>
struct Blocking<double> {
  static constexpr i64 MR = 6, NR = 8, KC = 256, MC = 72, NC = 1024;
};
#endif


/// Cache-line-aligned scratch for the packed panels (std::vector does not promise alignment).
template <typename T>
class AlignedBuffer {
 public:
  explicit AlignedBuffer(std::size_t n)
      : p_(static_cast<T*>(::operator new[](std::max<std::size_t>(n, 1) * sizeof(T),
                                            std::align_val_t{64}))) {}
  ~AlignedBuffer() { ::operator delete[](p_, std::align_val_t{64}); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  T* get() const { return p_; }

 private:
  T* p_;
};

// ---------------------------------------------------------------------------------------------
// Micro-kernels. Contract shared by all of them (and what the tests check bitwise):
//   acc[r][c] = first ? +0 : c[r*ldc + c]
//   for k in [0, kc): acc[r][c] = fma(a[k*MR + r], b[k*NR + c], acc[r][c])
//   c[r*ldc + c] = acc[r][c]
// `a` is a packed (kc, MR) micro-panel, `b` a packed (kc, NR) micro-panel. Starting from +0
// (not from the first product) matches the naive loop's `acc = 0` also for -0 products.
// ---------------------------------------------------------------------------------------------

/// Portable version: the same chains with std::fma (used when AVX2/FMA are not compiled in).
template <typename T>
[[maybe_unused]] inline void micro_kernel_scalar(i64 kc, const T* a, const T* b, T* c, i64 ldc,
                                          bool first) {
  constexpr i64 MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  T acc[MR][NR];  // (MR, NR)
  for (i64 r = 0; r < MR; ++r)
    for (i64 j = 0; j < NR; ++j) acc[r][j] = first ? T(0) : c[r * ldc + j];
  for (i64 k = 0; k < kc; ++k, a += MR, b += NR)
    for (i64 r = 0; r < MR; ++r)
      for (i64 j = 0; j < NR; ++j) acc[r][j] = std::fma(a[r], b[j], acc[r][j]);
  for (i64 r = 0; r < MR; ++r)
    for (i64 j = 0; j < NR; ++j) c[r * ldc + j] = acc[r][j];
}

#if defined(DITTO_GEMM_AVX2)
// The vector micro-kernels: row r's accumulators are 2 registers of L lanes (NR = 2L); lane j of
// row r is output (r, j)'s chain, one fused multiply-add per k (_mm256/_mm512_fmadd round once
// per lane, exactly like std::fma). The loops over rows are fully unrolled so the 2 x MR
// accumulators stay in registers (12 ymm for 6 x 16 below v4, 16 zmm for 8 x 32 at v4).
template <typename T, typename V, int L, typename Load, typename Store, typename Set1,
          typename Fma>
inline void micro_kernel_simd(i64 kc, const T* a, const T* b, T* c, i64 ldc, bool first,
                              Load load, Store store, Set1 set1, Fma fma) {
  constexpr int MR = static_cast<int>(Blocking<T>::MR);
  static_assert(Blocking<T>::NR == 2 * L);
  V c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    c0[r] = first ? set1(T(0)) : load(c + r * ldc);
    c1[r] = first ? set1(T(0)) : load(c + r * ldc + L);
  }
#pragma GCC unroll 4
  for (i64 k = 0; k < kc; ++k) {
    const V b0 = load(b), b1 = load(b + L);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const V ar = set1(a[r]);
      c0[r] = fma(ar, b0, c0[r]);
      c1[r] = fma(ar, b1, c1[r]);
    }
    a += MR;
    b += 2 * L;
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    store(c + r * ldc, c0[r]);
    store(c + r * ldc + L, c1[r]);
  }
}

#if defined(__AVX512F__)
inline void micro_kernel_vector(i64 kc, const float* a, const float* b, float* c, i64 ldc,
                                bool first) {
  micro_kernel_simd<float, __m512, 16>(
      kc, a, b, c, ldc, first, [](const float* p) { return _mm512_loadu_ps(p); },
      [](float* p, __m512 v) { _mm512_storeu_ps(p, v); },
      [](float x) { return _mm512_set1_ps(x); },
      [](__m512 x, __m512 y, __m512 z) { return _mm512_fmadd_ps(x, y, z); });
}
inline void micro_kernel_vector(i64 kc, const double* a, const double* b, double* c, i64 ldc,
                                bool first) {
  micro_kernel_simd<double, __m512d, 8>(
      kc, a, b, c, ldc, first, [](const double* p) { return _mm512_loadu_pd(p); },
      [](double* p, __m512d v) { _mm512_storeu_pd(p, v); },
      [](double x) { return _mm512_set1_pd(x); },
      [](__m512d x, __m512d y, __m512d z) { return _mm512_fmadd_pd(x, y, z); });
}
#else
inline void micro_kernel_vector(i64 kc, const float* a, const float* b, float* c, i64 ldc,
                                bool first) {
  micro_kernel_simd<float, __m256, 8>(
      kc, a, b, c, ldc, first, [](const float* p) { return _mm256_loadu_ps(p); },
      [](float* p, __m256 v) { _mm256_storeu_ps(p, v); },
      [](float x) { return _mm256_set1_ps(x); },
      [](__m256 x, __m256 y, __m256 z) { return _mm256_fmadd_ps(x, y, z); });
}
inline void micro_kernel_vector(i64 kc, const double* a, const double* b, double* c, i64 ldc,
                                bool first) {
  micro_kernel_simd<double, __m256d, 4>(
      kc, a, b, c, ldc, first, [](const double* p) { return _mm256_loadu_pd(p); },
      [](double* p, __m256d v) { _mm256_storeu_pd(p, v); },
      [](double x) { return _mm256_set1_pd(x); },
      [](__m256d x, __m256d y, __m256d z) { return _mm256_fmadd_pd(x, y, z); });
}
#endif  // __AVX512F__
#endif  // DITTO_GEMM_AVX2

template <typename T>
inline void micro_kernel(i64 kc, const T* a, const T* b, T* c, i64 ldc, bool first) {
#if defined(DITTO_GEMM_AVX2)
  micro_kernel_vector(kc, a, b, c, ldc, first);
#else
  micro_kernel_scalar<T>(kc, a, b, c, ldc, first);
#endif
}

// ---------------------------------------------------------------------------------------------
// Packing. Rows of A past M and columns of B past N are padded with zeros: the micro-kernel then
// computes full tiles, and the padded lanes (never stored) cannot disturb the real ones.
// ---------------------------------------------------------------------------------------------

/// Packs A[i0 : i0+mc, k0 : k0+kc] (element (i, k) at a[i*rs + k*cs]) into ceil(mc/MR)
/// micro-panels of shape (kc, MR), one after another.
template <typename T>
inline void pack_a(const T* a, i64 rs, i64 cs, i64 i0, i64 mc, i64 k0, i64 kc, T* out) {
  constexpr i64 MR = Blocking<T>::MR;
  for (i64 ir = 0; ir < mc; ir += MR, out += MR * kc) {
    const i64 mr = std::min(MR, mc - ir);
    const T* src = a + (i0 + ir) * rs + k0 * cs;
    if (cs == 1 || std::abs(cs) <= std::abs(rs)) {
      // Walk each row along k (row-major A: contiguous reads).
      for (i64 r = 0; r < mr; ++r) {
        const T* row = src + r * rs;
        for (i64 k = 0; k < kc; ++k) out[k * MR + r] = row[k * cs];
      }
    } else {
      // Walk each column along i (transposed A: contiguous reads).
      for (i64 k = 0; k < kc; ++k) {
        const T* col = src + k * cs;
        for (i64 r = 0; r < mr; ++r) out[k * MR + r] = col[r * rs];
      }
    }
    for (i64 r = mr; r < MR; ++r)
      for (i64 k = 0; k < kc; ++k) out[k * MR + r] = T(0);
  }
}

/// C[0:mr, 0:nr] (element (r, j) at c[r*c_rs + j*c_cs]) from a packed (kc, MR) A panel and a
/// packed (kc, NR) B panel: the full-tile micro-kernel in place when the tile is whole and C's
/// rows are contiguous, else the same kernel on a local tile whose valid part is copied back.
template <typename T>
inline void micro_tile(i64 kc, const T* ap, const T* bp, T* cp, i64 c_rs, i64 c_cs, i64 mr,
                       i64 nr, bool first) {
  constexpr i64 MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  if (mr == MR && nr == NR && c_cs == 1) {
    micro_kernel<T>(kc, ap, bp, cp, c_rs, first);
    return;
  }
  alignas(64) T tile[MR * NR];  // (MR, NR)
  if (!first) {
    for (i64 r = 0; r < MR; ++r)
      for (i64 j = 0; j < NR; ++j)
        tile[r * NR + j] = (r < mr && j < nr) ? cp[r * c_rs + j * c_cs] : T(0);
  }
  micro_kernel<T>(kc, ap, bp, tile, NR, first);
  for (i64 r = 0; r < mr; ++r)
    for (i64 j = 0; j < nr; ++j) cp[r * c_rs + j * c_cs] = tile[r * NR + j];
}

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS::gemm_micro
