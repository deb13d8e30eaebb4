// ditto — the N-d strided loop behind the CPU elementwise kernels (kernels/cpu/elementwise.cpp).
//
// An elementwise kernel is a per-element function of its inputs, so the order in which elements
// are visited and the way the range is split between threads never change a result bit. That
// freedom is used for speed only:
//   1. plan_loop() drops size-1 dims, reorders the rest so that the output's innermost dim is the
//      one with the smallest stride (an in-place op on a transposed tensor becomes contiguous),
//      then merges adjacent dims whose strides chain for every operand
//      (stride[d] == stride[d+1] * shape[d+1]). A fully contiguous problem becomes one dim.
//   2. run_loop() splits the flat index range [0, numel) into equal parts, one per OpenMP thread
//      (only for >= kParallelMinElements elements), and walks each part with an odometer over all
//      dims but the innermost; the innermost dim is handed to a kernel-supplied inner loop as
//      (pointers, innermost strides, count), where the kernel has tight, vectorisable loops for
//      the contiguous and broadcast-scalar cases.
//   3. When an operand is transposed relative to the output (smaller stride on the second-
//      innermost dim), the two innermost dims are walked in 64 x 64 tiles instead, and threads
//      split the range of tiles.
// The driver is not a template (the inner loop is a function pointer), so every (op family,
// dtype) pair instantiates only its inner loop.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "kernels/cpu/level.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/threads.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {

/// Most operands one loop handles (where: out, cond, a, b).
constexpr int kMaxLoopOperands = 4;
/// Outputs smaller than this run on the calling thread (a parallel region costs microseconds).
constexpr std::int64_t kParallelMinElements = std::int64_t(1) << 15;
/// Each thread gets at least this many elements (caps the thread count for mid-sized outputs).
constexpr std::int64_t kMinElementsPerThread = 4096;

/// Inner loop of a kernel: `n` elements along the innermost dim. ptrs[k] points at operand k's
/// first element, strides[k] is its innermost stride in elements (0 for a broadcast operand).
/// Operand 0 is the output. Must not throw (it runs inside an OpenMP region).
using InnerLoop = void (*)(const void* ctx, char* const* ptrs, const std::int64_t* strides,
                           std::int64_t n);

/// A planned loop: coalesced shape and per-operand strides (in elements and in bytes).
struct LoopPlan {
  int nops = 0;
  int ndim = 0;  // >= 1 (a 0-d or fully coalesced problem is one dim)
  std::int64_t numel = 0;
  std::int64_t shape[kMaxDims] = {};
  std::int64_t strides[kMaxLoopOperands][kMaxDims] = {};   // elements
  std::int64_t bstrides[kMaxLoopOperands][kMaxDims] = {};  // bytes
  char* data[kMaxLoopOperands] = {};
};

/// Plans a loop over operands ops[0..nops) (ops[0] the output). All must have ops[0]'s shape
/// (callers check); broadcast inputs carry stride 0.
inline LoopPlan plan_loop(const View* const* ops, int nops) {
  LoopPlan p;
  p.nops = nops;
  const View& out = *ops[0];
  p.numel = out.numel();
  for (int k = 0; k < nops; ++k) p.data[k] = static_cast<char*>(ops[k]->data);

  // Keep the dims that matter (size != 1), in logical order.
  int dims[kMaxDims];
  int nd = 0;
  for (int d = 0; d < out.ndim; ++d)
    if (out.shape[d] != 1) dims[nd++] = d;

  // Stable insertion sort: outer dims first, by decreasing |output stride| (ties: first input's).
  auto key_greater = [&](int x, int y) {
    for (int k = 0; k < nops; ++k) {
      const std::int64_t sx = std::llabs(ops[k]->strides[x]), sy = std::llabs(ops[k]->strides[y]);
      if (sx != sy) return sx > sy;
    }
    return false;
  };
  for (int i = 1; i < nd; ++i) {
    const int v = dims[i];
    int j = i;
    while (j > 0 && key_greater(v, dims[j - 1])) {
      dims[j] = dims[j - 1];
      --j;
    }
    dims[j] = v;
  }

  // Coalesce from the innermost dim outwards.
  int m = 0;  // dims written so far (built innermost-first, reversed below)
  std::int64_t shp[kMaxDims], str[kMaxLoopOperands][kMaxDims];
  for (int i = nd - 1; i >= 0; --i) {
    const int d = dims[i];
    bool merge = m > 0;
    for (int k = 0; merge && k < nops; ++k)
      merge = ops[k]->strides[d] == str[k][m - 1] * shp[m - 1];
    if (merge) {
      shp[m - 1] *= out.shape[d];
    } else {
      shp[m] = out.shape[d];
      for (int k = 0; k < nops; ++k) str[k][m] = ops[k]->strides[d];
      ++m;
    }
  }
  if (m == 0) {  // 0-d, all dims of size 1, or empty with a 0 among size-1 dims (numel decides)
    shp[0] = 1;
    for (int k = 0; k < nops; ++k) str[k][0] = 1;
    m = 1;
  }
  p.ndim = m;
  for (int i = 0; i < m; ++i) {
    p.shape[i] = shp[m - 1 - i];
    for (int k = 0; k < nops; ++k) {
      p.strides[k][i] = str[k][m - 1 - i];
      p.bstrides[k][i] = p.strides[k][i] * static_cast<std::int64_t>(dtype_size(ops[k]->dtype));
    }
  }
  return p;
}

/// Runs `fn` over the flat index range [begin, end) of plan `p` (row-major over p.shape).
inline void run_loop_range(const LoopPlan& p, InnerLoop fn, const void* ctx, std::int64_t begin,
                           std::int64_t end) {
  if (begin >= end) return;
  const int last = p.ndim - 1;
  std::int64_t idx[kMaxDims];
  char* ptr[kMaxLoopOperands];
  std::int64_t inner[kMaxLoopOperands];
  std::int64_t rem = begin;
  for (int d = last; d >= 0; --d) {
    idx[d] = rem % p.shape[d];
    rem /= p.shape[d];
  }
  for (int k = 0; k < p.nops; ++k) {
    ptr[k] = p.data[k];
    for (int d = 0; d <= last; ++d) ptr[k] += idx[d] * p.bstrides[k][d];
    inner[k] = p.strides[k][last];
  }
  std::int64_t todo = end - begin;
  for (;;) {
    const std::int64_t n = std::min(p.shape[last] - idx[last], todo);
    fn(ctx, ptr, inner, n);
    todo -= n;
    if (todo == 0) return;
    // The row is finished (todo > 0 means it ran to its end): rewind it and carry outwards.
    for (int k = 0; k < p.nops; ++k) ptr[k] -= idx[last] * p.bstrides[k][last];
    idx[last] = 0;
    for (int d = last - 1; d >= 0; --d) {
      for (int k = 0; k < p.nops; ++k) ptr[k] += p.bstrides[k][d];
      if (++idx[d] < p.shape[d]) break;
      for (int k = 0; k < p.nops; ++k) ptr[k] -= p.shape[d] * p.bstrides[k][d];
      idx[d] = 0;
    }
  }
}

/// Tile of the two innermost dims used when an operand walks them in the "wrong" order.
constexpr std::int64_t kTileRows = 64, kTileCols = 64;

/// True when some operand has a smaller stride along the second-innermost dim than along the
/// innermost one (a transposed operand): row-by-row walking then touches a new cache line per
/// element, and 2-d tiles reuse them (2-5x faster for large transposes, measured).
inline bool wants_tiles(const LoopPlan& p) {
  if (p.ndim < 2) return false;
  const int last = p.ndim - 1;
  for (int k = 0; k < p.nops; ++k) {
    const std::int64_t outer = std::llabs(p.strides[k][last - 1]);
    if (outer != 0 && outer < std::llabs(p.strides[k][last])) return true;
  }
  return false;
}

/// Runs tiles [begin, end) of the tiled walk: tile t covers, for one index of the outer dims,
/// kTileRows rows x kTileCols columns of the two innermost dims; rows go to `fn` one at a time.
inline void run_tiles_range(const LoopPlan& p, InnerLoop fn, const void* ctx, std::int64_t begin,
                            std::int64_t end) {
  const int last = p.ndim - 1;
  const std::int64_t rows = p.shape[last - 1], cols = p.shape[last];
  const std::int64_t row_tiles = (rows + kTileRows - 1) / kTileRows;
  const std::int64_t col_tiles = (cols + kTileCols - 1) / kTileCols;
  std::int64_t inner[kMaxLoopOperands];
  for (int k = 0; k < p.nops; ++k) inner[k] = p.strides[k][last];
  char* ptr[kMaxLoopOperands];
  for (std::int64_t t = begin; t < end; ++t) {
    std::int64_t outer = t / (row_tiles * col_tiles);
    const std::int64_t in_plane = t % (row_tiles * col_tiles);
    const std::int64_t r0 = in_plane / col_tiles * kTileRows, c0 = in_plane % col_tiles * kTileCols;
    char* base[kMaxLoopOperands];
    for (int k = 0; k < p.nops; ++k) base[k] = p.data[k];
    for (int d = last - 2; d >= 0; --d) {
      const std::int64_t i = outer % p.shape[d];
      outer /= p.shape[d];
      for (int k = 0; k < p.nops; ++k) base[k] += i * p.bstrides[k][d];
    }
    const std::int64_t r1 = std::min(rows, r0 + kTileRows), n = std::min(cols - c0, kTileCols);
    for (std::int64_t r = r0; r < r1; ++r) {
      for (int k = 0; k < p.nops; ++k)
        ptr[k] = base[k] + r * p.bstrides[k][last - 1] + c0 * p.bstrides[k][last];
      fn(ctx, ptr, inner, n);
    }
  }
}

/// Runs `fn` over every element of plan `p`, on up to ditto::get_num_threads() threads. Each
/// thread takes one contiguous part (sizes differ by at most one) of the flat index range, or
/// of the tile range when wants_tiles(p).
inline void run_loop(const LoopPlan& p, InnerLoop fn, const void* ctx) {
  const std::int64_t n = p.numel;
  if (n <= 0) return;
  const bool tiled = wants_tiles(p);
  std::int64_t work = n;  // elements, or tiles
  if (tiled) {
    const std::int64_t rows = p.shape[p.ndim - 2], cols = p.shape[p.ndim - 1];
    work = n / (rows * cols) * ((rows + kTileRows - 1) / kTileRows) *
           ((cols + kTileCols - 1) / kTileCols);
  }
  auto run_part = [&](std::int64_t b, std::int64_t e) {
    if (tiled)
      run_tiles_range(p, fn, ctx, b, e);
    else
      run_loop_range(p, fn, ctx, b, e);
  };
  int nt = 1;
#if defined(_OPENMP)
  if (n >= kParallelMinElements)
    nt = static_cast<int>(std::min<std::int64_t>(
        {static_cast<std::int64_t>(get_num_threads()), n / kMinElementsPerThread, work}));
#endif
  if (nt <= 1) {
    run_part(0, work);
    return;
  }
#if defined(_OPENMP)
#pragma omp parallel num_threads(nt)
  {
    // The team may be smaller than asked for; split by the actual size.
    const std::int64_t t = omp_get_thread_num(), parts = omp_get_num_threads();
    const std::int64_t q = work / parts, r = work % parts;
    const std::int64_t b = t * q + std::min(t, r);
    run_part(b, b + q + (t < r ? 1 : 0));
  }
#endif
}

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
