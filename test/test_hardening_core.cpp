// Hardening of the tensor core (issue 9): shape overflow, deep autograd graphs, thread counts,
// version counters for saved tensors, in-place writes into overlapping memory, out-of-range fill
// values, var() of nothing, optimizer arguments, clear errors. Cases that crashed, exit()ed or
// overflowed the stack before the fix run in a child process (test/fixtures/child.h) with a
// timeout, so a regression fails its test instead of the suite.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "ditto/ditto.h"
#include "test/fixtures/child.h"
#include "test/fixtures/errors.h"

using namespace ditto;
using ditto::test_fixtures::error_of;
using ditto::test_fixtures::register_child;
using ditto::test_fixtures::run_child;

namespace {

constexpr std::int64_t k32 = std::int64_t{1} << 32;

// 1. Every creation / view of an overflowing shape throws; nothing reaches a kernel. (Before the
// fix each of these "succeeded" with a wrapped element count, and the first read segfaulted.)
void overflow_then_touch() {
  auto must_throw = [](const char* what, auto f) {
    const std::string msg = error_of(f);
    std::printf("%s: %s\n", what, msg.c_str());
    if (msg == "<no error>") std::printf("NO ERROR for %s\n", what);
  };
  for (Device d : {Device::cpu(), Device::sim()}) {
    must_throw("zeros", [&] { zeros({k32, k32}, DType::f32, d).fill_(1.0); });
    must_throw("empty f64", [&] { empty({std::int64_t{1} << 61}, DType::f64, d).fill_(1.0); });
    must_throw("reshape", [&] {
      zeros({0}, DType::f32, d).reshape({k32, k32}).sum().item<float>();
    });
    must_throw("expand", [&] {
      std::printf("sum %g\n", arange(3, DType::f32, d)
                                  .expand({std::int64_t{1} << 62, std::int64_t{1} << 62, 3})
                                  .sum()
                                  .item<float>());
    });
  }
  // Linear(2^32, 2^32): the 2^64-element weight is refused before any allocation (the 16 GiB
  // bias would otherwise be allocated and filled first).
  ditto::test_fixtures::limit_address_space(std::size_t{2} << 30);
  Generator g(0);
  must_throw("Linear",
             [&] { nn::Linear(nn::LinearOptions{.in_features = k32, .out_features = k32}, g); });
  // Expanded (stride-0) operands: the inputs cost nothing, the 2^64-element product is refused.
  must_throw("matmul", [&] {
    matmul(zeros({1, 1}).expand({k32, 1}), zeros({1, 1}).expand({1, k32}));
  });
}
const int reg_overflow = register_child("overflow_then_touch", overflow_then_touch);

// 2. A 10^6-op chain: backward and teardown must not recurse per node.
constexpr int kDeep = 1000000;
void deep_backward() {
  Tensor x = scalar_tensor(1.0).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < kDeep; ++i) y = y + x;  // y = (kDeep + 1) * x
  y.backward();
  std::printf("grad %.1f\n", x.grad().item<float>());
}
const int reg_deep_backward = register_child("deep_backward", deep_backward);

// The logging pattern: per-step losses summed into a total without detach(), then dropped.
void deep_teardown() {
  Tensor w = scalar_tensor(0.5).requires_grad_();
  Tensor total = scalar_tensor(0.0);
  for (int i = 0; i < kDeep; ++i) total = total + w * w;
  std::printf("total %.1f\n", total.item<float>());
  total = Tensor();  // destroys the whole 2*10^6-node graph
  std::printf("destroyed\n");
}
const int reg_deep_teardown = register_child("deep_teardown", deep_teardown);

// 3. A huge thread count is refused, and a parallel region still runs afterwards (before: libgomp
// exit(1) at the next parallel region).
void huge_thread_count() {
  std::printf("%s\n", error_of([] { set_num_threads(100000); }).c_str());
  Tensor a = ones({512, 512});
  std::printf("sum %.1f\n", matmul(a, a).sum().item<float>());
}
const int reg_threads = register_child("huge_thread_count", huge_thread_count);

}  // namespace

TEST_SUITE("hardening") {
  TEST_CASE(
      "shape overflow: creation, reshape, expand, Linear and matmul raise, never touch memory") {
    const auto r = run_child("overflow_then_touch", 120);
    INFO(r.describe());
    REQUIRE(r.ok());
    CHECK(r.output.find("NO ERROR") == std::string::npos);
    CHECK(r.output.find("zeros: empty: shape [4294967296,4294967296] has more than 2^60") !=
          std::string::npos);
    CHECK(r.output.find("empty f64: empty: shape [2305843009213693952]") != std::string::npos);
    CHECK(r.output.find("reshape: reshape: shape [4294967296,4294967296]") != std::string::npos);
    CHECK(r.output.find("expand: expand: shape [4611686018427387904,4611686018427387904,3]") !=
          std::string::npos);
    CHECK(r.output.find("Linear: empty: shape [4294967296,4294967296]") != std::string::npos);
    CHECK(r.output.find("matmul: empty: shape [1,4294967296,4294967296]") != std::string::npos);
  }

  TEST_CASE(
      "shape overflow: narrow's start + length, slice with a huge step, views stay in bounds") {
    Tensor x = arange(6).reshape({2, 3});
    constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
    CHECK_ERROR(x.narrow(1, 2, big), "narrow", "2 + 9223372036854775807", "[2,3]");
    CHECK_ERROR(x.narrow(1, big, 1), "narrow", "[2,3]");
    // A step near 2^63 takes one element (no overflowing length or stride).
    Tensor s = x.slice(1, 0, 3, big);
    CHECK(s.shape() == Shape{2, 1});
    CHECK(s.contiguous().to_vector<float>() == std::vector<float>{0, 3});
    CHECK_ERROR(zeros({2, -3}), "empty", "negative size -3", "[2,-3]");
    CHECK_ERROR(zeros({4}).view({-1, k32, k32}), "view", "more than 2^60");
    // Zero-size tensors are fine while the other dims stay within the limit.
    CHECK(zeros({0, k32}).numel() == 0);
    CHECK(zeros({0}).reshape({0, k32}).shape() == Shape{0, k32});
  }

  TEST_CASE("the 8-dim limit is reported by the op the user called") {
    CHECK_ERROR(zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}), "empty", "has 9 dims", "at most 8");
    Tensor x8 = zeros({1, 1, 1, 1, 1, 1, 1, 2});
    CHECK_ERROR(x8.unsqueeze(0), "unsqueeze", "has 9 dims", "at most 8");
    CHECK_ERROR(x8.reshape({1, 1, 1, 1, 1, 1, 1, 1, 2}), "reshape", "at most 8");
    CHECK_ERROR(x8.expand({1, 1, 1, 1, 1, 1, 1, 1, 2}), "expand", "at most 8");
    CHECK(x8.sum().item<float>() == 0.0f);
  }

  TEST_CASE("deep graphs: backward through 10^6 chained ops (child process)") {
    const auto r = run_child("deep_backward", 600);
    INFO(r.describe());
    REQUIRE(r.ok());
    CHECK(r.output.find("grad 1000001.0") != std::string::npos);
  }

  TEST_CASE("deep graphs: tearing down 10^6 summed losses kept without detach (child process)") {
    const auto r = run_child("deep_teardown", 600);
    INFO(r.describe());
    REQUIRE(r.ok());
    CHECK(r.output.find("total 250000.0") != std::string::npos);
    CHECK(r.output.find("destroyed") != std::string::npos);
  }

  TEST_CASE("set_num_threads refuses counts above the cap; the next parallel region runs (child)") {
    const auto r = run_child("huge_thread_count", 120);
    INFO(r.describe());
    REQUIRE(r.ok());
    CHECK(r.output.find("set_num_threads: thread count must be in [1, ") != std::string::npos);
    CHECK(r.output.find("got 100000") != std::string::npos);
    CHECK(r.output.find("sum 134217728.0") != std::string::npos);
    CHECK(max_num_threads() >= 1);
    CHECK_ERROR(set_num_threads(max_num_threads() + 1), "set_num_threads");
    CHECK_ERROR(set_num_threads(0), "set_num_threads");
  }

  TEST_CASE("version counters: a saved tensor changed in place makes backward raise") {
    Tensor x = from_vector<float>({1, 2, 3}).requires_grad_();
    Tensor y = (x * x).sum();
    x.detach().fill_(100);  // what the issue reported: a silently wrong gradient before
    CHECK_ERROR(y.backward(), "backward", "mul", "modified in place", "version");

    // Outputs saved by their own rule (exp saves exp(x)), changed through a detached handle.
    Tensor a = from_vector<float>({0.5f, 1.0f}).requires_grad_();
    Tensor e = a.exp();
    Tensor loss = e.sum();
    {
      NoGradGuard ng;
      e.copy_(zeros({2}));
    }
    CHECK_ERROR(loss.backward(), "backward", "exp", "modified in place");

    // A parameter updated by the optimizer between forward and backward (matmul saved it).
    Tensor w = ones({2, 2}).requires_grad_();
    Tensor in = ones({1, 2}).requires_grad_();
    Tensor out = matmul(in, w).sum();
    optim::SGD sgd({w}, {.lr = 0.1});
    w.set_grad(ones({2, 2}));
    sgd.step();
    CHECK_ERROR(out.backward(), "backward", "matmul", "modified in place");

    // Tensors a rule does not read may change: add saves nothing.
    Tensor b = from_vector<float>({1, 2}).requires_grad_();
    Tensor c = (b + 1.0).sum();
    b.detach().fill_(7);
    c.backward();
    CHECK(b.grad().to_vector<float>() == std::vector<float>{1, 1});
    // Version numbers move with copy_ and fill_, shared by views and detach()ed handles.
    Tensor v = zeros({4});
    const std::uint64_t v0 = v.version();
    v.narrow(0, 1, 2).fill_(1);
    CHECK(v.version() == v0 + 1);
    v.detach().copy_(ones({4}));
    CHECK(v.version() == v0 + 2);
  }

  TEST_CASE("copy_ into an expanded (stride-0) tensor raises") {
    Tensor base = zeros({1, 3});
    Tensor e = base.expand({4, 3});
    CHECK_ERROR(e.copy_(arange(12).reshape({4, 3})), "copy_", "stride 0", "[4,3]");
    CHECK(base.to_vector<float>() == std::vector<float>{0, 0, 0});
    e.fill_(2);  // every element gets the same value: well defined
    CHECK(base.to_vector<float>() == std::vector<float>{2, 2, 2});
    zeros({1, 3}).expand({1, 3}).copy_(ones({1, 3}));  // size-1 dims are not overlap
  }

  TEST_CASE("full / fill_ refuse values the dtype cannot hold") {
    CHECK_ERROR(full({2}, 1000, DType::u8), "fill_", "1000", "u8");
    CHECK_ERROR(full({2}, -1, DType::u8), "fill_", "u8");
    CHECK_ERROR(full({2}, std::nan(""), DType::i64), "fill_", "i64");
    CHECK_ERROR(full({2}, 9.3e18, DType::i64), "fill_", "i64");
    CHECK_ERROR(full({2}, 1e39, DType::f32), "fill_", "f32");
    CHECK(full({2}, 255, DType::u8).to_vector<std::uint8_t>() ==
          std::vector<std::uint8_t>{255, 255});
    CHECK(full({1}, -9.2e18, DType::i64).item<std::int64_t>() ==
          static_cast<std::int64_t>(-9.2e18));
    CHECK(std::isinf(full({1}, INFINITY, DType::f32).item<float>()));
    CHECK(std::isnan(full({1}, NAN, DType::f32).item<float>()));
    CHECK(full({1}, 1e300, DType::f64).item<double>() == 1e300);
  }

  TEST_CASE("var() of an empty tensor is NaN (and of one element, unbiased)") {
    CHECK(std::isnan(zeros({0}).var().item<float>()));
    CHECK(std::isnan(zeros({0}).var({}, false).item<float>()));
    CHECK(std::isnan(ones({1}).var().item<float>()));
    Tensor v = zeros({3, 0}).var({1});
    CHECK(v.shape() == Shape{3});
    for (float f : v.to_vector<float>()) CHECK(std::isnan(f));
    CHECK(ones({1}).var({}, false).item<float>() == 0.0f);
  }

  TEST_CASE("optimizers: duplicate parameters, infinite lr, NaN dampening are refused") {
    Tensor p = zeros({2}).requires_grad_();
    Tensor q = zeros({2}).requires_grad_();
    CHECK_ERROR(optim::SGD({p, q, p}, {.lr = 0.1}), "SGD", "parameters 0 and 2", "same tensor");
    CHECK_ERROR(optim::Adam({p, p}), "Adam", "parameters 0 and 1");
    Tensor alias = p.detach().requires_grad_();
    CHECK_ERROR(optim::AdamW({p, alias}), "AdamW", "share storage");
    const double inf = std::numeric_limits<double>::infinity();
    CHECK_ERROR(optim::SGD({p}, {.lr = inf}), "SGD", "learning rate", "finite");
    CHECK_ERROR(optim::SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = std::nan("")}), "SGD",
                "dampening");
    CHECK_ERROR(optim::SGD({p}, {.lr = 0.1, .momentum = inf}), "SGD", "momentum");
    CHECK_ERROR(optim::SGD({p}, {.lr = 0.1, .weight_decay = inf}), "SGD", "weight_decay");
    CHECK_ERROR(optim::Adam({p}, {.lr = inf}), "Adam", "learning rate");
    CHECK_ERROR(optim::Adam({p}, {.lr = 0.1, .eps = inf}), "Adam", "epsilon");
    CHECK_ERROR(optim::Adam({p}, {.lr = std::nan("")}), "Adam", "learning rate");
    // A restored Adam step count near INT64_MAX is refused when set, not inside the first step.
    optim::Adam adam({p});
    optim::AdamState st = adam.state();
    st.step[0] = std::numeric_limits<std::int64_t>::max();
    CHECK_ERROR(adam.set_state(st), "Adam", "exceeds the limit 2^53");
  }

  TEST_CASE(
      "clear errors: arange too large is a ditto::Error; conv/pool never print overflowed sizes") {
    const std::string msg = error_of([] { arange(0, 1e14); });  // std::bad_alloc before
    CHECK(msg.find("out of memory") != std::string::npos);
    CHECK_ERROR(arange(0, 1, 0), "arange", "step");
    CHECK_ERROR(arange(0, INFINITY), "arange", "finite");
    Tensor x = zeros({1, 1, 4, 4}), w = zeros({1, 1, 2, 2});
    const std::int64_t huge = std::int64_t{1} << 62;
    const std::string c = error_of([&] { conv2d(x, w, {}, 1, huge); });
    CHECK(c.find("padding must be <= 2^31") != std::string::npos);
    CHECK(c.find("-922") == std::string::npos);
    CHECK_ERROR(max_pool2d(x, 2, Size2(2), 0, huge), "max_pool2d", "dilation must be <= 2^31");
    CHECK_ERROR(conv2d(x, w, {}, huge), "conv2d", "stride must be <= 2^31");
  }
}
