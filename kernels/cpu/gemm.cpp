// ditto — CPU matrix-multiply kernels (interface and canonical order: kernels/gemm.h).
//
// Deterministic mode is a packed, register-blocked GEMM in the style of BLIS/GotoBLAS:
//   task (batch b, M-tile, N-tile)            <- OpenMP, one task = one block of C
//     for k0 in [0, K) step KC                <- ascending; C carries the partial sums
//       pack B[k0:k0+KC, N-tile] into NR-wide micro-panels
//       pack A[M-tile, k0:k0+KC] into MR-tall micro-panels
//       for each NR-wide column strip, for each MR-tall row strip: micro-kernel
// The micro-kernel keeps an MR x NR tile of accumulators in registers, vectorised across j: each
// SIMD lane is exactly one output element's chain acc = fma(a[i,k], b[k,j], acc), k ascending.
// Blocking K only stores the accumulators to C and reloads them before continuing the same chain
// (storing a float and loading it back is exact), so every output's arithmetic is the naive
// triple loop's, whatever the tiles, the thread count or the task schedule.
#include "kernels/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/common/dtype_visit.h"
#include "kernels/common/gemm_args.h"
#include "kernels/cpu/level.h"

// Eigen 3.4's AVX bf16 code has an unused variable, and GCC 12 sees a false "(may be) used
// uninitialized" in the AVX-512 intrinsics Eigen uses at x86-64-v4 (_mm512_undefined_*'s
// self-initialisation); keep -Wall output about ditto's code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define DITTO_GEMM_AVX2 1
#endif

#include "core/error.h"
#include "core/threads.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;

constexpr i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }
constexpr i64 round_up(i64 a, i64 b) { return ceil_div(a, b) * b; }

/// Register tile (MR x NR, 12 ymm accumulators for both types) and cache blocking. KC * NR
/// elements of B (16 KiB) stay in L1 while a column strip runs down the packed A block
/// (MC x KC, ~144 KiB, L2). The numbers change speed only, never bits.
template <typename T>
struct Blocking;
template <>
struct Blocking<float> {
  static constexpr i64 MR = 6, NR = 16, KC = 256, MC = 144, NC = 2048;
};
template <>
struct Blocking<double> {
  static constexpr i64 MR = 6, NR = 8, KC = 256, MC = 72, NC = 1024;
};

/// Below this many multiply-adds a product runs on the calling thread (thread start-up would
/// cost more than it saves). Bits do not depend on it.
constexpr i64 kParallelMinFmas = i64{1} << 18;

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
[[maybe_unused]] void micro_kernel_scalar(i64 kc, const T* a, const T* b, T* c, i64 ldc,
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
// _mm256_fmadd_p{s,d} rounds once per lane, exactly like std::fma, so lane j of row r is the
// scalar chain of output (r, j). Rows are unrolled by hand so the 12 accumulators stay in
// registers (2 ymm per row, 6 rows; 2 ymm for B and 1 for the broadcast A value remain free).

/// f32, 6 x 16.
void micro_kernel_avx2(i64 kc, const float* a, const float* b, float* c, i64 ldc, bool first) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (first) {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
  } else {
#define DITTO_LOAD_ROW(r)                                  \
  c##r##0 = _mm256_loadu_ps(c + r * ldc);                  \
  c##r##1 = _mm256_loadu_ps(c + r * ldc + 8);
    DITTO_LOAD_ROW(0) DITTO_LOAD_ROW(1) DITTO_LOAD_ROW(2)
    DITTO_LOAD_ROW(3) DITTO_LOAD_ROW(4) DITTO_LOAD_ROW(5)
#undef DITTO_LOAD_ROW
  }
#pragma GCC unroll 4
  for (i64 k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = _mm256_loadu_ps(b + 8);
    __m256 ar;
#define DITTO_FMA_ROW(r)                                   \
  ar = _mm256_broadcast_ss(a + r);                         \
  c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);              \
  c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);
    DITTO_FMA_ROW(0) DITTO_FMA_ROW(1) DITTO_FMA_ROW(2)
    DITTO_FMA_ROW(3) DITTO_FMA_ROW(4) DITTO_FMA_ROW(5)
#undef DITTO_FMA_ROW
    a += 6;
    b += 16;
  }
#define DITTO_STORE_ROW(r)                                 \
  _mm256_storeu_ps(c + r * ldc, c##r##0);                  \
  _mm256_storeu_ps(c + r * ldc + 8, c##r##1);
  DITTO_STORE_ROW(0) DITTO_STORE_ROW(1) DITTO_STORE_ROW(2)
  DITTO_STORE_ROW(3) DITTO_STORE_ROW(4) DITTO_STORE_ROW(5)
#undef DITTO_STORE_ROW
}

/// f64, 6 x 8.
void micro_kernel_avx2(i64 kc, const double* a, const double* b, double* c, i64 ldc,
                       bool first) {
  __m256d c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (first) {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_pd();
  } else {
#define DITTO_LOAD_ROW(r)                                  \
  c##r##0 = _mm256_loadu_pd(c + r * ldc);                  \
  c##r##1 = _mm256_loadu_pd(c + r * ldc + 4);
    DITTO_LOAD_ROW(0) DITTO_LOAD_ROW(1) DITTO_LOAD_ROW(2)
    DITTO_LOAD_ROW(3) DITTO_LOAD_ROW(4) DITTO_LOAD_ROW(5)
#undef DITTO_LOAD_ROW
  }
#pragma GCC unroll 4
  for (i64 k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_loadu_pd(b);
    const __m256d b1 = _mm256_loadu_pd(b + 4);
    __m256d ar;
#define DITTO_FMA_ROW(r)                                   \
  ar = _mm256_broadcast_sd(a + r);                         \
  c##r##0 = _mm256_fmadd_pd(ar, b0, c##r##0);              \
  c##r##1 = _mm256_fmadd_pd(ar, b1, c##r##1);
    DITTO_FMA_ROW(0) DITTO_FMA_ROW(1) DITTO_FMA_ROW(2)
    DITTO_FMA_ROW(3) DITTO_FMA_ROW(4) DITTO_FMA_ROW(5)
#undef DITTO_FMA_ROW
    a += 6;
    b += 8;
  }
#define DITTO_STORE_ROW(r)                                 \
  _mm256_storeu_pd(c + r * ldc, c##r##0);                  \
  _mm256_storeu_pd(c + r * ldc + 4, c##r##1);
  DITTO_STORE_ROW(0) DITTO_STORE_ROW(1) DITTO_STORE_ROW(2)
  DITTO_STORE_ROW(3) DITTO_STORE_ROW(4) DITTO_STORE_ROW(5)
#undef DITTO_STORE_ROW
}
#endif  // DITTO_GEMM_AVX2

template <typename T>
inline void micro_kernel(i64 kc, const T* a, const T* b, T* c, i64 ldc, bool first) {
#if defined(DITTO_GEMM_AVX2)
  micro_kernel_avx2(kc, a, b, c, ldc, first);
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
void pack_a(const T* a, i64 rs, i64 cs, i64 i0, i64 mc, i64 k0, i64 kc, T* out) {
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

/// Packs B[k0 : k0+kc, j0 : j0+nc] (element (k, j) at b[k*rs + j*cs]) into ceil(nc/NR)
/// micro-panels of shape (kc, NR), one after another.
template <typename T>
void pack_b(const T* b, i64 rs, i64 cs, i64 k0, i64 kc, i64 j0, i64 nc, T* out) {
  constexpr i64 NR = Blocking<T>::NR;
  for (i64 jr = 0; jr < nc; jr += NR, out += NR * kc) {
    const i64 nr = std::min(NR, nc - jr);
    const T* src = b + k0 * rs + (j0 + jr) * cs;
    if (cs == 1 && nr == NR) {
      for (i64 k = 0; k < kc; ++k) std::memcpy(out + k * NR, src + k * rs, NR * sizeof(T));
    } else if (std::abs(cs) <= std::abs(rs)) {
      for (i64 k = 0; k < kc; ++k) {
        const T* row = src + k * rs;
        for (i64 j = 0; j < nr; ++j) out[k * NR + j] = row[j * cs];
        for (i64 j = nr; j < NR; ++j) out[k * NR + j] = T(0);
      }
    } else {
      // Transposed B: walk each column along k.
      for (i64 j = 0; j < nr; ++j) {
        const T* col = src + j * cs;
        for (i64 k = 0; k < kc; ++k) out[k * NR + j] = col[k * rs];
      }
      for (i64 k = 0; k < kc; ++k)
        for (i64 j = nr; j < NR; ++j) out[k * NR + j] = T(0);
    }
  }
}

/// How C is cut into tasks: tiles of mcs rows and ncs columns (multiples of MR / NR).
struct TaskGrid {
  i64 mcs, ncs, mt, nt;
};

/// Cache-sized tiles, split further (down to one register tile) until there are at least two
/// tasks per thread, so the OpenMP schedule stays balanced on small products.
template <typename T>
TaskGrid make_grid(i64 batch, i64 M, i64 N, int threads) {
  using Bk = Blocking<T>;
  i64 mt = ceil_div(M, Bk::MC), nt = ceil_div(N, Bk::NC);
  const i64 want = threads > 1 ? 2 * i64{threads} : 1;
  while (batch * mt * nt < want) {
    const bool m_can = ceil_div(M, mt + 1) >= Bk::MR && mt < ceil_div(M, Bk::MR);
    const bool n_can = ceil_div(N, nt + 1) >= Bk::NR && nt < ceil_div(N, Bk::NR);
    if (m_can && (!n_can || M / mt >= N / nt)) {
      ++mt;
    } else if (n_can) {
      ++nt;
    } else {
      break;
    }
  }
  TaskGrid g;
  g.mcs = round_up(ceil_div(M, mt), Bk::MR);
  g.ncs = round_up(ceil_div(N, nt), Bk::NR);
  g.mt = ceil_div(M, g.mcs);
  g.nt = ceil_div(N, g.ncs);
  return g;
}

/// One task: C[b, i0 : i0+mc, j0 : j0+nc] over the whole K range. pa holds mcs x KC, pb KC x ncs.
template <typename T>
void gemm_task(const GemmArgs& g, i64 b, i64 i0, i64 mc, i64 j0, i64 nc, T* pa, T* pb) {
  using Bk = Blocking<T>;
  constexpr i64 MR = Bk::MR, NR = Bk::NR;
  const T* A = static_cast<const T*>(g.A) + b * g.a_bs;
  const T* B = static_cast<const T*>(g.B) + b * g.b_bs;
  T* C = static_cast<T*>(g.C) + b * g.c_bs;
  for (i64 k0 = 0; k0 < g.K; k0 += Bk::KC) {  // ascending: continues every chain in order
    const i64 kc = std::min(Bk::KC, g.K - k0);
    const bool first = k0 == 0;
    pack_b(B, g.b_rs, g.b_cs, k0, kc, j0, nc, pb);
    pack_a(A, g.a_rs, g.a_cs, i0, mc, k0, kc, pa);
    for (i64 jr = 0; jr < nc; jr += NR) {
      const i64 nr = std::min(NR, nc - jr);
      const T* bp = pb + jr * kc;  // (kc, NR)
      for (i64 ir = 0; ir < mc; ir += MR) {
        const i64 mr = std::min(MR, mc - ir);
        const T* ap = pa + ir * kc;  // (kc, MR)
        T* cp = C + (i0 + ir) * g.c_rs + (j0 + jr) * g.c_cs;
        if (mr == MR && nr == NR && g.c_cs == 1) {
          micro_kernel<T>(kc, ap, bp, cp, g.c_rs, first);
          continue;
        }
        // Edge tile or strided C: run the same kernel on a local tile, copy the valid part.
        alignas(64) T tile[MR * NR];  // (MR, NR)
        if (!first) {
          for (i64 r = 0; r < MR; ++r)
            for (i64 j = 0; j < NR; ++j)
              tile[r * NR + j] = (r < mr && j < nr) ? cp[r * g.c_rs + j * g.c_cs] : T(0);
        }
        micro_kernel<T>(kc, ap, bp, tile, NR, first);
        for (i64 r = 0; r < mr; ++r)
          for (i64 j = 0; j < nr; ++j) cp[r * g.c_rs + j * g.c_cs] = tile[r * NR + j];
      }
    }
  }
}

template <typename T>
void gemm_deterministic(const GemmArgs& g) {
  using Bk = Blocking<T>;
  const i64 fmas = g.batch * g.M * g.N * g.K;
  const int threads = fmas < kParallelMinFmas ? 1 : std::max(1, get_num_threads());
  const TaskGrid grid = make_grid<T>(g.batch, g.M, g.N, threads);
  const i64 tasks = g.batch * grid.mt * grid.nt;
  const i64 kc_max = std::min(Bk::KC, g.K);
  const i64 pa_size = grid.mcs * kc_max, pb_size = kc_max * grid.ncs;
  const int team = static_cast<int>(std::min<i64>(threads, tasks));
  // Allocated before the parallel region so that bad_alloc cannot escape an OpenMP thread.
  AlignedBuffer<T> scratch(static_cast<std::size_t>(team * (pa_size + pb_size)));

#if defined(_OPENMP)
#pragma omp parallel num_threads(team)
#endif
  {
#if defined(_OPENMP)
    const int tid = omp_get_thread_num();
#else
    const int tid = 0;
#endif
    T* pa = scratch.get() + tid * (pa_size + pb_size);
    T* pb = pa + pa_size;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (i64 t = 0; t < tasks; ++t) {
      const i64 b = t / (grid.mt * grid.nt);
      const i64 tm = (t / grid.nt) % grid.mt, tn = t % grid.nt;
      const i64 i0 = tm * grid.mcs, j0 = tn * grid.ncs;
      gemm_task<T>(g, b, i0, std::min(grid.mcs, g.M - i0), j0, std::min(grid.ncs, g.N - j0),
                   pa, pb);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fast mode: Eigen's GEMM (its own blocking and k order, so bits may differ from the canonical
// chain). Operands with a unit column or row stride are mapped directly (row- or column-major);
// others go through a dynamic-stride map, which Eigen copies into a plain temporary first.
// ---------------------------------------------------------------------------------------------

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using DenseMap = Eigen::Map<const RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using StridedMap =
    Eigen::Map<const RowMat<T>, Eigen::Unaligned, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;
template <typename T>
using StridedOut =
    Eigen::Map<RowMat<T>, Eigen::Unaligned, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

template <typename T>
using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <typename T>
using ColDenseMap = Eigen::Map<const ColMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// Calls f with the (rows, cols) operand at p as Eigen sees it best: row-major or column-major
// without a copy (a transposed operand — conv2d's weight gradient multiplies by cols^T — is a
// column-major one), else a strided map that Eigen copies first.
template <typename T, typename F>
void with_operand(const T* p, i64 rows, i64 cols, i64 rs, i64 cs, F&& f) {
  if (cs == 1) {
    f(DenseMap<T>(p, rows, cols, Eigen::OuterStride<>(rs)));
  } else if (rs == 1 && cs >= rows) {
    f(ColDenseMap<T>(p, rows, cols, Eigen::OuterStride<>(cs)));
  } else {
    f(StridedMap<T>(p, rows, cols, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(rs, cs)));
  }
}

template <typename T>
void eigen_product(const GemmArgs& g, i64 b) {
  const T* A = static_cast<const T*>(g.A) + b * g.a_bs;
  const T* B = static_cast<const T*>(g.B) + b * g.b_bs;
  T* C = static_cast<T*>(g.C) + b * g.c_bs;
  StridedOut<T> c(C, g.M, g.N, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(g.c_rs, g.c_cs));
  with_operand(A, g.M, g.K, g.a_rs, g.a_cs, [&](const auto& a) {
    with_operand(B, g.K, g.N, g.b_rs, g.b_cs, [&](const auto& bm) { c.noalias() = a * bm; });
  });
}

template <typename T>
void gemm_fast(const GemmArgs& g) {
  const int threads = std::max(1, get_num_threads());
#if defined(_OPENMP)
  // Eigen sizes its own OpenMP team from omp_get_max_threads() (a per-thread setting): point it
  // at ditto's thread count for this call and restore the caller's value afterwards.
  struct MaxThreadsGuard {
    int prev = omp_get_max_threads();
    explicit MaxThreadsGuard(int n) { omp_set_num_threads(n); }
    ~MaxThreadsGuard() { omp_set_num_threads(prev); }
  } guard(threads);
  if (threads > 1 && g.batch >= threads) {
    // One product per thread; inside a team Eigen runs single-threaded.
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (i64 b = 0; b < g.batch; ++b) eigen_product<T>(g, b);
    return;
  }
#endif
  for (i64 b = 0; b < g.batch; ++b) eigen_product<T>(g, b);
}

template <typename T>
void fill_zero(const GemmArgs& g) {
  for (i64 b = 0; b < g.batch; ++b)
    for (i64 i = 0; i < g.M; ++i)
      for (i64 j = 0; j < g.N; ++j)
        static_cast<T*>(g.C)[b * g.c_bs + i * g.c_rs + j * g.c_cs] = T(0);
}

}  // namespace

void gemm(const GemmArgs& args, Mode mode) {
  gemm_args::check(args);
  if (args.batch == 0 || args.M == 0 || args.N == 0) return;
  visit_float(args.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (args.K == 0) {  // empty sums: C = 0 in both modes
      fill_zero<T>(args);
    } else if (mode == Mode::Deterministic) {
      gemm_deterministic<T>(args);
    } else {
      gemm_fast<T>(args);
    }
  });
}

const GemmKernels gemm_table = {.gemm = &gemm};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
