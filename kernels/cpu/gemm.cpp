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
#include "kernels/cpu/gemm_micro.h"
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


#include "core/error.h"
#include "core/threads.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using namespace gemm_micro;

/// Below this many multiply-adds a product runs on the calling thread (thread start-up would
/// cost more than it saves). Bits do not depend on it.
constexpr i64 kParallelMinFmas = i64{1} << 18;

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
        micro_tile<T>(kc, ap, bp, cp, g.c_rs, g.c_cs, mr, nr, first);
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
