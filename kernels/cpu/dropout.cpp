// ditto — CPU dropout kernels (interface and rule: kernels/dropout.h). Each element's result
// depends on its own counter (Deterministic) or its own thread-keyed stream (Fast) only, so the
// split across threads never changes a bit; nothing reduces.
#include "kernels/dropout.h"

#include <algorithm>
#include <cstdint>

#include "core/threads.h"
#include "kernels/common/dropout_args.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/philox_block.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;
using u8 = std::uint8_t;
using dropout_args::Consts;

template <class T>
inline void keep_and_scale(const Consts<T>& c, T u, T x, T& out, u8& mask) {
  const bool keep = u < c.keep_below;
  mask = keep ? 1 : 0;
  out = (x * T(keep ? 1 : 0)) * c.scale;  // the composition's order: (x * mask) * scale
}

// Deterministic: element i draws counter offset + i. Blocks of kBlock counters are drawn at once
// (philox_block, vectorised); the blocks are split across threads.
template <class T>
void forward_deterministic(const T* x, T* out, u8* mask, i64 n, u64 seed, u64 offset,
                           const Consts<T>& c) {
  const i64 blocks = (n + kBlock - 1) / kBlock;
  parallel_ranges(blocks, threads_for(n), [&](i64 lo, i64 hi) {
    WordBlock blk;
    for (i64 b = lo; b < hi; ++b) {
      const i64 i0 = b * kBlock;
      philox_block(seed, offset + static_cast<u64>(i0), blk);
      const int len = static_cast<int>(std::min<i64>(kBlock, n - i0));
      // uniform01<T>(blk.words(l)) read from the block's word arrays directly, so the loop
      // vectorises (through the Words struct GCC kept it scalar, a branch per element).
      // The constants are copied to locals: the stores through `out` could otherwise alias c.
      const T* xb = x + i0;
      T* ob = out + i0;
      u8* mb = mask + i0;
      const T keep_below = c.keep_below, scale = c.scale;
#pragma omp simd
      for (int l = 0; l < len; ++l) {
        T u;
        if constexpr (sizeof(T) == 4)
          u = philox::uniform01_f32(blk.w[0][l]);
        else
          u = philox::uniform01_f64(blk.w[0][l], blk.w[1][l]);
        const bool keep = u < keep_below;  // keep_and_scale's rule, spelled out
        mb[l] = keep ? 1 : 0;
        ob[l] = (xb[l] * (keep ? T(1) : T(0))) * scale;
      }
    }
  });
}

// Fast: thread t of T' = get_num_threads() takes i = t, t + T', ... with draws j of stream t + 1
// (random_uniform_by_thread's keying); which OS thread runs t does not matter.
template <class T>
void forward_fast(const T* x, T* out, u8* mask, i64 n, u64 seed, u64 offset, const Consts<T>& c) {
  const i64 team = std::max(1, get_num_threads());
  parallel_ranges(team, threads_for(n), [&](i64 lo, i64 hi) {
    for (i64 t = lo; t < hi; ++t) {
      u64 j = 0;
      for (i64 i = t; i < n; i += team, ++j) {
        const philox::Words d = philox::draw_stream(seed, static_cast<u64>(t) + 1, offset + j);
        keep_and_scale(c, philox::uniform01<T>(d), x[i], out[i], mask[i]);
      }
    }
  });
}

template <class T>
void backward_t(const T* g, const u8* mask, T* dx, i64 n, const Consts<T>& c) {
  parallel_ranges(n, threads_for(n), [&](i64 lo, i64 hi) {
#pragma omp simd
    for (i64 i = lo; i < hi; ++i) dx[i] = (g[i] * T(mask[i])) * c.scale;
  });
}

}  // namespace

void dropout_forward(Mode mode, const View& x, const View& out, const View& mask, u64 seed,
                     u64 offset, double p) {
  dropout_args::check_forward(x, out, mask, p);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Consts<T> c = dropout_args::consts<T>(p);
    const T* xp = static_cast<const T*>(x.data);
    T* op = static_cast<T*>(out.data);
    u8* mp = static_cast<u8*>(mask.data);
    if (mode == Mode::Deterministic)
      forward_deterministic(xp, op, mp, x.numel(), seed, offset, c);
    else
      forward_fast(xp, op, mp, x.numel(), seed, offset, c);
  });
}

void dropout_backward(const View& g, const View& mask, const View& dx, double p) {
  dropout_args::check_backward(g, mask, dx, p);
  visit_float(g.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_t(static_cast<const T*>(g.data), static_cast<const u8*>(mask.data),
               static_cast<T*>(dx.data), g.numel(), dropout_args::consts<T>(p));
  });
}

const DropoutKernels dropout_table = {.forward = &dropout_forward, .backward = &dropout_backward};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
