// ditto — GPU indexing kernels (cuda and sim; interface: kernels/index.h; the canonical order of
// index_add: docs/determinism.md, "Scatter-add"; the CPU twin: kernels/cpu/index.cpp).
//
// index_select: a grid-stride gather, one thread per output element (o, m, i), i fastest so that
// a warp reads and writes consecutive columns of one row. Elements move as raw bits (every dtype,
// every NaN payload exact).
//
// index_add, Deterministic (sort-based):
//   1. gather_keys: keys[m] = index[m], vals[m] = m (contiguous copies; range asserted).
//   2. a stable sort of the (key, value) pairs by key: CUB's DeviceRadixSort::SortPairs on cuda
//      (only the bits that can be set in [0, K] are sorted); on sim, where CUB cannot run, the
//      exact host substitute std::stable_sort (kernels/sim/README.md, "CUDA library calls and
//      their exact host substitutes"). A stable sort has exactly one correct output, so both
//      give the order cpu::index_add sorts into.
//   3. segment_sum: one thread per (o, sorted position p, i). Only a thread whose p starts a
//      segment (p == 0 or key[p] != key[p-1]) works: acc = +0, then acc = acc + src[o, val[q], i]
//      for q = p, p+1, ... while key[q] == key[p] (ascending m, by stability), then
//      out[o, key[p], i] = out[o, key[p], i] + acc. Each output element is written by one thread
//      with a sequential sum in a shape-defined order: no scan, no atomics, and the bits do not
//      depend on the grid, the block size or the schedule. They equal cpu::index_add's.
// index_add, Fast: one thread per (o, m, i) does atomicAdd(&out[o, index[m], i], src[o, m, i]);
//   the bits depend on the order in which the atomics land (on sim: on the schedule seed).
//
// Out-of-range indices fail a DITTO_KERNEL_ASSERT (on sim: the launch throws ditto::Error). Under
// nvcc the assertion is `assert`, which compiles out with NDEBUG, so the kernels also skip such
// an element rather than touch memory outside the tensor; the front end reports the error first.
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/mode.h"
#include "kernels/common/index_args.h"
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/index.h"

#if !defined(DITTO_SIM)
#include <cub/device/device_radix_sort.cuh>
#endif

namespace ditto::kernels::DITTO_GPU_NS {
namespace index_detail {

using i64 = std::int64_t;
using index_args::Geo;

/// out[o, m, i] = in[o, index[m], i]; T is a raw-bits type of the element's size.
template <class T>
__global__ void select_kernel(const T* in, const i64* ix, T* out, Geo g) {
  const i64 n = g.O * g.M * g.I;
  for (i64 t = first_index(); t < n; t += grid_step()) {
    const i64 i = t % g.I, r = t / g.I;
    const i64 m = r % g.M, o = r / g.M;
    const i64 k = ix[m * g.xs];
    DITTO_KERNEL_ASSERT(k >= 0 && k < g.K);
    if (k < 0 || k >= g.K) continue;  // only reached when assertions are compiled out
    out[o * g.rs[0] + m * g.rs[1] + i * g.rs[2]] = in[o * g.ds[0] + k * g.ds[1] + i * g.ds[2]];
  }
}

/// keys[m] = index[m] (K, one past every valid key, for an out-of-range index when assertions
/// are compiled out: it sorts last and segment_sum skips it), vals[m] = m.
__global__ void gather_keys_kernel(const i64* ix, Geo g, i64* keys, i64* vals) {
  for (i64 m = first_index(); m < g.M; m += grid_step()) {
    const i64 k = ix[m * g.xs];
    DITTO_KERNEL_ASSERT(k >= 0 && k < g.K);
    keys[m] = (k >= 0 && k < g.K) ? k : g.K;
    vals[m] = m;
  }
}

/// The segmented sum over the sorted (keys, vals) (see the file comment, step 3).
template <class T>
__global__ void segment_sum_kernel(T* out, const T* src, const i64* keys, const i64* vals, Geo g) {
  const i64 n = g.O * g.M * g.I;
  for (i64 t = first_index(); t < n; t += grid_step()) {
    const i64 i = t % g.I, r = t / g.I;
    const i64 p = r % g.M, o = r / g.M;
    const i64 k = keys[p];
    // Why only segment starts work: one thread per output element keeps the sum sequential
    // (the canonical order) without a scan or atomics.
    if (p > 0 && keys[p - 1] == k) continue;
    if (k >= g.K) continue;  // the sentinel of an out-of-range index (see gather_keys_kernel)
    const T* s = src + o * g.rs[0] + i * g.rs[2];
    T acc = T(+0.0);
    for (i64 q = p; q < g.M && keys[q] == k; ++q) acc = acc + s[vals[q] * g.rs[1]];
    T* d = out + o * g.ds[0] + k * g.ds[1] + i * g.ds[2];
    *d = *d + acc;
  }
}

/// out[o, index[m], i] += src[o, m, i] with one atomicAdd per element.
template <class T>
__global__ void add_fast_kernel(T* out, const i64* ix, const T* src, Geo g) {
  const i64 n = g.O * g.M * g.I;
  for (i64 t = first_index(); t < n; t += grid_step()) {
    const i64 i = t % g.I, r = t / g.I;
    const i64 m = r % g.M, o = r / g.M;
    const i64 k = ix[m * g.xs];
    DITTO_KERNEL_ASSERT(k >= 0 && k < g.K);
    if (k < 0 || k >= g.K) continue;  // only reached when assertions are compiled out
    atomicAdd(out + o * g.ds[0] + k * g.ds[1] + i * g.ds[2],
              src[o * g.rs[0] + m * g.rs[1] + i * g.rs[2]]);
  }
}

// ---- launch ----

// launch_1d / grid_stride_config: kernels/cuda/gpu_common.cuh (one helper for every family).

template <class T>
void run_select(const Geo& g, const View& in, const View& index, const View& out) {
  launch_1d(select_kernel<T>, g.O * g.M * g.I, static_cast<const T*>(in.data),
            static_cast<const i64*>(index.data), static_cast<T*>(out.data), g);
  ditto::gpu::device_synchronize();
}

/// Number of low key bits the radix sort must look at for keys in [0, K].
inline int key_bits(i64 K) {
  int b = 1;
  while (b < 63 && (K >> b) != 0) ++b;
  return b;
}

/// Stable sort of (keys_in, vals_in) by key into (keys_out, vals_out); keys lie in [0, K].
inline void sort_pairs(const i64* keys_in, i64* keys_out, const i64* vals_in, i64* vals_out, i64 M,
                       i64 K) {
#if defined(DITTO_SIM)
  // sim: exact host equivalent of cub::DeviceRadixSort::SortPairs (stable, ascending keys):
  // sim memory is host memory, and a stable sort has exactly one correct output.
  (void)K;
  std::vector<i64> perm(static_cast<std::size_t>(M));
  std::iota(perm.begin(), perm.end(), i64{0});
  std::stable_sort(perm.begin(), perm.end(), [&](i64 a, i64 b) { return keys_in[a] < keys_in[b]; });
  for (i64 p = 0; p < M; ++p) {
    keys_out[p] = keys_in[perm[static_cast<std::size_t>(p)]];
    vals_out[p] = vals_in[perm[static_cast<std::size_t>(p)]];
  }
#else
  DITTO_CHECK(M <= INT_MAX, "index_add: ", M, " indices exceed the radix sort's limit of ",
              INT_MAX);
  const int n = static_cast<int>(M);
  const int end_bit = key_bits(K);
  std::size_t temp_bytes = 0;
  using ::ditto::gpu::detail::check_cuda;
  check_cuda(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, vals_in,
                                             vals_out, n, 0, end_bit),
             "index_add: cub::DeviceRadixSort::SortPairs (size query)");
  Scratch temp(this_device(), std::max<std::size_t>(temp_bytes, 1));
  check_cuda(cub::DeviceRadixSort::SortPairs(temp.get<void>(), temp_bytes, keys_in, keys_out,
                                             vals_in, vals_out, n, 0, end_bit),
             "index_add: cub::DeviceRadixSort::SortPairs");
  ditto::gpu::device_synchronize();  // before the temporary storage is freed
#endif
}

template <class T>
void run_add_deterministic(const Geo& g, const View& out, const View& index, const View& src) {
  // Four (M) i64 arrays: keys, vals, sorted keys, sorted vals.
  const std::size_t bytes = static_cast<std::size_t>(g.M) * sizeof(i64);
  Scratch scratch(this_device(), 4 * bytes);
  i64* keys = scratch.get<i64>();
  i64* vals = keys + g.M;
  i64* skeys = vals + g.M;
  i64* svals = skeys + g.M;
  launch_1d(gather_keys_kernel, g.M, static_cast<const i64*>(index.data), g, keys, vals);
  ditto::gpu::device_synchronize();  // an assertion reports before the sort runs
  sort_pairs(keys, skeys, vals, svals, g.M, g.K);
  launch_1d(segment_sum_kernel<T>, g.O * g.M * g.I, static_cast<T*>(out.data),
            static_cast<const T*>(src.data), static_cast<const i64*>(skeys),
            static_cast<const i64*>(svals), g);
  ditto::gpu::device_synchronize();  // before the scratch buffer is freed
}

template <class T>
void run_add_fast(const Geo& g, const View& out, const View& index, const View& src) {
  launch_1d(add_fast_kernel<T>, g.O * g.M * g.I, static_cast<T*>(out.data),
            static_cast<const i64*>(index.data), static_cast<const T*>(src.data), g);
  ditto::gpu::device_synchronize();
}

}  // namespace index_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/index.cu, kernels/sim/index_sim.cpp), which implement kernels/index.h.

/// See kernels/index.h. A gather of raw bits; an out-of-range index fails a kernel assertion.
void index_select(const View& in, const View& index, const View& out) {
  using namespace index_detail;
  index_args::check_index_select(in, index, out);
  const Geo g = index_args::make_geo(in, index, out);
  if (g.O == 0 || g.M == 0 || g.I == 0) return;
  visit_bits(in.dtype,
             [&](auto tag) { run_select<typename decltype(tag)::type>(g, in, index, out); });
}

/// See kernels/index.h. Deterministic: stable sort + segmented sums, bitwise equal to
/// cpu::index_add for any launch configuration and schedule. Fast: one atomicAdd per element.
void index_add(Mode mode, const View& out, const View& index, const View& src) {
  using namespace index_detail;
  index_args::check_index_add(out, index, src);
  const Geo g = index_args::make_geo(out, index, src);
  if (g.O == 0 || g.M == 0 || g.I == 0) return;
  visit_float(out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    mode == Mode::Fast ? run_add_fast<T>(g, out, index, src)
                       : run_add_deterministic<T>(g, out, index, src);
  });
}

const IndexKernels index_table = {.index_select = &index_select, .index_add = &index_add};

}  // namespace ditto::kernels::DITTO_GPU_NS
