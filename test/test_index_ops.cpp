// The indexing ops index_select, index_add, gather, scatter_add and embedding through the public
// API: values against naive loops (repeated indices included; Deterministic index_add-based ops
// bit for bit against the documented order: per target, acc = +0, then the sources in ascending
// position order, then out = x + acc), gradcheck in float64, Fast vs Deterministic, thread
// counts 1/2/3 bitwise, and bad input. Tensors are created on the default device, so the suite
// also runs on sim (ctest sim/nn_ops): sizes are small.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/errors.h"
#include "test/fixtures/rng.h"
#include "ditto/ditto.h"
#include "gradcheck.h"

using namespace ditto;
using i64 = std::int64_t;

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h

using ditto::test_fixtures::Rng;  // test/fixtures/rng.h

using ditto::test_fixtures::numel_of;

// Values with random sign and magnitudes 2^-6 .. 2^6, so that a wrong summation order shows up
// in the low bits.
Tensor values(const Shape& s, std::uint64_t seed, DType t = DType::f32) {
  Rng r(seed);
  std::vector<double> v(static_cast<std::size_t>(numel_of(s)));
  for (auto& x : v) {
    double m = std::ldexp(0.5 + r.next(), static_cast<int>(r.next() * 13) - 6);
    x = r.next() < 0.5 ? -m : m;
  }
  return from_vector(v, s).to(t);
}

// Integers in [0, hi), shaped s.
Tensor rand_index(const Shape& s, i64 hi, std::uint64_t seed) {
  Rng r(seed);
  std::vector<i64> v(static_cast<std::size_t>(numel_of(s)));
  for (auto& x : v) x = static_cast<i64>(r.next() * static_cast<double>(hi));
  return from_vector(v, s);
}

Tensor ints(const std::vector<i64>& v, const Shape& s) { return from_vector(v, s); }


// Row-major multi-index of flat index i in shape s, and back.
Shape unravel(i64 i, const Shape& s) {
  Shape idx(s.size());
  for (std::size_t d = s.size(); d-- > 0;) {
    idx[d] = i % s[d];
    i /= s[d];
  }
  return idx;
}
i64 ravel(const Shape& idx, const Shape& s) {
  i64 i = 0;
  for (std::size_t d = 0; d < s.size(); ++d) i = i * s[d] + idx[d];
  return i;
}

// The documented Deterministic scatter-add, in T: for every target, acc = +0 plus the sources
// sent to it in ascending source order, then out = x + acc (targets never named keep x).
template <class T>
std::vector<T> scatter_ref(const std::vector<T>& x, const std::vector<i64>& target_of,
                           const std::vector<T>& src) {
  std::vector<T> acc(x.size(), T(0));
  std::vector<bool> hit(x.size(), false);
  for (std::size_t m = 0; m < src.size(); ++m) {
    acc[target_of[m]] = acc[target_of[m]] + src[m];
    hit[target_of[m]] = true;
  }
  std::vector<T> out = x;
  for (std::size_t k = 0; k < x.size(); ++k)
    if (hit[k]) out[k] = x[k] + acc[k];
  return out;
}

// Flat targets of index_add(x, dim, index, source): source element j goes to x element
// (o, index[m], i) where (o, m, i) is j seen as (outer, M, inner).
std::vector<i64> index_add_targets(const Shape& xs, i64 dim, const std::vector<i64>& index) {
  i64 outer = 1, inner = 1, K = xs[dim], M = static_cast<i64>(index.size());
  for (i64 d = 0; d < dim; ++d) outer *= xs[d];
  for (std::size_t d = dim + 1; d < xs.size(); ++d) inner *= xs[d];
  std::vector<i64> t;
  for (i64 o = 0; o < outer; ++o)
    for (i64 m = 0; m < M; ++m)
      for (i64 i = 0; i < inner; ++i) t.push_back((o * K + index[m]) * inner + i);
  return t;
}

// Flat targets of scatter_add(x, dim, index, ...): index element j (row-major) goes to x element
// j's multi-index with the dim coordinate replaced by index[j].
std::vector<i64> scatter_targets(const Shape& xs, i64 dim, const Tensor& index) {
  std::vector<i64> iv = index.to_vector<i64>(), t;
  for (i64 j = 0; j < static_cast<i64>(iv.size()); ++j) {
    Shape p = unravel(j, index.shape());
    p[dim] = iv[j];
    t.push_back(ravel(p, xs));
  }
  return t;
}

struct ThreadCountRestore {
  int prev = get_num_threads();
  ~ThreadCountRestore() { set_num_threads(prev); }
};

using ditto::test_fixtures::error_of;  // test/fixtures/errors.h

}  // namespace


TEST_SUITE("nn_ops") {
  TEST_CASE("index_select: values vs naive, every dim, repeated indices, views, dtypes") {
    const Shape xs{3, 4, 5};
    for (DType t : {DType::f32, DType::f64, DType::i64}) {
      Tensor x = values(xs, 1).to(t);
      std::vector<double> xv = x.to_vector<double>();
      for (i64 dim : {0, 1, 2, -1}) {
        CAPTURE(dim);
        i64 d = dim < 0 ? dim + 3 : dim;
        std::vector<i64> iv{2, 0, 2, 1, 2};  // repeated, unsorted
        for (auto& v : iv) v %= xs[d];
        Tensor y = index_select(x, dim, ints(iv, {5}));
        Shape ys = xs;
        ys[d] = 5;
        REQUIRE(y.shape() == ys);
        CHECK(y.dtype() == t);
        std::vector<double> yv = y.to_vector<double>();
        bool ok = true;
        for (i64 j = 0; j < numel_of(ys); ++j) {
          Shape p = unravel(j, ys);
          p[d] = iv[p[d]];
          ok = ok && yv[j] == xv[ravel(p, xs)];
        }
        CHECK(ok);
      }
    }
    // A non-contiguous input, a 0-d index (keeps the dim), an empty index.
    Tensor x = values({4, 3}, 2);
    CHECK(same_bits(index_select(x.t(), 1, ints({3, 0}, {2})),
                    index_select(x.t().contiguous(), 1, ints({3, 0}, {2}))));
    Tensor s0 = index_select(x, 0, from_vector(std::vector<i64>{2}).reshape({}));
    CHECK(s0.shape() == Shape{1, 3});
    CHECK(same_bits(s0, x.narrow(0, 2, 1)));
    CHECK(index_select(x, 1, zeros({0}, DType::i64)).shape() == Shape{4, 0});
  }

  TEST_CASE("index_add: values, repeated indices, Deterministic bits = the documented order") {
    const Shape xs{2, 5, 3};
    std::vector<i64> iv{4, 1, 4, 4, 0, 1};  // targets 4 and 1 repeated, 2 and 3 untouched
    for (i64 dim : {0, 1, 2}) {
      CAPTURE(dim);
      std::vector<i64> idx;
      for (i64 v : iv) idx.push_back(v % xs[dim]);
      Shape ss = xs;
      ss[dim] = static_cast<i64>(idx.size());
      Tensor x = values(xs, 10), src = values(ss, 11);
      std::vector<float> ref = scatter_ref(x.to_vector<float>(), index_add_targets(xs, dim, idx),
                                           src.to_vector<float>());
      Tensor y = index_add(x, dim, ints(idx, {6}), src);
      CHECK(y.shape() == xs);
      CHECK(y.to_vector<float>() == ref);  // exact: same operations in the same order
      CHECK(x.to_vector<float>() != ref);  // out of place: x is unchanged
      // Fast: atomics in any order, within rounding.
      std::vector<float> f = index_add(x, dim, ints(idx, {6}), src, Mode::Fast).to_vector<float>();
      for (std::size_t i = 0; i < f.size(); ++i) CHECK(std::fabs(f[i] - ref[i]) <= 1e-4);
    }
    // The accumulator starts at +0: x = -0 with only -0 sources gives -0 + (+0 + -0) = +0.
    Tensor mz = full({3, 2}, -0.0);
    Tensor r = index_add(mz, 0, ints({1, 1}, {2}), full({2, 2}, -0.0));
    std::vector<float> rv = r.to_vector<float>();
    for (int i = 0; i < 6; ++i) CHECK(std::signbit(rv[i]) == (i / 2 != 1));
  }

  TEST_CASE("gather and scatter_add: values vs naive, every dim, index smaller than x") {
    const Shape xs{3, 4, 5};
    Tensor x = values(xs, 20, DType::f64);
    std::vector<double> xv = x.to_vector<double>();
    for (i64 dim : {0, 1, 2}) {
      CAPTURE(dim);
      Shape is{2, 3, 4};  // <= x in every dim; along dim it may also exceed x
      is[dim] = 6;
      Tensor index = rand_index(is, xs[dim], 21 + dim);
      std::vector<i64> iv = index.to_vector<i64>();
      Tensor g = gather(x, dim, index);
      REQUIRE(g.shape() == is);
      std::vector<double> gv = g.to_vector<double>();
      bool ok = true;
      for (i64 j = 0; j < numel_of(is); ++j) {
        Shape p = unravel(j, is);
        p[dim] = iv[j];
        ok = ok && gv[j] == xv[ravel(p, xs)];
      }
      CHECK(ok);
      // scatter_add with src larger than index: only index's extent of src is used.
      Shape ss = is;
      for (auto& v : ss) v += 1;
      Tensor src = values(ss, 22, DType::f64);
      std::vector<double> used = src.narrow(0, 0, is[0])
                                     .narrow(1, 0, is[1])
                                     .narrow(2, 0, is[2])
                                     .contiguous()
                                     .to_vector<double>();
      std::vector<double> ref = scatter_ref(xv, scatter_targets(xs, dim, index), used);
      Tensor y = scatter_add(x, dim, index, src);
      CHECK(y.shape() == xs);
      CHECK(y.to_vector<double>() == ref);
      std::vector<double> f = scatter_add(x, dim, index, src, Mode::Fast).to_vector<double>();
      for (std::size_t i = 0; i < f.size(); ++i) CHECK(std::fabs(f[i] - ref[i]) <= 1e-12);
    }
    // gather of a transposed view equals gather of its contiguous copy.
    Tensor xt = values({5, 3}, 23).t();
    Tensor ix = rand_index({3, 4}, 3, 24);
    CHECK(same_bits(gather(xt, 1, ix), gather(xt.contiguous(), 1, ix)));
  }

  TEST_CASE("embedding: rows by indices of any shape; weight gradient with repeated indices") {
    Tensor w = values({7, 4}, 30).requires_grad_();
    std::vector<i64> iv{3, 0, 3, 6, 3, 0};
    Tensor idx = ints(iv, {2, 3});
    Tensor y = embedding(w, idx);
    REQUIRE(y.shape() == Shape{2, 3, 4});
    std::vector<float> wv = w.to_vector<float>(), yv = y.to_vector<float>();
    for (i64 j = 0; j < 6; ++j)
      for (i64 k = 0; k < 4; ++k) CHECK(yv[j * 4 + k] == wv[iv[j] * 4 + k]);
    Tensor gy = values({2, 3, 4}, 31);
    y.backward(gy);
    std::vector<i64> targets;
    for (i64 j = 0; j < 6; ++j)
      for (i64 k = 0; k < 4; ++k) targets.push_back(iv[j] * 4 + k);
    std::vector<float> ref =
        scatter_ref(std::vector<float>(28, 0.0f), targets, gy.to_vector<float>());
    CHECK(w.grad().to_vector<float>() == ref);
    // 0-d indices give a (D) row.
    CHECK(same_bits(embedding(w.detach(), ints({5}, {1}).reshape({})), w.detach().select(0, 5)));
    // Fast mode backward within rounding.
    Tensor wf = w.detach().requires_grad_();
    embedding(wf, idx, Mode::Fast).backward(gy);
    std::vector<float> f = wf.grad().to_vector<float>();
    for (std::size_t i = 0; i < f.size(); ++i) CHECK(std::fabs(f[i] - ref[i]) <= 1e-4);
  }

  TEST_CASE("gradcheck in float64: index_select, index_add, gather, scatter_add, embedding") {
    Tensor i1 = ints({2, 0, 2, 3}, {4});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return index_select(v[0], 1, i1); },
                    {values({2, 4, 3}, 40)});
    for (Mode m : {Mode::Deterministic, Mode::Fast}) {
      CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return index_add(v[0], 0, i1, v[1], m); },
                      {values({4, 3}, 41), values({4, 3}, 42)});
      Tensor gi = ints({1, 0, 1, 2, 2, 0}, {2, 3});
      CHECK_GRADCHECK(
          [&](const std::vector<Tensor>& v) { return scatter_add(v[0], 0, gi, v[1], m); },
          {values({3, 4}, 43), values({3, 3}, 44)});  // src larger than index in dim 0
      CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return embedding(v[0], gi, m); },
                      {values({3, 2}, 45)});
    }
    Tensor gi1 = ints({0, 3, 3, 1, 2, 0}, {3, 2});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return gather(v[0], 1, gi1); },
                    {values({3, 4}, 46)});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return scatter_add(v[0], 1, gi1, v[1]); },
                    {values({4, 4}, 47), values({3, 2}, 48)});
  }

  TEST_CASE("thread counts 1, 2, 3 give the same bits (Deterministic, forward and backward)") {
    ThreadCountRestore restore;
    auto run = [] {
      Tensor x = values({6, 5}, 50).requires_grad_(), s = values({9, 5}, 51).requires_grad_();
      Tensor w = values({6, 5}, 52).requires_grad_();
      Tensor i = rand_index({9}, 6, 53), gi = rand_index({8, 5}, 6, 54);
      Tensor y = index_add(x, 0, i, s) + index_select(x, 0, i).sum() +
                 scatter_add(x, 0, gi, gather(w, 0, gi)) +
                 embedding(w, rand_index({3, 4}, 6, 55)).sum({0, 1}).unsqueeze(0);
      Tensor gy = values(y.shape(), 56);
      (y * gy).sum().backward();
      return std::vector<Tensor>{y.detach(), x.grad(), s.grad(), w.grad()};
    };
    set_num_threads(1);
    std::vector<Tensor> ref = run();
    for (int n : {2, 3}) {
      set_num_threads(n);
      std::vector<Tensor> got = run();
      for (std::size_t i = 0; i < ref.size(); ++i) {
        CAPTURE(n);
        CAPTURE(i);
        CHECK(same_bits(ref[i], got[i]));
      }
    }
  }

  TEST_CASE("bad input: index ops name the op, the bad index and the shapes") {
    Tensor x = zeros({3, 5});
    CHECK_ERROR(index_select(x, 1, ints({0, 5}, {2})), "index_select", "index 5", "out of range",
                "dim 1 of size 5", "[3,5]");
    CHECK_ERROR(index_select(x, 0, ints({-1}, {1})), "index_select", "index -1");
    CHECK_ERROR(index_select(x, 0, zeros({2})), "index_select", "i64", "[2] f32");
    CHECK_ERROR(index_select(x, 0, ints({0, 1}, {1, 2})), "index_select", "1-D", "[1,2]");
    CHECK_ERROR(index_select(x, 2, ints({0}, {1})), "index_select", "dim 2", "[3,5]");
    CHECK_ERROR(index_add(x, 0, ints({3}, {1}), zeros({1, 5})), "index_add", "index 3",
                "dim 0 of size 3");
    CHECK_ERROR(index_add(x, 0, ints({0, 1}, {2}), zeros({3, 5})), "index_add", "source [3,5]",
                "expected source [2,5]");
    CHECK_ERROR(index_add(x, 0, ints({0}, {1}), zeros({1, 5}, DType::f64)), "index_add", "dtype",
                "f64");
    CHECK_ERROR(index_add(zeros({3}, DType::i64), 0, ints({0}, {1}), zeros({1}, DType::i64)),
                "index_add", "floating");
    CHECK_ERROR(gather(x, 1, ints({0, 7}, {1, 2})), "gather", "index 7", "dim 1 of size 5", "[3,5]",
                "[1,2]");
    CHECK_ERROR(gather(x, 0, ints({0, 1}, {2})), "gather", "rank", "[2]", "[3,5]");
    CHECK_ERROR(gather(x, 0, zeros({4, 6}, DType::i64)), "gather", "[4,6]", "larger", "dim 1");
    CHECK_ERROR(gather(x, 0, zeros({1, 2})), "gather", "i64", "f32");
    CHECK_ERROR(scatter_add(x, 0, ints({0, 4}, {1, 2}), zeros({1, 2})), "scatter_add", "index 4",
                "dim 0 of size 3");
    CHECK_ERROR(scatter_add(x, 0, zeros({2, 2}, DType::i64), zeros({1, 2})), "scatter_add",
                "larger than src", "[2,2]", "[1,2]");
    CHECK_ERROR(scatter_add(x, 0, zeros({2, 2}, DType::i64), zeros({2, 2}, DType::f64)),
                "scatter_add", "dtype", "f64");
    Tensor w = zeros({10, 4});
    CHECK_ERROR(embedding(w, ints({1, 12, 3}, {3})), "embedding", "index 12", "out of range",
                "weight [10,4]");
    CHECK_ERROR(embedding(w, ints({-2}, {1})), "embedding", "index -2", "[10,4]");
    CHECK_ERROR(embedding(w, zeros({3})), "embedding", "i64", "[3] f32");
    CHECK_ERROR(embedding(zeros({10}), ints({1}, {1})), "embedding", "2-D", "[10]");
  }
}
