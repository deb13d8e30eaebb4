// The determinism contract at the op level (docs/determinism.md):
//  - Deterministic results are bitwise identical for set_num_threads(1), (2), (3) and across
//    repeated runs, and equal (bitwise) to the documented canonical orders, re-implemented here
//    as plain loops: the chunked sum tree (sum, mean, var, softmax, log_softmax) and the
//    ascending-k fma chain (matmul).
//  - Fast mode (ModeGuard and per-call argument) is within a stated tolerance of Deterministic.
//  - The per-call mode beats the thread's ModeGuard, which beats the global mode; guards restore.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/rng.h"
#include "ditto/ditto.h"
#include "kernels/sim/runtime.h"
#include "kernels/common/dmath.h"

using namespace ditto;
using i64 = std::int64_t;

namespace {

using ditto::test_fixtures::canonical_sum;  // test/fixtures/bits.h
using ditto::test_fixtures::same_bits;

using ditto::test_fixtures::Rng;  // test/fixtures/rng.h

// Values with random sign and magnitudes over 2^-8 .. 2^8, so that the summation order shows up
// in the low bits (a reordering bug cannot hide behind benign data).
template <class T>
std::vector<T> spread_values(i64 n, std::uint64_t seed, bool positive = false) {
  Rng r(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) {
    double m = std::ldexp(0.5 + r.next(), static_cast<int>(r.next() * 17) - 8);
    x = static_cast<T>(positive || r.next() < 0.5 ? m : -m);
  }
  return v;
}

template <class T>
Tensor tensor_of(const std::vector<T>& v, const Shape& s) {
  return from_vector(v, s);
}

// Restores the thread count on scope exit (tests change it).
struct ThreadCountRestore {
  int prev = get_num_threads();
  ~ThreadCountRestore() { set_num_threads(prev); }
};



// Lines of a row-major (R, C) matrix: dim 1 → rows, dim 0 → columns, in logical order.
template <class T>
std::vector<std::vector<T>> lines(const std::vector<T>& v, i64 R, i64 C, int dim) {
  std::vector<std::vector<T>> out(static_cast<std::size_t>(dim == 1 ? R : C));
  for (i64 r = 0; r < R; ++r)
    for (i64 c = 0; c < C; ++c) out[dim == 1 ? r : c].push_back(v[r * C + c]);
  return out;
}

// Runs f at 1, 2 and 3 threads, twice each; CHECKs that every run gives the bits of the first.
template <class T, class F>
std::vector<T> check_thread_invariant(const F& f) {
  ThreadCountRestore restore;
  set_num_threads(1);
  const std::vector<T> first = f();
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int rep = 0; rep < 2; ++rep) {
      CAPTURE(threads);
      CAPTURE(rep);
      CHECK(same_bits(f(), first));
    }
  }
  return first;
}

}  // namespace

TEST_SUITE("op_determinism") {
  TEST_CASE_TEMPLATE("sum: bitwise equal to the canonical tree at 1, 2, 3 threads", T, float,
                     double) {
    for (i64 n : {1, 7, 1023, 1024, 1025, 4097, 1000003}) {
      CAPTURE(n);
      auto v = spread_values<T>(n, 100 + n);
      Tensor x = tensor_of(v, {n});
      auto got = check_thread_invariant<T>([&] { return sum(x).template to_vector<T>(); });
      REQUIRE(got.size() == 1);
      CHECK(same_bits(got, std::vector<T>{canonical_sum(v)}));
      // mean = canonical sum / n
      auto mean_got = check_thread_invariant<T>([&] { return mean(x).template to_vector<T>(); });
      CHECK(same_bits(mean_got, std::vector<T>{T(canonical_sum(v) / T(n))}));
    }
  }

  TEST_CASE_TEMPLATE(
      "sum/mean/var of a (257, 1031) matrix over each dim: bitwise, thread-invariant", T, float,
      double) {
    const i64 R = 257, C = 1031;
    auto v = spread_values<T>(R * C, 7);
    Tensor x = tensor_of(v, {R, C});
    for (int dim : {0, 1}) {
      CAPTURE(dim);
      std::vector<T> ref_sum, ref_mean, ref_var;
      for (const auto& line : lines(v, R, C, dim)) {
        const T n = static_cast<T>(line.size());
        const T s = canonical_sum(line);
        const T m = s / n;
        std::vector<T> sq;
        for (T e : line) sq.push_back((e - m) * (e - m));
        ref_sum.push_back(s);
        ref_mean.push_back(m);
        ref_var.push_back(canonical_sum(sq) / (n - T(1)));
      }
      auto s = check_thread_invariant<T>([&] { return sum(x, {dim}).template to_vector<T>(); });
      CHECK(same_bits(s, ref_sum));
      auto m = check_thread_invariant<T>([&] { return x.mean({dim}).template to_vector<T>(); });
      CHECK(same_bits(m, ref_mean));
      auto va = check_thread_invariant<T>([&] { return x.var({dim}).template to_vector<T>(); });
      CHECK(same_bits(va, ref_var));
      // the same logical matrix stored transposed: same bits (layout never enters)
      Tensor xt = tensor_of(x.t().contiguous().template to_vector<T>(), {C, R}).t();
      CHECK(same_bits(sum(xt, {dim}).template to_vector<T>(), ref_sum));
    }
    auto all = check_thread_invariant<T>([&] { return sum(x).template to_vector<T>(); });
    CHECK(same_bits(all, std::vector<T>{canonical_sum(v)}));
  }

  TEST_CASE_TEMPLATE("softmax/log_softmax: bitwise equal to the composed canonical order", T, float,
                     double) {
    const i64 R = 257, C = 1031;
    auto v = spread_values<T>(R * C, 8);
    for (auto& e : v) e = e / T(16);  // keep exp in range without relying on the max shift
    Tensor x = tensor_of(v, {R, C});
    for (int dim : {0, 1}) {
      CAPTURE(dim);
      auto sm = check_thread_invariant<T>([&] { return softmax(x, dim).template to_vector<T>(); });
      auto ls =
          check_thread_invariant<T>([&] { return log_softmax(x, dim).template to_vector<T>(); });
      // reference: m = max, z = x - m, softmax = exp(z) / canonical_sum(exp(z)),
      // log_softmax = z - log(canonical_sum(exp(z))), with ditto's exp/log
      std::vector<T> ref_sm(v.size()), ref_ls(v.size());
      const auto ls_lines = lines(v, R, C, dim);
      for (std::size_t o = 0; o < ls_lines.size(); ++o) {
        const auto& line = ls_lines[o];
        T mx = line[0];
        for (T e : line) mx = std::max(mx, e);
        std::vector<T> ex;
        for (T e : line) ex.push_back(dmath::exp(T(e - mx)));
        const T s = canonical_sum(ex);
        for (std::size_t k = 0; k < line.size(); ++k) {
          const i64 flat = dim == 1 ? static_cast<i64>(o) * C + static_cast<i64>(k)
                                    : static_cast<i64>(k) * C + static_cast<i64>(o);
          ref_sm[flat] = ex[k] / s;
          ref_ls[flat] = T(line[k] - mx) - dmath::log(s);
        }
      }
      CHECK(same_bits(sm, ref_sm));
      CHECK(same_bits(ls, ref_ls));
    }
  }

  TEST_CASE_TEMPLATE("matmul: bitwise equal to the ascending-k fma chain at 1, 2, 3 threads", T,
                     float, double) {
    auto fma_ref = [](const std::vector<T>& a, const std::vector<T>& b, i64 M, i64 K, i64 N) {
      std::vector<T> c(static_cast<std::size_t>(M * N));
      for (i64 i = 0; i < M; ++i)
        for (i64 j = 0; j < N; ++j) {
          T acc = T(0);
          for (i64 k = 0; k < K; ++k) acc = std::fma(a[i * K + k], b[k * N + j], acc);
          c[i * N + j] = acc;
        }
      return c;
    };
    {
      const i64 M = 129, K = 257, N = 65;
      auto av = spread_values<T>(M * K, 9), bv = spread_values<T>(K * N, 10);
      Tensor a = tensor_of(av, {M, K}), b = tensor_of(bv, {K, N});
      auto c = check_thread_invariant<T>([&] { return matmul(a, b).template to_vector<T>(); });
      CHECK(same_bits(c, fma_ref(av, bv, M, K, N)));
      // a transposed operand changes the memory layout, not the order
      Tensor at = tensor_of(a.t().contiguous().template to_vector<T>(), {K, M}).t();
      CHECK(same_bits(matmul(at, b).template to_vector<T>(), c));
    }
    {
      // batched with a broadcast batch dim: (3, 1, 33, 65) @ (4, 65, 17) → (3, 4, 33, 17)
      const i64 M = 33, K = 65, N = 17;
      auto av = spread_values<T>(3 * M * K, 11), bv = spread_values<T>(4 * K * N, 12);
      Tensor a = tensor_of(av, {3, 1, M, K}), b = tensor_of(bv, {4, K, N});
      auto c = check_thread_invariant<T>([&] { return matmul(a, b).template to_vector<T>(); });
      REQUIRE(c.size() == static_cast<std::size_t>(12 * M * N));
      bool ok = true;
      for (i64 p = 0; p < 3; ++p)
        for (i64 q = 0; q < 4; ++q) {
          std::vector<T> as(av.begin() + p * M * K, av.begin() + (p + 1) * M * K);
          std::vector<T> bs(bv.begin() + q * K * N, bv.begin() + (q + 1) * K * N);
          std::vector<T> cs(c.begin() + (p * 4 + q) * M * N, c.begin() + (p * 4 + q + 1) * M * N);
          ok = ok && same_bits(cs, fma_ref(as, bs, M, K, N));
        }
      CHECK(ok);
    }
  }

  TEST_CASE("small MLP forward + backward: loss and every gradient bitwise thread-invariant") {
    const i64 B = 256, D = 64, H = 128, O = 10;
    auto xv = spread_values<float>(B * D, 20);
    auto w1v = spread_values<float>(D * H, 21), w2v = spread_values<float>(H * O, 22);
    auto b1v = spread_values<float>(H, 23), b2v = spread_values<float>(O, 24);
    for (auto* w : {&w1v, &w2v})
      for (auto& e : *w) e *= 0.05f;
    std::vector<float> onehot(static_cast<std::size_t>(B * O), 0.f);
    for (i64 i = 0; i < B; ++i) onehot[i * O + (i * 7) % O] = 1.f;
    auto run = [&] {
      Tensor x = from_vector(xv, {B, D}), w1 = from_vector(w1v, {D, H}), b1 = from_vector(b1v),
             w2 = from_vector(w2v, {H, O}), b2 = from_vector(b2v), t = from_vector(onehot, {B, O});
      for (Tensor* p : {&w1, &b1, &w2, &b2}) p->requires_grad_();
      Tensor h = relu(matmul(x, w1) + b1);
      Tensor logits = matmul(h, w2) + b2;
      Tensor loss =
          -(log_softmax(logits, 1) * t).sum() / static_cast<double>(B) + var(h, {0}).mean() * 1e-3;
      loss.backward();
      std::vector<float> all = loss.to_vector<float>();
      for (Tensor* p : {&w1, &b1, &w2, &b2}) {
        auto g = p->grad().to_vector<float>();
        all.insert(all.end(), g.begin(), g.end());
      }
      return all;
    };
    auto bits = check_thread_invariant<float>(run);
    CHECK(bits.size() == static_cast<std::size_t>(1 + D * H + H + H * O + O));
    CHECK(std::isfinite(bits[0]));
  }

  TEST_CASE("Fast mode is within tolerance of Deterministic (ModeGuard and per-call)") {
    ThreadCountRestore restore;
    set_num_threads(2);
    // f32 sums of positive values: relative 1e-5 up to ~1e5 elements. For 1e6 elements the
    // bound is 1e-4: the CPU Fast sum keeps 32 f32 lanes per thread, each summing ~n/32 values
    // sequentially, and its error grows with that length (measured 3e-5 at n = 1e6, one thread);
    // the canonical tree stays within 1e-7 of the exact sum, which is checked too.
    for (i64 n : {1025, 100003, 1000003}) {
      CAPTURE(n);
      const double rel = n > 200000 ? 1e-4 : 1e-5;
      auto pv = spread_values<float>(n, 30, true);
      long double exact = 0;
      for (float e : pv) exact += e;
      Tensor p = tensor_of(pv, {n});
      const double det = sum(p).item<double>();
      CHECK(std::fabs(det - exact) <= 1e-7 * exact);
      {
        ModeGuard g(Mode::Fast);
        CHECK(std::fabs(sum(p).item<double>() - det) <= rel * det);
      }
      CHECK(std::fabs(sum(p, {}, false, Mode::Fast).item<double>() - det) <= rel * det);
      CHECK(std::fabs(mean(p, {}, false, Mode::Fast).item<double>() - det / n) <= rel * det / n);
    }
    const i64 n = 1000003;
    // mixed signs: relative to sum |x| (f32 1e-5, f64 1e-13)
    auto mv = spread_values<float>(n, 31);
    auto mvd = spread_values<double>(n, 31);
    double abs_sum = 0;
    for (float e : mv) abs_sum += std::fabs(e);
    Tensor m = tensor_of(mv, {n}), md = tensor_of(mvd, {n});
    CHECK(std::fabs(sum(m, {}, false, Mode::Fast).item<double>() - sum(m).item<double>()) <=
          1e-5 * abs_sum);
    CHECK(std::fabs(sum(md, {}, false, Mode::Fast).item<double>() - sum(md).item<double>()) <=
          1e-13 * abs_sum);
    // per-dim sums and var of a matrix; softmax and log_softmax
    Tensor x = tensor_of(spread_values<float>(257 * 1031, 32, true), {257, 1031});
    for (int dim : {0, 1}) {
      CAPTURE(dim);
      auto sd = sum(x, {dim}).to_vector<float>(),
           sf = sum(x, {dim}, false, Mode::Fast).to_vector<float>();
      auto vd = x.var({dim}).to_vector<float>(),
           vf = x.var({dim}, true, false, Mode::Fast).to_vector<float>();
      Tensor xs = x / 64.0;
      auto smd = softmax(xs, dim).to_vector<float>(),
           smf = softmax(xs, dim, Mode::Fast).to_vector<float>();
      auto lsd = log_softmax(xs, dim).to_vector<float>(),
           lsf = log_softmax(xs, dim, Mode::Fast).to_vector<float>();
      bool ok_sum = true, ok_var = true, ok_sm = true;
      for (std::size_t i = 0; i < sd.size(); ++i) {
        ok_sum = ok_sum && std::fabs(sd[i] - sf[i]) <= 1e-5f * sd[i];
        ok_var = ok_var && std::fabs(vd[i] - vf[i]) <= 1e-4f * vd[i];  // var = difference of sums
      }
      for (std::size_t i = 0; i < smd.size(); ++i)
        ok_sm = ok_sm && std::fabs(smd[i] - smf[i]) <= 1e-5f * smd[i] &&
                std::fabs(lsd[i] - lsf[i]) <= 1e-5f * (1 + std::fabs(lsd[i]));
      CHECK(ok_sum);
      CHECK(ok_var);
      CHECK(ok_sm);
    }
    // matmul: |fast - det| <= 2 K eps (|A| |B|)
    const i64 M = 129, K = 257, N = 65;
    auto av = spread_values<float>(M * K, 33), bv = spread_values<float>(K * N, 34);
    Tensor a = tensor_of(av, {M, K}), b = tensor_of(bv, {K, N});
    auto cd = matmul(a, b).to_vector<float>();
    std::vector<float> cf;
    {
      ModeGuard g(Mode::Fast);
      cf = matmul(a, b).to_vector<float>();
    }
    auto cf2 = matmul(a, b, Mode::Fast).to_vector<float>();
    auto bound = matmul(abs(a), abs(b)).to_vector<float>();
    bool ok = true;
    const double eps = std::numeric_limits<float>::epsilon();
    for (std::size_t i = 0; i < cd.size(); ++i)
      ok = ok && std::fabs(cd[i] - cf[i]) <= 2 * K * eps * bound[i] &&
           std::fabs(cd[i] - cf2[i]) <= 2 * K * eps * bound[i];
    CHECK(ok);
  }

  TEST_CASE("per-call mode beats ModeGuard, which beats the global mode; guards restore") {
    ThreadCountRestore restore;
    set_num_threads(1);  // a single-thread Fast sum has one partial: reproducible run to run
    // On sim, Fast sums use atomics whose order follows the schedule: fix it (in order, one
    // worker) so Fast results are reproducible and the checks below can tell the modes apart.
    ditto::sim::ScheduleGuard in_order({ditto::sim::Order::kInOrder, 0}, 1);
    const i64 n = 1000003;
    Tensor x = tensor_of(spread_values<float>(n, 40), {n});
    REQUIRE(get_mode() == Mode::Deterministic);
    const auto det = sum(x).to_vector<float>();
    const auto fast = sum(x, {}, false, Mode::Fast).to_vector<float>();
    WARN_MESSAGE(!same_bits(det, fast),
                 "Fast and Deterministic sums coincide on this input: the checks below that a "
                 "mode took effect cannot discriminate");
    {
      ModeGuard g(Mode::Fast);
      CHECK(get_mode() == Mode::Fast);
      CHECK(same_bits(sum(x).to_vector<float>(), fast));
      CHECK(same_bits(sum(x, {}, false, Mode::Deterministic).to_vector<float>(), det));
      CHECK(same_bits(x.sum({}, false, Mode::Deterministic).to_vector<float>(), det));
      {
        ModeGuard inner(Mode::Deterministic);
        CHECK(same_bits(sum(x).to_vector<float>(), det));
        CHECK(same_bits(sum(x, {}, false, Mode::Fast).to_vector<float>(), fast));
      }
      CHECK(get_mode() == Mode::Fast);  // the inner guard restored the outer one
    }
    CHECK(get_mode() == Mode::Deterministic);
    CHECK(same_bits(sum(x).to_vector<float>(), det));
    // the global mode applies where no guard is active; a guard overrides it
    set_mode(Mode::Fast);
    CHECK(same_bits(sum(x).to_vector<float>(), fast));
    {
      ModeGuard g(Mode::Deterministic);
      CHECK(same_bits(sum(x).to_vector<float>(), det));
    }
    CHECK(same_bits(sum(x, {}, false, Mode::Deterministic).to_vector<float>(), det));
    set_mode(Mode::Deterministic);
    CHECK(get_mode() == Mode::Deterministic);
    // matmul, softmax: per-call Deterministic under a Fast guard gives the deterministic bits
    Tensor a = tensor_of(spread_values<float>(33 * 257, 41), {33, 257});
    Tensor b = tensor_of(spread_values<float>(257 * 9, 42), {257, 9});
    const auto mdet = matmul(a, b).to_vector<float>();
    const auto sdet = softmax(a, 1).to_vector<float>();
    {
      ModeGuard g(Mode::Fast);
      CHECK(same_bits(matmul(a, b, Mode::Deterministic).to_vector<float>(), mdet));
      CHECK(same_bits(softmax(a, 1, Mode::Deterministic).to_vector<float>(), sdet));
    }
  }

  TEST_CASE("a per-call mode also governs the op's backward pass, wherever backward() runs") {
    ThreadCountRestore restore;
    set_num_threads(1);
    ditto::sim::ScheduleGuard in_order({ditto::sim::Order::kInOrder, 0}, 1);
    const i64 n = 200003;
    Tensor x = tensor_of(spread_values<float>(n, 43), {n, 1});
    Tensor r = tensor_of(spread_values<float>(n, 44), {n, 1});
    // The bias gradient of linear is sum_to over the n rows, run inside add's backward rule.
    auto bias_grad = [&](std::optional<Mode> fwd_mode, std::optional<Mode> thread_mode) {
      Tensor w = ones({1, 1}).requires_grad_();
      Tensor b = zeros({1}).requires_grad_();
      std::optional<ModeGuard> g;
      if (thread_mode) g.emplace(*thread_mode);
      Tensor y = linear(x, w, b, fwd_mode);
      sum(y * r, {}, false, Mode::Deterministic).backward();
      return b.grad().to_vector<float>();
    };
    const auto det = bias_grad(std::nullopt, std::nullopt);
    const auto fast = bias_grad(std::nullopt, Mode::Fast);
    WARN_MESSAGE(!same_bits(det, fast),
                 "Fast and Deterministic bias gradients coincide: this check cannot discriminate");
    CHECK(same_bits(bias_grad(Mode::Deterministic, Mode::Fast), det));
    CHECK(same_bits(bias_grad(Mode::Fast, std::nullopt), fast));
  }
}
