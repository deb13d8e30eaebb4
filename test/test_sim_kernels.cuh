// ditto — CUDA kernels used by test/test_sim.cpp, the SIMT simulator's own tests.
// Written as real CUDA (they also compile with `nvcc -std=c++20 -arch=sm_80 -fmad=false`); on
// the host compiler they run on the simulator. Several are buggy ON PURPOSE (the "diagnostic"
// kernels at the end): the simulator must report them as ditto::Error.
#pragma once
#include "kernels/sim/cuda_shim.h"

namespace ditto_sim_test {

// ---- warp shuffles and votes ----------------------------------------------------------------

enum ShuffleMode : int { kIdx = 0, kUp = 1, kDown = 2, kXor = 3 };

/// One shuffle per thread of a 1-D block: out[t] = shuffle(masks[t], in[t], args[t], width).
template <class T>
__global__ void shuffle_kernel(int mode, int width, const unsigned* masks, const int* args,
                               const T* in, T* out) {
  const int t = threadIdx.x;
  const T v = in[t];
  T r = v;
  switch (mode) {
    case kIdx: r = __shfl_sync(masks[t], v, args[t], width); break;
    case kUp: r = __shfl_up_sync(masks[t], v, static_cast<unsigned>(args[t]), width); break;
    case kDown: r = __shfl_down_sync(masks[t], v, static_cast<unsigned>(args[t]), width); break;
    default: r = __shfl_xor_sync(masks[t], v, args[t], width); break;
  }
  out[t] = r;
}

/// Votes, match and reduce: one of each per thread of a 1-D block.
__global__ void vote_kernel(const unsigned* masks, const int* preds, unsigned* ballot, int* any,
                            int* all, unsigned* active, unsigned* match_any, unsigned* match_all,
                            int* match_all_pred, unsigned* reduce_add, int* reduce_min) {
  const int t = threadIdx.x;
  const unsigned m = masks[t];
  const int p = preds[t];
  active[t] = __activemask();
  ballot[t] = __ballot_sync(m, p);
  any[t] = __any_sync(m, p);
  all[t] = __all_sync(m, p);
  match_any[t] = __match_any_sync(m, p % 3);
  match_all[t] = __match_all_sync(m, p / 1000, &match_all_pred[t]);
  reduce_add[t] = __reduce_add_sync(m, static_cast<unsigned>(p));
  reduce_min[t] = __reduce_min_sync(m, p - 500);
}

/// Warp-level tree sum with __shfl_xor_sync over each full warp (blockDim.x % 32 == 0).
__global__ void warp_sum_kernel(const float* x, float* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = x[i];
  DITTO_UNROLL
  for (int offset = 16; offset > 0; offset /= 2) v = v + __shfl_xor_sync(0xffffffffu, v, offset);
  out[i] = v;
}

/// Exchange through shared memory ordered by __syncwarp (blockDim.x == 64). With `half`, each
/// half-warp synchronises on its own with a 16-lane mask.
__global__ void syncwarp_kernel(int half, const int* in, int* out) {
  __shared__ int s[64];
  const int t = threadIdx.x;
  const unsigned mask = half ? ((t % 32) < 16 ? 0x0000ffffu : 0xffff0000u) : 0xffffffffu;
  const int partner = half ? (t ^ 8) : (t ^ 16);
  for (int r = 0; r < 4; ++r) {
    s[t] = in[t] * (r + 1);
    __syncwarp(mask);
    out[r * 64 + t] = s[partner];
    __syncwarp(mask);  // before the next round overwrites s
  }
}

/// The built-in index variables of a multi-dimensional launch, 13 words per thread (at the
/// thread's global linear position): threadIdx, blockIdx, blockDim, gridDim, and a ballot of
/// (threadIdx.y odd) over the warp, which shows how threads are grouped into warps.
__global__ void index_kernel(unsigned* out) {
  const unsigned tl = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned bl = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned* o = out + 13 * (bl * blockDim.x * blockDim.y * blockDim.z + tl);
  o[0] = threadIdx.x;
  o[1] = threadIdx.y;
  o[2] = threadIdx.z;
  o[3] = blockIdx.x;
  o[4] = blockIdx.y;
  o[5] = blockIdx.z;
  o[6] = blockDim.x;
  o[7] = blockDim.y;
  o[8] = blockDim.z;
  o[9] = gridDim.x;
  o[10] = gridDim.y;
  o[11] = gridDim.z;
  o[12] = __ballot_sync(__activemask(), threadIdx.y % 2);
}

/// out[0] = the dynamic shared memory address modulo 16 (must be 0).
__global__ void smem_alignment_kernel(unsigned* out) {
  out[0] = static_cast<unsigned>(
      reinterpret_cast<unsigned long long>(ditto_dynamic_smem<float4>()) % 16);
}

// ---- barriers and shared memory -------------------------------------------------------------

/// partials[blockIdx.x] = sum of x[blockIdx.x * kThreads ...] over a fixed pairwise tree in
/// static shared memory (correct only because of the barriers).
template <int kThreads>
__global__ void block_sum_kernel(const float* x, int n, float* partials) {
  __shared__ float s[kThreads];
  const int i = blockIdx.x * kThreads + threadIdx.x;
  s[threadIdx.x] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride)
      s[threadIdx.x] = s[threadIdx.x] + s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = s[0];
}

/// The same tree in dynamic shared memory but WITHOUT the barriers inside the loop: a race that
/// a random schedule must expose.
__global__ void racy_block_sum_kernel(const float* x, float* partials) {
  float* s = ditto_dynamic_smem<float>();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  s[threadIdx.x] = x[i];
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride)
      s[threadIdx.x] = s[threadIdx.x] + s[threadIdx.x + stride];
  }
  __syncthreads();
  if (threadIdx.x == 0) partials[blockIdx.x] = s[0];
}

/// __syncthreads_count/_and/_or of pred[t] for each block.
__global__ void barrier_pred_kernel(const int* pred, int* count, int* all, int* any) {
  const int p = pred[blockIdx.x * blockDim.x + threadIdx.x];
  const int c = __syncthreads_count(p);
  const int a = __syncthreads_and(p);
  const int o = __syncthreads_or(p);
  if (threadIdx.x == 0) {
    count[blockIdx.x] = c;
    all[blockIdx.x] = a;
    any[blockIdx.x] = o;
  }
}

/// Shared memory isolation: every block fills static and dynamic shared memory with values of
/// its own, yields many times (barriers, atomics), and checks nothing else wrote there.
/// first_dyn[global thread] = the dynamic shared memory word seen before any write (junk).
__global__ void smem_isolation_kernel(int rounds, int* bad, unsigned* first_dyn, int* yields) {
  __shared__ int s[256];
  int* d = ditto_dynamic_smem<int>();
  const int t = threadIdx.x;
  const int gid = blockIdx.x * blockDim.x + t;
  first_dyn[gid] = static_cast<unsigned>(d[t]);
  __syncthreads();
  for (int r = 0; r < rounds; ++r) {
    const int mine = (static_cast<int>(blockIdx.x) * 1000 + t) * 16 + r;
    s[t] = mine;
    d[t] = -mine;
    atomicAdd(yields, 1);  // a yield point under the random schedule
    __syncthreads();
    const int j = (t + 17) % static_cast<int>(blockDim.x);
    const int theirs = (static_cast<int>(blockIdx.x) * 1000 + j) * 16 + r;
    if (s[j] != theirs || d[j] != -theirs) atomicAdd(bad, 1);
    __syncthreads();
  }
}

// ---- atomics ---------------------------------------------------------------------------------

struct AtomicCounters {
  int i_add;
  unsigned u_add;
  unsigned long long ull_add;
  long long ll_add;
  float f_add;
  double d_add;
  int i_max, i_min;
  unsigned u_max;
  long long ll_min;
  unsigned cas_count;
  unsigned long long cas64_count;
  unsigned or_bits;
  unsigned xor_bits;
  int sub;
  unsigned inc;
  unsigned exch_last;
  unsigned ticket;
};

/// Every atomic the shim offers, with results that are exact whatever the order.
__global__ void atomics_kernel(AtomicCounters* c, unsigned* tickets) {
  const int gid = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&c->i_add, 1);
  atomicAdd(&c->u_add, 3u);
  atomicAdd(&c->ull_add, 1ull << 33);
  atomicAdd(&c->ll_add, -5ll);
  atomicAdd(&c->f_add, 1.0f);  // exact: integers below 2^24
  atomicAdd(&c->d_add, 0.25);
  atomicMax(&c->i_max, (gid * 7919) % 100003);
  atomicMin(&c->i_min, -((gid * 7919) % 100003));
  atomicMax(&c->u_max, static_cast<unsigned>(gid));
  atomicMin(&c->ll_min, -static_cast<long long>(gid) * 1000000007ll);
  // Lock-free increments through CAS loops (retries happen under the random schedule).
  unsigned old = c->cas_count, assumed;
  do {
    assumed = old;
    old = atomicCAS(&c->cas_count, assumed, assumed + 1u);
  } while (old != assumed);
  unsigned long long old64 = c->cas64_count, assumed64;
  do {
    assumed64 = old64;
    old64 = atomicCAS(&c->cas64_count, assumed64, assumed64 + 2ull);
  } while (old64 != assumed64);
  atomicOr(&c->or_bits, 1u << (gid % 32));
  atomicXor(&c->xor_bits, 1u << (gid % 32));
  atomicSub(&c->sub, 2);
  atomicInc(&c->inc, 9u);  // wraps to 0 after 9
  atomicExch(&c->exch_last, static_cast<unsigned>(gid));
  tickets[gid] = atomicAdd(&c->ticket, 1u);  // a permutation of 0..n-1
}

/// tickets[gid] = the order in which threads reached the atomic (a fingerprint of the schedule).
__global__ void ticket_kernel(unsigned* counter, unsigned* tickets) {
  const int gid = blockIdx.x * blockDim.x + threadIdx.x;
  tickets[gid] = atomicAdd(counter, 1u);
  __syncthreads();
  tickets[gid] = tickets[gid] * 65536u + atomicAdd(counter + 1, 1u);
}

/// Fast-mode style sum: one float atomicAdd per element (order-dependent rounding).
__global__ void atomic_sum_kernel(const float* x, int n, float* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(out, x[i]);
}

// ---- diagnostics: kernels with deliberate bugs ------------------------------------------------

/// Threads of one block reach two different __syncthreads() call sites.
__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
    out[threadIdx.x] = 1;
  } else {
    __syncthreads();
    out[threadIdx.x] = 2;
  }
}

/// Thread 5 returns early; the others then wait at a barrier.
__global__ void barrier_after_exit_kernel(int* out) {
  if (threadIdx.x == 5) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

/// Lane 3 returns early; the rest shuffle with a full mask that still names it.
__global__ void shuffle_exited_lane_kernel(float* out) {
  if (threadIdx.x == 3) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, out[threadIdx.x], 1);
}

/// Half the warp passes a full mask, the other half a half-warp mask.
__global__ void mask_mismatch_kernel(int* out) {
  const unsigned mask = threadIdx.x < 16 ? 0xffffffffu : 0xffff0000u;
  out[threadIdx.x] = __shfl_sync(mask, static_cast<int>(threadIdx.x), 0);
}

/// A mask that does not include the calling lane.
__global__ void mask_without_self_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0x1u, static_cast<int>(threadIdx.x), 0);
}

/// A width that is not a power of two.
__global__ void bad_width_kernel(int* out) {
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1, 12);
}

/// Thread 0 waits at a barrier while lanes 1..31 wait for it in a shuffle: nobody can run.
__global__ void deadlock_kernel(int* out) {
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 0);
  }
}

/// A kernel assertion that fails for one element.
__global__ void assert_kernel(const int* x, int* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  DITTO_KERNEL_ASSERT(x[i] < 100);
  out[i] = x[i];
}

/// __trap() in one thread.
__global__ void trap_kernel(int trap_at) {
  if (static_cast<int>(threadIdx.x) == trap_at) __trap();
}

/// printf from a kernel (only when asked, to keep test output quiet).
__global__ void printf_kernel(int enabled) {
  if (enabled) printf("sim printf: block %u thread %u\n", blockIdx.x, threadIdx.x);
}

}  // namespace ditto_sim_test
