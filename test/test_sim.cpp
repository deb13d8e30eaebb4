// ditto — tests of the SIMT simulator (kernels/sim/) running the CUDA kernels of
// test/test_sim_kernels.cuh: shuffle/vote semantics against the CUDA Programming Guide (expected
// values computed here from the guide's wording, not from the simulator's PTX arithmetic),
// barrier semantics under random schedules, exact atomics, shared memory isolation, every
// diagnostic (each must be a ditto::Error with a helpful message, never a crash), bitwise
// reproducibility of a seeded schedule, and the nondeterminism of atomic float sums.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/launch.h"
#include "kernels/sim/runtime.h"
#include "test/test_sim_kernels.cuh"

namespace {

namespace k = ditto_sim_test;
using ditto::gpu::launch;
using ditto::sim::Order;
using ditto::sim::Schedule;
using ditto::sim::ScheduleGuard;

Schedule random_schedule(std::uint64_t seed) { return Schedule{Order::kRandom, seed}; }
Schedule in_order() { return Schedule{Order::kInOrder, 0}; }

/// The message of the ditto::Error thrown by f, or "" if it did not throw one.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ditto::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

template <class T>
T all_ones() {
  T v;
  std::memset(&v, 0xFF, sizeof v);
  return v;
}

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// ---- shuffle expectations, from the CUDA Programming Guide's description ----

/// Source lane for `lane` (0..31), or `lane` itself when the guide says the value is unchanged.
int guide_source(int mode, int lane, int arg, int width) {
  const int group = lane / width, in_group = lane % width;
  switch (mode) {
    case k::kIdx:  // "srcLane modulo width", within the caller's group of width lanes
      return group * width + ((arg % width) + width) % width;
    case k::kUp:  // "the lower delta lanes [of each group] will be unchanged"
      return in_group >= arg ? lane - arg : lane;
    case k::kDown:  // "the upper delta lanes will remain unchanged"
      return in_group + arg < width ? lane + arg : lane;
    default: {  // xor: earlier groups may be read; "later groups ... their own value"
      const int src = lane ^ arg;
      return src / width > group ? lane : src;
    }
  }
}

enum MaskConfig { kFullMask, kHalfMasks, kParityMasks };

unsigned mask_for(MaskConfig cfg, int lane) {
  switch (cfg) {
    case kFullMask: return 0xffffffffu;
    case kHalfMasks: return lane < 16 ? 0x0000ffffu : 0xffff0000u;
    default: return (lane % 2 == 0) ? 0x55555555u : 0xaaaaaaaau;
  }
}

template <class T>
void check_shuffles(int nthreads, int mode, int width, MaskConfig cfg, std::mt19937& gen) {
  std::vector<unsigned> masks(nthreads);
  std::vector<int> args(nthreads);
  std::vector<T> in(nthreads), out(nthreads);
  std::uniform_int_distribution<int> idx_arg(-8, 40), delta(0, 31);
  for (int t = 0; t < nthreads; ++t) {
    masks[t] = mask_for(cfg, t % 32);
    // Per-lane arguments; xor masks below 32 (the guide's laneMask is a lane index pattern).
    args[t] = mode == k::kIdx ? idx_arg(gen) : delta(gen);
    in[t] = static_cast<T>(1000 + t) / static_cast<T>(7);  // distinct, non-integral
  }
  launch(k::shuffle_kernel<T>, dim3(1), dim3(nthreads), 0, mode, width, masks.data(), args.data(),
         in.data(), out.data());
  for (int t = 0; t < nthreads; ++t) {
    const int lane = t % 32, base = t - lane;
    const int lanes_here = std::min(32, nthreads - base);  // a partial last warp
    const unsigned m = masks[t] & (lanes_here == 32 ? ~0u : (1u << lanes_here) - 1);
    const int src = guide_source(mode, lane, args[t], width);
    const bool defined = src < lanes_here && ((m >> src) & 1);
    const T expect = defined ? in[base + src] : all_ones<T>();
    if (!same_bits(out[t], expect)) {
      FAIL_CHECK("shuffle mode " << mode << " width " << width << " mask config " << cfg
                                 << " block " << nthreads << " thread " << t << " arg " << args[t]
                                 << ": got " << out[t] << ", want " << expect);
      return;
    }
  }
}

TEST_SUITE_BEGIN("sim");  // kernel-level: names each device itself (not rerun per device)

TEST_CASE("sim: shuffles follow the CUDA programming guide (widths, masks, partial warps)") {
  ScheduleGuard g(random_schedule(7));
  std::mt19937 gen(1234);
  int launches = 0;
  for (int nthreads : {32, 64, 48, 20}) {
    for (int width : {32, 16, 8, 4, 2, 1}) {
      for (int mode : {k::kIdx, k::kUp, k::kDown, k::kXor}) {
        for (MaskConfig cfg : {kFullMask, kHalfMasks, kParityMasks}) {
          check_shuffles<float>(nthreads, mode, width, cfg, gen);
          check_shuffles<double>(nthreads, mode, width, cfg, gen);
          check_shuffles<long long>(nthreads, mode, width, cfg, gen);
          launches += 3;
        }
      }
    }
  }
  CHECK(launches == 4 * 6 * 4 * 3 * 3);
}

TEST_CASE("sim: shuffle results do not depend on the schedule") {
  std::mt19937 gen(99);
  for (Schedule s : {in_order(), random_schedule(1), random_schedule(2)}) {
    ScheduleGuard g(s);
    check_shuffles<int>(64, k::kDown, 16, kFullMask, gen);
    check_shuffles<int>(64, k::kXor, 8, kHalfMasks, gen);
  }
}

TEST_CASE("sim: shuffle examples from the guide, spelled out") {
  // __shfl_down_sync(full, v, 1, 8): lane 7 of each 8-lane group keeps its value.
  std::vector<unsigned> masks(32, 0xffffffffu);
  std::vector<int> args(32, 1);
  std::vector<int> in(32), out(32);
  for (int t = 0; t < 32; ++t) in[t] = 100 + t;
  launch(k::shuffle_kernel<int>, dim3(1), dim3(32), 0, int(k::kDown), 8, masks.data(), args.data(),
         in.data(), out.data());
  CHECK(out[0] == 101);
  CHECK(out[6] == 107);
  CHECK(out[7] == 107);
  CHECK(out[15] == 115);
  // __shfl_sync(full, v, 0, 16): a broadcast of lane 0 / lane 16 per half warp.
  std::fill(args.begin(), args.end(), 0);
  launch(k::shuffle_kernel<int>, dim3(1), dim3(32), 0, int(k::kIdx), 16, masks.data(), args.data(),
         in.data(), out.data());
  CHECK(out[3] == 100);
  CHECK(out[20] == 116);
  // __shfl_xor_sync(full, v, 16, 16): lanes 16..31 read lanes 0..15 (an earlier group),
  // lanes 0..15 would read a later group and keep their own value.
  std::fill(args.begin(), args.end(), 16);
  launch(k::shuffle_kernel<int>, dim3(1), dim3(32), 0, int(k::kXor), 16, masks.data(), args.data(),
         in.data(), out.data());
  CHECK(out[2] == 102);
  CHECK(out[18] == 102);
}

TEST_CASE("sim: a warp butterfly sum is bitwise the host butterfly") {
  const int n = 256;
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(n), out(n), want(x);
  for (float& v : x) v = dist(gen);
  want = x;
  for (int offset = 16; offset > 0; offset /= 2) {
    std::vector<float> next(n);
    for (int i = 0; i < n; ++i) next[i] = want[i] + want[(i & ~31) | ((i & 31) ^ offset)];
    want = next;
  }
  for (std::uint64_t seed : {1, 2, 3}) {
    ScheduleGuard g(random_schedule(seed));
    launch(k::warp_sum_kernel, dim3(n / 64), dim3(64), 0, x.data(), out.data());
    CHECK(std::memcmp(out.data(), want.data(), n * sizeof(float)) == 0);
  }
}

TEST_CASE("sim: votes, __activemask, match and reduce follow the guide") {
  std::mt19937 gen(77);
  std::uniform_int_distribution<int> val(0, 2);
  for (int nthreads : {32, 64, 48, 7}) {
    for (MaskConfig cfg : {kFullMask, kHalfMasks, kParityMasks}) {
      for (bool one_differs : {false, true}) {
        std::vector<unsigned> masks(nthreads), ballot(nthreads), active(nthreads),
            match_any(nthreads), match_all(nthreads), reduce_add(nthreads);
        std::vector<int> preds(nthreads), any(nthreads), all(nthreads), match_all_pred(nthreads),
            reduce_min(nthreads);
        for (int t = 0; t < nthreads; ++t) {
          masks[t] = mask_for(cfg, t % 32);
          preds[t] = val(gen);
        }
        if (one_differs) preds[nthreads - 1] = 2001;  // breaks __match_all_sync of p / 1000
        launch(k::vote_kernel, dim3(1), dim3(nthreads), 0, masks.data(), preds.data(),
               ballot.data(), any.data(), all.data(), active.data(), match_any.data(),
               match_all.data(), match_all_pred.data(), reduce_add.data(), reduce_min.data());
        for (int t = 0; t < nthreads; ++t) {
          const int lane = t % 32, base = t - lane;
          const int lanes_here = std::min(32, nthreads - base);
          const unsigned exists = lanes_here == 32 ? ~0u : (1u << lanes_here) - 1;
          const unsigned m = masks[t] & exists;
          unsigned want_ballot = 0, want_match = 0, sum = 0;
          int minimum = 1 << 30;
          bool all_same = true;
          for (int j = 0; j < 32; ++j) {
            if (!((m >> j) & 1)) continue;
            const int p = preds[base + j];
            if (p != 0) want_ballot |= 1u << j;
            if (p % 3 == preds[t] % 3) want_match |= 1u << j;
            all_same = all_same && p / 1000 == preds[base + __builtin_ctz(m)] / 1000;
            sum += static_cast<unsigned>(p);
            minimum = std::min(minimum, p - 500);
          }
          INFO("block " << nthreads << " cfg " << cfg << " thread " << t);
          CHECK(ballot[t] == want_ballot);
          CHECK(any[t] == (want_ballot != 0 ? 1 : 0));
          CHECK(all[t] == (want_ballot == m ? 1 : 0));
          CHECK(active[t] == exists);
          CHECK(match_any[t] == want_match);
          CHECK(match_all[t] == (all_same ? m : 0u));
          CHECK(match_all_pred[t] == (all_same ? 1 : 0));
          CHECK(reduce_add[t] == sum);
          CHECK(reduce_min[t] == minimum);
        }
      }
    }
  }
}

TEST_CASE("sim: __syncwarp orders shared-memory exchanges (full and half-warp masks)") {
  std::vector<int> in(64), out(4 * 64);
  for (int t = 0; t < 64; ++t) in[t] = 3 * t + 1;
  for (int half : {0, 1}) {
    for (std::uint64_t seed : {1, 2, 3, 4}) {
      ScheduleGuard g(random_schedule(seed));
      launch(k::syncwarp_kernel, dim3(1), dim3(64), 0, half, in.data(), out.data());
      bool ok = true;
      for (int r = 0; r < 4; ++r) {
        for (int t = 0; t < 64; ++t) {
          const int partner = half ? (t ^ 8) : (t ^ 16);
          ok = ok && out[r * 64 + t] == in[partner] * (r + 1);
        }
      }
      CHECK(ok);
    }
  }
}

TEST_CASE("sim: built-in indices of multi-dimensional launches; warps are linear thread ranks") {
  const dim3 grid(2, 3, 2), block(16, 4, 2);
  const unsigned threads = 16 * 4 * 2, blocks = 2 * 3 * 2;
  std::vector<unsigned> out(13 * threads * blocks, 0xdeadbeef);
  launch(k::index_kernel, grid, block, 0, out.data());
  bool ok = true;
  for (unsigned b = 0; b < blocks; ++b) {
    for (unsigned t = 0; t < threads; ++t) {
      const unsigned* o = &out[13 * (b * threads + t)];
      const unsigned want[12] = {t % 16, t / 16 % 4, t / 64, b % 2, b / 2 % 3, b / 6,
                                 16,     4,          2,      2,     3,         2};
      for (int i = 0; i < 12; ++i) ok = ok && o[i] == want[i];
      // Warp w holds linear ranks 32w..32w+31: rows y = 2w%4 (even) and y+1 (odd).
      ok = ok && o[12] == 0xffff0000u;
    }
  }
  CHECK(ok);
  unsigned mis = 1;
  launch(k::smem_alignment_kernel, dim3(1), dim3(1), 48, &mis);
  CHECK(mis == 0u);
}

// ---- barriers ---------------------------------------------------------------------------------

/// The block_sum_kernel tree, on the host (same float operations in the same order).
std::vector<float> host_block_sums(const std::vector<float>& x, int threads) {
  const int n = static_cast<int>(x.size());
  const int blocks = (n + threads - 1) / threads;
  std::vector<float> partials(blocks);
  for (int b = 0; b < blocks; ++b) {
    std::vector<float> s(threads);
    for (int t = 0; t < threads; ++t) s[t] = b * threads + t < n ? x[b * threads + t] : 0.0f;
    for (int stride = threads / 2; stride > 0; stride /= 2) {
      for (int t = 0; t < stride; ++t) s[t] = s[t] + s[t + stride];
    }
    partials[b] = s[0];
  }
  return partials;
}

std::vector<float> random_floats(int n, std::uint32_t seed) {
  // Wide exponent range, so the rounding of a sum depends on its order.
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> expo(-12, 12);
  std::vector<float> x(n);
  for (float& v : x) v = std::ldexp(mant(gen), expo(gen));
  return x;
}

TEST_CASE("sim: a shared-memory tree reduction with barriers is exact under random schedules") {
  const int n = 256 * 37 + 11;
  const std::vector<float> x = random_floats(n, 11);
  const std::vector<float> want = host_block_sums(x, 256);
  for (int workers : {1, 2}) {
    for (Schedule s : {in_order(), random_schedule(1), random_schedule(2), random_schedule(3)}) {
      ScheduleGuard g(s, workers);
      std::vector<float> partials(want.size(), -1.0f);
      launch(k::block_sum_kernel<256>, dim3(static_cast<unsigned>(want.size())), dim3(256), 0,
             x.data(), n, partials.data());
      CHECK(std::memcmp(partials.data(), want.data(), want.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("sim: a reduction missing its barriers gives wrong answers (the schedule matters)") {
  const int threads = 128, blocks = 4;
  const std::vector<float> x = random_floats(threads * blocks, 12);
  const std::vector<float> want = host_block_sums(x, threads);
  int wrong = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    ScheduleGuard g(random_schedule(seed), 1);
    std::vector<float> partials(blocks);
    launch(k::racy_block_sum_kernel, dim3(blocks), dim3(threads), threads * sizeof(float), x.data(),
           partials.data());
    wrong += std::memcmp(partials.data(), want.data(), blocks * sizeof(float)) != 0;
  }
  CHECK(wrong > 0);
}

TEST_CASE("sim: __syncthreads_count/_and/_or") {
  const int threads = 96, blocks = 3;
  std::vector<int> pred(threads * blocks, 1);
  for (int t = 0; t < threads; ++t) pred[t] = t % 3 == 0;       // block 0: 32 of 96
  for (int t = 0; t < threads; ++t) pred[2 * threads + t] = 0;  // block 2: none
  std::vector<int> count(blocks), all(blocks), any(blocks);
  launch(k::barrier_pred_kernel, dim3(blocks), dim3(threads), 0, pred.data(), count.data(),
         all.data(), any.data());
  CHECK(count == std::vector<int>{32, 96, 0});
  CHECK(all == std::vector<int>{0, 1, 0});
  CHECK(any == std::vector<int>{1, 1, 0});
}

TEST_CASE("sim: static and dynamic shared memory are private to each block") {
  const int blocks = 48, threads = 256, rounds = 3;
  for (Schedule s : {in_order(), random_schedule(4), random_schedule(5)}) {
    ScheduleGuard g(s, 2);
    int bad = 0, yields = 0;
    std::vector<unsigned> first_dyn(blocks * threads, 0);
    launch(k::smem_isolation_kernel, dim3(blocks), dim3(threads), threads * sizeof(int), rounds,
           &bad, first_dyn.data(), &yields);
    CHECK(bad == 0);
    CHECK(yields == blocks * threads * rounds);
    // Dynamic shared memory starts as junk in every block, although the previous block on the
    // same worker left its values there.
    bool all_junk = true;
    for (unsigned v : first_dyn) all_junk = all_junk && v == 0xffffffffu;
    CHECK(all_junk);
  }
}

// ---- atomics ----------------------------------------------------------------------------------

TEST_CASE("sim: atomics are exact under random schedules and two workers") {
  const int blocks = 40, threads = 96, n = blocks * threads;
  for (Schedule s : {in_order(), random_schedule(8), random_schedule(9)}) {
    ScheduleGuard g(s, 2);
    k::AtomicCounters c{};
    c.i_min = 1 << 30;
    c.ll_min = 0;
    std::vector<unsigned> tickets(n);
    launch(k::atomics_kernel, dim3(blocks), dim3(threads), 0, &c, tickets.data());
    int want_imax = 0;
    for (int gid = 0; gid < n; ++gid) want_imax = std::max(want_imax, (gid * 7919) % 100003);
    CHECK(c.i_add == n);
    CHECK(c.u_add == 3u * n);
    CHECK(c.ull_add == (1ull << 33) * n);
    CHECK(c.ll_add == -5ll * n);
    CHECK(c.f_add == static_cast<float>(n));
    CHECK(c.d_add == 0.25 * n);
    CHECK(c.i_max == want_imax);
    CHECK(c.i_min == -want_imax);
    CHECK(c.u_max == static_cast<unsigned>(n - 1));
    CHECK(c.ll_min == -static_cast<long long>(n - 1) * 1000000007ll);
    CHECK(c.cas_count == static_cast<unsigned>(n));
    CHECK(c.cas64_count == 2ull * n);
    CHECK(c.or_bits == 0xffffffffu);
    CHECK(c.xor_bits == ((n / 32) % 2 == 0 ? 0u : 0xffffffffu));
    CHECK(c.sub == -2 * n);
    CHECK(c.inc == static_cast<unsigned>(n % 10));
    CHECK(c.exch_last < static_cast<unsigned>(n));
    CHECK(c.ticket == static_cast<unsigned>(n));
    std::vector<bool> seen(n, false);
    bool permutation = true;
    for (unsigned t : tickets) {
      permutation = permutation && t < static_cast<unsigned>(n) && !seen[t];
      if (t < static_cast<unsigned>(n)) seen[t] = true;
    }
    CHECK(permutation);
  }
}

TEST_CASE("sim: atomics also work on the host, outside any launch") {
  int i = 1;
  float f = 1.5f;
  CHECK(atomicAdd(&i, 2) == 1);
  CHECK(i == 3);
  CHECK(atomicAdd(&f, 0.25f) == 1.5f);
  CHECK(f == 1.75f);
  CHECK(atomicCAS(&i, 3, 9) == 3);
  CHECK(i == 9);
}

// ---- schedules and reproducibility ------------------------------------------------------------

std::vector<unsigned> run_tickets(const Schedule& s, int workers, int blocks = 8) {
  ScheduleGuard g(s, workers);
  const int threads = 64;
  std::vector<unsigned> tickets(blocks * threads);
  unsigned counter[2] = {0, 0};
  launch(k::ticket_kernel, dim3(blocks), dim3(threads), 0, counter, tickets.data());
  return tickets;
}

TEST_CASE("sim: with one worker a seed reproduces the schedule exactly; seeds differ") {
  const std::vector<unsigned> a = run_tickets(random_schedule(42), 1);
  const std::vector<unsigned> b = run_tickets(random_schedule(42), 1);
  const std::vector<unsigned> c = run_tickets(random_schedule(43), 1);
  CHECK(a == b);
  CHECK(a != c);
  // One block: only the interleaving of its threads can differ between seeds.
  std::set<std::vector<unsigned>> orders;
  for (std::uint64_t seed = 1; seed <= 4; ++seed)
    orders.insert(run_tickets(random_schedule(seed), 1, 1));
  CHECK(orders.size() >= 2);
  // In order: blocks in linear order, threads in index order, each running until it blocks.
  const std::vector<unsigned> d = run_tickets(in_order(), 1);
  bool linear = true;
  for (unsigned gid = 0; gid < d.size(); ++gid) linear = linear && d[gid] == gid * 65536u + gid;
  CHECK(linear);
}

TEST_CASE("sim: the launch counter restarts at set_schedule, so launch sequences replay") {
  // Two launches in a row get different schedules (the launch index is mixed into the seed);
  // set_schedule() restarts the count, so the same sequence replays.
  auto two_launches = [] {
    std::vector<unsigned> tickets(4 * 64 * 2);
    unsigned counter[2] = {0, 0};
    launch(k::ticket_kernel, dim3(4), dim3(64), 0, counter, tickets.data());
    counter[0] = counter[1] = 0;
    launch(k::ticket_kernel, dim3(4), dim3(64), 0, counter, tickets.data() + 4 * 64);
    return tickets;
  };
  ScheduleGuard g(random_schedule(5), 1);
  const std::vector<unsigned> first = two_launches();
  ditto::sim::set_schedule(random_schedule(5));
  const std::vector<unsigned> again = two_launches();
  CHECK(first == again);
  CHECK(!std::equal(first.begin(), first.begin() + 256, first.begin() + 256));
}

TEST_CASE("sim: atomic float sums vary across seeds, a fixed-order two-pass sum never does") {
  const int n = (1 << 15) + 3, threads = 256;
  const std::vector<float> x = random_floats(n, 21);
  const unsigned blocks = (n + threads - 1) / threads;
  long double ref = 0;
  for (float v : x) ref += v;
  std::set<std::uint32_t> atomic_bits, two_pass_bits;
  const std::vector<float> host_partials = host_block_sums(x, threads);
  const float host_total = host_block_sums(host_partials, threads)[0];
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    ScheduleGuard g(random_schedule(seed), 1);
    float sum = 0.0f;
    launch(k::atomic_sum_kernel, dim3(blocks), dim3(threads), 0, x.data(), n, &sum);
    std::uint32_t u;
    std::memcpy(&u, &sum, 4);
    atomic_bits.insert(u);
    CHECK(std::fabs(static_cast<long double>(sum) - ref) < 1e-3L * (std::fabs(ref) + 1));
    std::vector<float> partials(blocks);
    float total = 0.0f;
    launch(k::block_sum_kernel<256>, dim3(blocks), dim3(threads), 0, x.data(), n, partials.data());
    launch(k::block_sum_kernel<256>, dim3(1), dim3(threads), 0, partials.data(),
           static_cast<int>(blocks), &total);
    std::memcpy(&u, &total, 4);
    two_pass_bits.insert(u);
  }
  {
    ScheduleGuard g(random_schedule(99), 2);
    std::vector<float> partials(blocks);
    float total = 0.0f;
    launch(k::block_sum_kernel<256>, dim3(blocks), dim3(threads), 0, x.data(), n, partials.data());
    launch(k::block_sum_kernel<256>, dim3(1), dim3(threads), 0, partials.data(),
           static_cast<int>(blocks), &total);
    std::uint32_t u;
    std::memcpy(&u, &total, 4);
    two_pass_bits.insert(u);
  }
  MESSAGE("atomicAdd sum: " << atomic_bits.size() << " distinct bit patterns over 16 seeds");
  CHECK(atomic_bits.size() >= 2);
  CHECK(two_pass_bits.size() == 1);
  std::uint32_t host_u;
  std::memcpy(&host_u, &host_total, 4);
  CHECK(*two_pass_bits.begin() == host_u);
}

TEST_CASE("sim: schedule and worker configuration") {
  CHECK_THROWS_AS(ditto::sim::set_num_workers(0), ditto::Error);
  CHECK_THROWS_AS(ditto::sim::set_num_workers(65), ditto::Error);
  const Schedule before = ditto::sim::get_schedule();
  const int workers_before = ditto::sim::get_num_workers();
  {
    ScheduleGuard g(Schedule{Order::kInOrder, 123}, 3);
    CHECK(ditto::sim::get_schedule().order == Order::kInOrder);
    CHECK(ditto::sim::get_schedule().seed == 123u);
    CHECK(ditto::sim::get_num_workers() == 3);
    int bad = 0, yields = 0;
    std::vector<unsigned> first_dyn(8 * 64);
    launch(k::smem_isolation_kernel, dim3(8), dim3(64), 64 * sizeof(int), 1, &bad, first_dyn.data(),
           &yields);
    CHECK(bad == 0);
  }
  CHECK(ditto::sim::get_schedule().seed == before.seed);
  CHECK(ditto::sim::get_num_workers() == workers_before);
  const ditto::sim::Stats st = ditto::sim::get_stats();
  CHECK(st.launches > 0);
  CHECK(st.switches > st.launches);
  launch(k::printf_kernel, dim3(1), dim3(1), 0, 0);  // printf compiles and runs (silently)
}

}  // namespace

// ---- diagnostics --------------------------------------------------------------------------------

#if defined(DITTO_SIM)
namespace {

/// Sim-only kernels (not valid device code): exceptions and nested launches.
__global__ void throwing_kernel(int thrower) {
  if (static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x) == thrower) {
    throw std::runtime_error("boom from a kernel");
  }
  __syncthreads();
}

__global__ void empty_kernel() {}

__global__ void nested_launch_kernel() {
  if (threadIdx.x == 0) launch(empty_kernel, dim3(1), dim3(1), 0);
}

__global__ void param_copy_kernel(int n, int* out) {
  n += static_cast<int>(threadIdx.x);  // each simulated thread owns its copy of the parameters
  out[threadIdx.x] = n;
}

/// Launches a healthy kernel: the simulator must be usable again after a diagnostic.
void check_recovered() {
  std::vector<float> x = random_floats(512, 3), partials(2);
  launch(k::block_sum_kernel<256>, dim3(2), dim3(256), 0, x.data(), 512, partials.data());
  const std::vector<float> want = host_block_sums(x, 256);
  CHECK(std::memcmp(partials.data(), want.data(), 2 * sizeof(float)) == 0);
}

TEST_CASE("sim diagnostics: each bug is a ditto::Error naming the problem, for every schedule") {
  std::vector<int> out(64, 0);
  std::vector<float> outf(64, 1.0f);
  for (int workers : {1, 2}) {
    for (Schedule s : {in_order(), random_schedule(1), random_schedule(2)}) {
      ScheduleGuard g(s, workers);
      INFO("workers " << workers << ", random " << (s.order == Order::kRandom) << ", seed "
                      << s.seed);
      std::string m =
          error_of([&] { launch(k::divergent_barrier_kernel, dim3(4), dim3(32), 0, out.data()); });
      CHECK(contains(m, "divergent barriers"));
      CHECK(contains(m, "test_sim_kernels.cuh:"));
      CHECK(contains(m, "launch: grid (4,1,1), block (32,1,1)"));

      m = error_of([&] { launch(k::barrier_after_exit_kernel, dim3(3), dim3(32), 0, out.data()); });
      CHECK(contains(m, "exited"));
      CHECK(contains(m, "__syncthreads"));
      CHECK(contains(m, "thread (5,0,0)"));

      m = error_of(
          [&] { launch(k::shuffle_exited_lane_kernel, dim3(1), dim3(32), 0, outf.data()); });
      CHECK(contains(m, "exited"));
      CHECK(contains(m, "__shfl_down_sync"));
      CHECK(contains(m, "thread (3,0,0)"));

      m = error_of([&] { launch(k::mask_mismatch_kernel, dim3(1), dim3(32), 0, out.data()); });
      CHECK(contains(m, "mismatched warp collectives"));

      m = error_of([&] { launch(k::mask_without_self_kernel, dim3(1), dim3(32), 0, out.data()); });
      CHECK(contains(m, "does not include the calling lane"));

      m = error_of([&] { launch(k::bad_width_kernel, dim3(1), dim3(32), 0, out.data()); });
      CHECK(contains(m, "width 12 is not a power of two"));

      m = error_of([&] { launch(k::deadlock_kernel, dim3(1), dim3(32), 0, out.data()); });
      CHECK(contains(m, "deadlock"));

      std::vector<int> vals(64, 1);
      vals[37] = 500;
      m = error_of(
          [&] { launch(k::assert_kernel, dim3(2), dim3(32), 0, vals.data(), out.data()); });
      CHECK(contains(m, "kernel assertion `x[i] < 100` failed"));
      CHECK(contains(m, "thread (5,0,0) of block (1,0,0)"));

      m = error_of([&] { launch(k::trap_kernel, dim3(1), dim3(8), 0, 6); });
      CHECK(contains(m, "__trap()"));

      m = error_of([&] { launch(throwing_kernel, dim3(16), dim3(64), 0, 300); });
      CHECK(contains(m, "kernel threw an exception in thread (44,0,0) of block (4,0,0)"));
      CHECK(contains(m, "boom from a kernel"));

      m = error_of([&] { launch(nested_launch_kernel, dim3(1), dim3(4), 0); });
      CHECK(contains(m, "dynamic parallelism"));

      check_recovered();
    }
  }
}

TEST_CASE("sim diagnostics: invalid launch configurations") {
  std::vector<int> out(64);
  CHECK(contains(error_of([&] { launch(empty_kernel, dim3(1), dim3(2048), 0); }),
                 "invalid block shape"));
  CHECK(contains(error_of([&] { launch(empty_kernel, dim3(1), dim3(1, 1, 65), 0); }),
                 "invalid block shape"));
  CHECK(contains(error_of([&] { launch(empty_kernel, dim3(0), dim3(32), 0); }), "zero extent"));
  CHECK(contains(error_of([&] { launch(empty_kernel, dim3(1, 70000), dim3(32), 0); }),
                 "invalid grid shape"));
  CHECK(contains(error_of([&] { launch(empty_kernel, dim3(1), dim3(32), 300 * 1024); }),
                 "dynamic shared memory above"));
  CHECK_THROWS_AS(__syncthreads(), ditto::Error);  // outside any kernel
  check_recovered();
}

TEST_CASE("sim: kernel parameters are converted once and copied per thread") {
  std::vector<int> out(8);
  launch(param_copy_kernel, dim3(1), dim3(8), 0, 10.0 /* double -> int, as nvcc converts */,
         out.data());
  CHECK(out == std::vector<int>{10, 11, 12, 13, 14, 15, 16, 17});
}

}  // namespace
#endif

TEST_SUITE_END();
