// ditto — GPU reduction kernels (cuda and sim; interface: kernels/reduce.h; canonical order:
// docs/determinism.md "Long reductions", kernels/cpu/canonical_sum.h).
//
// Deterministic mode (every op; Fast mode too except float sums) runs the canonical tree, level
// by level:
//   level 1: work item = (output o, chunk c) of the input's logical ranges; one 256-thread block
//     per item (blocks grid-stride over items). Thread j is lane j: p = e, then
//     p = op(p, x[1024c + 256t + j]) for t = 0..3 (where < n); then the fixed pairwise tree
//     s = 128, 64, ..., 1 (see block_tree). The chunk partial goes to a scratch buffer (K, m), or
//     straight to the output when the range is a single chunk (m == 1).
//   level 2, 3, ...: the same kernel over the partials (K, m) -> (K, ceil(m / 1024)), until one
//     value per output is left.
// A block writes each item's partial separately and the item -> data mapping depends on shapes
// only, so neither the grid size nor the block schedule can change which values meet in an
// operation: the bits equal cpu::reduce's for every launch configuration.
//   sum f32/f64: partials in T; max/min: CanonMax/CanonMin with -inf/+inf lane starts;
//   sum i64/u8: exact uint64 arithmetic (wraps like two's complement); argmax/argmin: (value,
//   index) pairs combined so that the first extreme index wins (order-independent).
//
// Fast mode float sums: what a speed-first library does. Work item = (output o, slice s); the
// block's threads sum elements s*256 + j, + S*256, ... of o's range (grid-stride over the slice),
// reduce inside the block in any order, and thread 0 does ONE atomicAdd of the block's partial
// into the zero-initialised output. The bits depend on the order in which blocks finish (on sim:
// on the schedule seed).
//
// Short ranges (n <= 1024, one chunk): one warp per output runs the same chunk (warp_canon_kernel)
// — a 256-thread block per output would leave 224 threads idle for a 32-element softmax row.
//
// Known cost on GPUs: one block per (output, chunk) means a reduction over a strided dim (e.g.
// dim 0 of a row-major (N, C) tensor) reads uncoalesced; correct, but slower than a layout that
// gives a warp adjacent outputs.
#pragma once
#include "kernels/cuda/gpu_common.cuh"
#include "kernels/cuda/block_tree.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "core/error.h"
#include "core/mode.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/reduce_args.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/reduce.h"

namespace ditto::kernels::DITTO_GPU_NS {
namespace reduce_detail {

using i64 = std::int64_t;
using u64 = std::uint64_t;

constexpr int kLanes = 256;   // threads per block = lanes per chunk (cpu::kCanonLanes)
constexpr i64 kChunk = 1024;  // elements per chunk (cpu::kCanonChunk)
constexpr int kSteps = 4;     // sequential steps per lane (cpu::kCanonSteps)
static_assert(kLanes == cpu::kCanonLanes && kChunk == cpu::kCanonChunk &&
                  kSteps == cpu::kCanonSteps,
              "the GPU kernels implement the canonical shape of canonical_sum.h");
constexpr int kMaxBlocks = 16384;

/// One level of a reduction: K outputs, each over a logical range of n elements (m chunks).
/// Kept dims give each output's input offset (kin) and output offset (kout); reduced dims give
/// the offset of logical element k (row-major over rshape). POD: passed to kernels by value.
struct Geo : reduce_args::Dims {  // K, n, kept and reduced dims (kernels/common/reduce_args.h)
  i64 m = 1;                      // chunks per output = ceil(n / 1024)
};

/// Input and output offsets of output o (row-major over the kept dims).
__host__ __device__ inline void kept_offsets(const Geo& g, i64 o, i64& in_off, i64& out_off) {
  in_off = 0;
  out_off = 0;
  for (int d = g.nk - 1; d >= 0; --d) {
    const i64 idx = o % g.kshape[d];
    o /= g.kshape[d];
    in_off += idx * g.kin[d];
    out_off += idx * g.kout[d];
  }
}

/// Input offset of logical element k of an output's range.
__host__ __device__ inline i64 reduced_offset(const Geo& g, i64 k) {
  if (g.nr == 1) return k * g.rstride[0];
  i64 off = 0;
  for (int d = g.nr - 1; d >= 0; --d) {
    off += (k % g.rshape[d]) * g.rstride[d];
    k /= g.rshape[d];
  }
  return off;
}

// ---- policies: what a lane accumulates, its operator, what is stored ----

/// Float sum, max, min and integer max/min: lanes in T with a canonical_sum.h operator.
template <class T, class Op>
struct CanonPol {
  using In = T;
  using Acc = T;
  using Out = T;
  __host__ __device__ static Acc load(In v, i64 /*k*/) { return v; }
  __host__ __device__ static Acc op(Acc a, Acc b) { return Op::apply(a, b); }
  __host__ __device__ static Out store(Acc a) { return a; }
};

/// Integer sums (i64 -> i64, u8 -> i64): exact in uint64 (defined wrap-around), like the CPU's.
template <class T>
struct IntSumPol {
  using In = T;
  using Acc = u64;
  using Out = std::int64_t;
  __host__ __device__ static Acc load(In v, i64 /*k*/) { return static_cast<Acc>(v); }
  __host__ __device__ static Acc op(Acc a, Acc b) { return a + b; }
  __host__ __device__ static Out store(Acc a) { return static_cast<Out>(a); }
};

/// A candidate of argmax/argmin: a value and its index in the logical range.
template <class T>
struct ArgAcc {
  T v;
  i64 i;
};

/// argmax (kMax) / argmin: op returns the better candidate, where NaN beats everything and ties
/// (equal values, NaN vs NaN) go to the smaller index. That makes op associative and commutative
/// with result "the first extreme element", exactly the CPU's definition, whatever the tree.
template <class T, bool kMax>
struct ArgPol {
  using In = T;
  using Acc = ArgAcc<T>;
  using Out = std::int64_t;
  __host__ __device__ static Acc load(In v, i64 k) { return Acc{v, k}; }
  __host__ __device__ static Acc op(Acc a, Acc b) {
    if constexpr (std::is_floating_point_v<T>) {
      const bool an = a.v != a.v, bn = b.v != b.v;  // NOLINT(misc-redundant-expression): NaN
      if (an || bn) {
        if (an && bn) return a.i <= b.i ? a : b;
        return an ? a : b;
      }
    }
    if (kMax ? b.v > a.v : b.v < a.v) return b;
    if (kMax ? a.v > b.v : a.v < b.v) return a;
    return a.i <= b.i ? a : b;
  }
  __host__ __device__ static Out store(Acc a) { return a.i; }
};

// ---- warp shuffle of the (value, index) pairs (block_tree: kernels/cuda/block_tree.h) ----

using ::ditto::kernels::DITTO_GPU_NS::shfl_down;  // the lane types' overload

template <class T>
__device__ __forceinline__ ArgAcc<T> shfl_down(ArgAcc<T> a, unsigned s) {
  return ArgAcc<T>{shfl_down(a.v, s), shfl_down(a.i, s)};
}

/// One level of the canonical reduction. In = Pol::In at level 1 (elements, converted by
/// Pol::load), Pol::Acc at later levels (partials, used as they are). Writes part[o * m + c]
/// when g.m > 1, else out[kout offset of o]. `e` is the operator's identity (the lanes' start).
template <class Pol, class In>
__global__ void __launch_bounds__(kLanes)
    canon_kernel(const In* x, Geo g, typename Pol::Acc* part, typename Pol::Out* out,
                 typename Pol::Acc e) {
  using Acc = typename Pol::Acc;
  // Two buffers, alternating per item: item i's reads of sh[i & 1] (warp 0, after the barrier)
  // finish before that warp reaches item i + 1's barrier, which every thread must pass before
  // item i + 2 writes sh[i & 1] again. One barrier per chunk.
  __shared__ Acc sh[2][kLanes];  // (2, 256)
  const int j = static_cast<int>(threadIdx.x);
  const i64 items = g.K * g.m;
  int buf = 0;
  // The item index depends on blockIdx only: every thread of a block runs the same iterations,
  // so all reach the barrier in block_tree equally often.
  for (i64 item = blockIdx.x; item < items; item += gridDim.x, buf ^= 1) {
    const i64 o = item / g.m, c = item % g.m;
    i64 in_off, out_off;
    kept_offsets(g, o, in_off, out_off);
    const In* base = x + in_off;
    Acc p = e;  // lane j: the spec's start, then t = 0..3 in order
    DITTO_UNROLL
    for (int t = 0; t < kSteps; ++t) {
      const i64 k = c * kChunk + t * kLanes + j;
      if (k < g.n) {
        const In v = base[reduced_offset(g, k)];
        if constexpr (std::is_same_v<In, Acc>) {
          p = Pol::op(p, v);
        } else {
          p = Pol::op(p, Pol::load(v, k));
        }
      }
    }
    p = block_tree<Pol>(p, sh[buf]);
    if (j == 0) {
      if (g.m == 1) {
        out[out_off] = Pol::store(p);
      } else {
        part[item] = p;  // (K, m) row-major: item = o * m + c
      }
    }
  }
}

/// A short reduction (n <= 1024: one canonical chunk per output) by one warp per output instead
/// of a block: lane t holds canonical lanes t + 32r (r = 0..7), folds in their four steps in the
/// spec's order, and warp_tree finishes the chunk's tree — the same operations as canon_kernel's
/// (and canonical_chunk's) for every value, with an eighth of the threads, no shared memory and
/// no barrier. Blocks of kWarpBlock threads (fixed: the override cannot change it).
constexpr int kWarpBlock = 256;
template <class Pol, class In>
__global__ void __launch_bounds__(kWarpBlock)
    warp_canon_kernel(const In* x, Geo g, typename Pol::Out* out, typename Pol::Acc e) {
  using Acc = typename Pol::Acc;
  const int t = static_cast<int>(threadIdx.x) & 31;
  const i64 warps = kWarpBlock / 32;
  // o depends on the warp only: all 32 lanes run the same iterations (warp_tree's shuffles).
  for (i64 o = static_cast<i64>(blockIdx.x) * warps + threadIdx.x / 32; o < g.K;
       o += static_cast<i64>(gridDim.x) * warps) {
    i64 in_off, out_off;
    kept_offsets(g, o, in_off, out_off);
    const In* base = x + in_off;
    Acc p[8];  // (8,) canonical lanes t + 32r
    DITTO_UNROLL
    for (int r = 0; r < 8; ++r) {
      const int j = t + 32 * r;
      p[r] = e;
      DITTO_UNROLL
      for (int step = 0; step < kSteps; ++step) {
        const i64 k = step * kLanes + j;
        if (k < g.n) {
          const In v = base[reduced_offset(g, k)];
          if constexpr (std::is_same_v<In, Acc>) {
            p[r] = Pol::op(p[r], v);
          } else {
            p[r] = Pol::op(p[r], Pol::load(v, k));
          }
        }
      }
    }
    const Acc v = warp_tree<Pol>([&](int r) { return p[r]; });
    if (t == 0) out[out_off] = Pol::store(v);
  }
}

/// Fast-mode float sum: work item (output o, slice s) of S slices per output; see the file
/// comment. out must hold +0 at every output first.
template <class T>
__global__ void __launch_bounds__(kLanes) fast_sum_kernel(const T* x, Geo g, i64 slices, T* out) {
  __shared__ T sh[2][kLanes / 32];  // (2, warps) warp partials, alternating as in canon_kernel
  const int j = static_cast<int>(threadIdx.x);
  const i64 items = g.K * slices;
  int buf = 0;
  for (i64 item = blockIdx.x; item < items; item += gridDim.x, buf ^= 1) {
    const i64 o = item / slices, s = item % slices;
    i64 in_off, out_off;
    kept_offsets(g, o, in_off, out_off);
    const T* base = x + in_off;
    T acc = T(0);
    for (i64 k = s * kLanes + j; k < g.n; k += slices * kLanes) acc += base[reduced_offset(g, k)];
    DITTO_UNROLL
    for (int w = 16; w >= 1; w /= 2) acc += __shfl_xor_sync(kFullMask, acc, w);
    if ((j & 31) == 0) sh[buf][j / 32] = acc;
    __syncthreads();
    if (j == 0) {
      T b = sh[buf][0];
      for (int w = 1; w < kLanes / 32; ++w) b += sh[buf][w];
      atomicAdd(out + out_off, b);  // order across blocks = completion order (Fast mode)
    }
  }
}

/// out[kout offset of o] = 0 for every output (empty sums; the fast sum's accumulator start).
template <class Out>
__global__ void zero_kernel(Geo g, Out* out) {
  const i64 stride = static_cast<i64>(gridDim.x) * blockDim.x;
  for (i64 o = static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x; o < g.K; o += stride) {
    i64 in_off, out_off;
    kept_offsets(g, o, in_off, out_off);
    out[out_off] = Out(0);
  }
}

// ---- host side ----

inline i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

/// Level-1 geometry: size-1 dims dropped, neighbours that step exactly over each other merged
/// (the logical order is unchanged, so the bits are too), as cpu::reduce normalises.
inline Geo make_geo(const View& in, int n_kept, const View& out) {
  Geo g;
  static_cast<reduce_args::Dims&>(g) = reduce_args::normalize(in, n_kept, out);
  g.m = ceil_div(g.n, kChunk);
  return g;
}

/// The geometry of a later level: input = partials (K, n) row-major, same outputs.
inline Geo partials_geo(const Geo& g1, i64 n) {
  Geo g = g1;
  g.n = n;
  g.m = ceil_div(n, kChunk);
  g.nr = 1;
  g.rshape[0] = n;
  g.rstride[0] = 1;
  i64 s = n;  // contiguous strides of (kshape..., n)
  for (int d = g.nk - 1; d >= 0; --d) {
    g.kin[d] = s;
    s *= g.kshape[d];
  }
  return g;
}

/// Runs the canonical reduction with policy Pol (see the file comment); g.n >= 1, g.K >= 1.
template <class Pol>
void run_canon(const Geo& g1, const void* x, void* out, typename Pol::Acc e) {
  using Acc = typename Pol::Acc;
  using Out = typename Pol::Out;
  auto* o = static_cast<Out*>(out);
  const auto* in = static_cast<const typename Pol::In*>(x);
  if (g1.m == 1) {  // a short range: one warp per output
    ditto::gpu::launch(warp_canon_kernel<Pol, typename Pol::In>,
                       dim3(pick_blocks(g1.K, kWarpBlock / 32, kMaxBlocks)), dim3(kWarpBlock), 0,
                       in, g1, o, e);
    ditto::gpu::device_synchronize();
    return;
  }
  // Ping-pong partial buffers: level 1 writes A (K, m1), level 2 B (K, m2), level 3 A (K, m3),
  // ...; m3 <= m1, so A and B suffice.
  const i64 m2 = ceil_div(g1.m, kChunk);
  const std::size_t bytes_a = static_cast<std::size_t>(g1.K * g1.m) * sizeof(Acc);
  const std::size_t off_b = (bytes_a + 255) / 256 * 256;
  const std::size_t bytes_b = m2 > 1 ? static_cast<std::size_t>(g1.K * m2) * sizeof(Acc) : 0;
  Scratch scratch(this_device(), off_b + bytes_b);
  Acc* cur = scratch.get<Acc>();
  Acc* next = reinterpret_cast<Acc*>(scratch.get<unsigned char>() + off_b);
  ditto::gpu::launch(canon_kernel<Pol, typename Pol::In>,
                     dim3(pick_blocks(g1.K * g1.m, 1, kMaxBlocks)), dim3(kLanes), 0, in, g1, cur, o,
                     e);
  for (i64 n = g1.m;;) {
    const Geo g = partials_geo(g1, n);
    ditto::gpu::launch(canon_kernel<Pol, Acc>, dim3(pick_blocks(g.K * g.m, 1, kMaxBlocks)),
                       dim3(kLanes), 0, static_cast<const Acc*>(cur), g, next, o, e);
    if (g.m == 1) break;
    std::swap(cur, next);
    n = g.m;
  }
  ditto::gpu::device_synchronize();  // before the scratch buffer is freed
}

/// Elements per slice at least (so a block's threads each sum >= 8 values) and the number of
/// work items aimed at (about a GPU's worth of resident blocks) in Fast mode.
constexpr i64 kFastMinSlice = 8 * kLanes;
constexpr i64 kFastTargetItems = 1024;

template <class T>
void run_fast_sum(const Geo& g, const void* x, void* out) {
  auto* o = static_cast<T*>(out);
  ditto::gpu::launch(zero_kernel<T>, dim3(pick_blocks(g.K, kLanes, kMaxBlocks)), dim3(kLanes), 0, g,
                     o);
  const i64 slices = std::clamp<i64>(
      std::min(ceil_div(g.n, kFastMinSlice), std::max<i64>(1, kFastTargetItems / g.K)), 1, g.n);
  ditto::gpu::launch(fast_sum_kernel<T>, dim3(pick_blocks(g.K * slices, 1, kMaxBlocks)),
                     dim3(kLanes), 0, static_cast<const T*>(x), g, slices, o);
  ditto::gpu::device_synchronize();
}

template <class T>
void run_compare(ReduceOp op, const Geo& g, const void* x, void* out) {
  using cpu::CanonMax;
  using cpu::CanonMin;
  const T lo = CanonMax::identity<T>(), hi = CanonMin::identity<T>();
  constexpr i64 kNoIndex = std::numeric_limits<i64>::max();  // loses every tie
  switch (op) {
    case ReduceOp::max: run_canon<CanonPol<T, CanonMax>>(g, x, out, lo); break;
    case ReduceOp::min: run_canon<CanonPol<T, CanonMin>>(g, x, out, hi); break;
    case ReduceOp::argmax: run_canon<ArgPol<T, true>>(g, x, out, ArgAcc<T>{lo, kNoIndex}); break;
    case ReduceOp::argmin: run_canon<ArgPol<T, false>>(g, x, out, ArgAcc<T>{hi, kNoIndex}); break;
    case ReduceOp::sum: break;
  }
}

template <class Out>
void fill_zero(const Geo& g, void* out) {
  ditto::gpu::launch(zero_kernel<Out>, dim3(pick_blocks(g.K, kLanes, kMaxBlocks)), dim3(kLanes), 0,
                     g, static_cast<Out*>(out));
  ditto::gpu::device_synchronize();
}

}  // namespace reduce_detail

// Defined (not inline) here: this header is included by exactly one translation unit per
// compiler (kernels/cuda/reduce.cu, kernels/sim/reduce_sim.cpp), which implement kernels/reduce.h.
/// See kernels/reduce.h. Deterministic: the canonical tree, bitwise equal to cpu::reduce for any
/// launch configuration and schedule. Fast: float sums with one atomicAdd per block (bits depend
/// on the block schedule); the other ops run the deterministic kernels.
void reduce(ReduceOp op, Mode mode, const View& in, int n_kept, const View& out) {
  using namespace reduce_detail;
  reduce_args::check_reduce(op, in, n_kept, out);
  const DType it = in.dtype, ot = out.dtype;

  const Geo g = make_geo(in, n_kept, out);
  if (g.K == 0) return;
  if (g.n == 0) {
    reduce_args::check_empty_range(op, in, n_kept);
    visit_dtype(ot, [&](auto tag) { fill_zero<typename decltype(tag)::type>(g, out.data); });
    return;
  }
  const void* x = in.data;
  visit_dtype(it, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (op == ReduceOp::sum) {
      if constexpr (std::is_floating_point_v<T>) {
        if (mode == Mode::Fast) {
          run_fast_sum<T>(g, x, out.data);
        } else {
          run_canon<CanonPol<T, cpu::CanonSum>>(g, x, out.data, T(0));
        }
      } else {
        run_canon<IntSumPol<T>>(g, x, out.data, 0);
      }
      return;
    }
    // max/min/argmax/argmin: order-independent up to the sign of zero (and which NaN), which the
    // canonical tree fixes, so Fast mode runs the deterministic kernels too (as on the CPU).
    run_compare<T>(op, g, x, out.data);
  });
}

const ReduceKernels reduce_table = {.reduce = &reduce};

}  // namespace ditto::kernels::DITTO_GPU_NS
