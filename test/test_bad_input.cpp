// Bad input to the public API: every case must raise ditto::Error (never crash, exit or return
// garbage) and the message must name the op and show the shapes / dtypes / values involved.
#include <doctest/doctest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "test/fixtures/errors.h"
#include "ditto/ditto.h"

using namespace ditto;

namespace {

using ditto::test_fixtures::error_of;  // test/fixtures/errors.h

Tensor f32(const Shape& s) { return zeros(s); }

}  // namespace


TEST_SUITE("bad_input") {
  TEST_CASE("broadcast mismatch names the op and both shapes") {
    Tensor a = f32({2, 3}), b = f32({4});
    CHECK_ERROR(add(a, b), "add", "[2,3]", "[4]");
    CHECK_ERROR(a - b, "sub", "[2,3]", "[4]");
    CHECK_ERROR(a * b, "mul", "[2,3]", "[4]");
    CHECK_ERROR(div(a, b), "div", "[2,3]", "[4]");
    CHECK_ERROR(maximum(a, f32({3, 2})), "maximum", "[2,3]", "[3,2]");
    CHECK_ERROR(lt(a, f32({2, 2})), "lt", "[2,3]", "[2,2]");
    CHECK_ERROR(where(zeros({2, 3}, DType::u8), a, b), "where", "[2,3]", "[4]");
    CHECK_ERROR(a.expand({2, 4}), "expand", "[2,3]", "[2,4]");
    CHECK_ERROR(a.copy_(f32({3, 3})), "copy_", "[3,3]", "[2,3]");
  }

  TEST_CASE("matmul shape errors name both operands") {
    CHECK_ERROR(matmul(f32({2, 3}), f32({4, 5})), "matmul", "[2,3]", "[4,5]");
    CHECK_ERROR(matmul(f32({3}), f32({4})), "matmul", "[3]", "[4]");
    CHECK_ERROR(matmul(f32({2, 3, 4}), f32({3, 4, 5})), "matmul", "[2,3,4]", "[3,4,5]");
    CHECK_ERROR(matmul(scalar_tensor(1.0), f32({2})), "matmul", "[]", "[2]");
  }

  TEST_CASE("out-of-range dims name the op, the dim and the shape") {
    Tensor x = f32({2, 3});
    CHECK_ERROR(sum(x, {2}), "sum", "2", "[2,3]");
    CHECK_ERROR(x.mean({-3}), "mean", "-3", "[2,3]");
    CHECK_ERROR(x.max({5}), "max", "5", "[2,3]");
    CHECK_ERROR(x.transpose(0, 2), "transpose", "2", "[2,3]");
    CHECK_ERROR(softmax(x, 2), "softmax", "2", "[2,3]");
    CHECK_ERROR(log_softmax(x, -3), "log_softmax", "-3", "[2,3]");
    CHECK_ERROR(x.narrow(2, 0, 1), "narrow", "2", "[2,3]");
    CHECK_ERROR(x.narrow(1, 2, 2), "narrow", "[2, 4)", "[2,3]");
    CHECK_ERROR(x.narrow(1, -1, 1), "narrow", "[2,3]");
    CHECK_ERROR(x.select(0, 2), "select", "2", "[2,3]");
    CHECK_ERROR(x.slice(3, 0, 1), "slice", "[2,3]");
    CHECK_ERROR(x.slice(1, 0, 3, 0), "slice", "step");
    CHECK_ERROR(x.unsqueeze(3), "unsqueeze", "[2,3]");
    CHECK_ERROR(x.squeeze(2), "squeeze", "[2,3]");
    CHECK_ERROR(x.argmax(2), "argmax", "[2,3]");
    CHECK_ERROR(x.size(2), "size", "[2,3]");
    CHECK_ERROR(x.flatten(1, 0), "flatten");
    CHECK_ERROR(f32({2, 3, 4}).t(), "t", "[2,3,4]");
  }

  TEST_CASE("duplicate dims are rejected naming the op and shape") {
    Tensor x = f32({2, 3});
    CHECK_ERROR(sum(x, {1, -1}), "sum", "twice", "[2,3]");
    CHECK_ERROR(mean(x, {0, 0}), "mean", "twice", "[2,3]");
    CHECK_ERROR(var(x, {0, -2}), "var", "twice", "[2,3]");
    CHECK_ERROR(x.min({1, 1}), "min", "twice", "[2,3]");
    CHECK_ERROR(x.permute({0, 0}), "permute", "[0,0]", "[2,3]");
    CHECK_ERROR(x.permute({0}), "permute", "[2,3]");
  }

  TEST_CASE("reshape and view size mismatches; non-viewable strides") {
    Tensor x = f32({2, 3});
    CHECK_ERROR(x.reshape({4}), "reshape", "[2,3]", "[4]");
    CHECK_ERROR(x.reshape({4, -1}), "reshape", "[2,3]", "[4,-1]");
    CHECK_ERROR(x.reshape({-1, -1}), "reshape", "[-1,-1]");
    CHECK_ERROR(x.view({7}), "view", "[2,3]", "[7]");
    CHECK_ERROR(x.t().view({6}), "view", "[3,2]", "[6]");
    CHECK_ERROR(f32({4, 6}).slice(0, 0, 4, 2).view({12}), "view", "[2,6]", "[12]");
    CHECK_NOTHROW(x.t().reshape({6}));  // reshape copies instead
  }

  TEST_CASE("dtype errors name the op and the dtype") {
    Tensor x = f32({2, 3});
    CHECK_ERROR(where(x, x, x), "where", "u8", "f32", "[2,3]");
    CHECK_ERROR(where(zeros({2, 3}, DType::i64), x, x), "where", "u8", "i64");
    Tensor i = zeros({2, 3}, DType::i64);
    CHECK_ERROR(matmul(i, f32({3, 2})), "matmul", "i64", "[2,3]");
    CHECK_ERROR(matmul(x, zeros({3, 2}, DType::u8)), "matmul", "u8", "[3,2]");
    CHECK_ERROR(i.requires_grad_(), "requires_grad_", "i64", "[2,3]");
    CHECK_ERROR(zeros({2}, DType::u8).requires_grad_(), "requires_grad_", "u8");
    CHECK_ERROR(mean(i), "mean", "i64", "[2,3]");
    CHECK_ERROR(i.var(), "var", "i64", "[2,3]");
    CHECK_ERROR(softmax(i, 0), "softmax", "i64");
    CHECK_ERROR(neg(zeros({2}, DType::u8)), "neg", "u8");
    Generator gen(1);
    CHECK_ERROR(rand({2}, gen, DType::i64), "rand", "i64");
    CHECK_ERROR(x.data_ptr<double>(), "data_ptr", "f32", "f64");
    CHECK_ERROR(randint(0, 300, {2}, gen, DType::u8), "randint", "u8");
  }

  TEST_CASE("unavailable devices raise an error saying so") {
    if (!device_available(Device::sim())) {
      CHECK_ERROR(zeros({2, 3}, DType::f32, Device::sim()), "sim", "not available");
      CHECK_ERROR(empty({2}, DType::f64, Device::sim()), "sim", "not available");
      CHECK_ERROR(f32({2, 3}).to(Device::sim()), "to", "sim", "not available");
      CHECK_ERROR(from_vector(std::vector<float>{1, 2}, {}, Device::sim()), "sim", "not available");
      CHECK_ERROR(arange(3.0, DType::f32, Device::sim()), "sim", "not available");
    } else {
      MESSAGE("device sim is available in this build: its allocation errors are not tested");
    }
    if (!device_available(Device::cuda(0))) {
      CHECK_ERROR(zeros({2, 3}, DType::f32, Device::cuda(0)), "cuda:0", "not available");
      CHECK_ERROR(f32({2, 3}).to(Device::cuda(0)), "to", "cuda:0", "not available");
    }
    CHECK_ERROR(zeros({2}, DType::f32, Device::cuda(1000)), "cuda:1000", "not available");
    Generator g(1);
    if (!device_available(Device::sim())) {
      CHECK_ERROR(rand({4}, g, DType::f32, Device::sim()), "sim", "not available");
      CHECK(g.offset() == 0);  // a failed draw does not consume counters
    }
  }

  TEST_CASE("autograd misuse: non-scalar backward, no grad, in-place on leaves") {
    Tensor x = f32({2, 3});
    x.requires_grad_();
    Tensor y = x * 2.0;
    CHECK_ERROR(y.backward(), "backward", "[2,3]", "scalar");
    CHECK_ERROR(y.backward(f32({3})), "backward", "[3]", "[2,3]");
    Tensor plain = f32({2});
    CHECK_ERROR(plain.backward(), "backward", "[2]", "does not require grad");
    CHECK_ERROR(sum(plain).backward(), "backward", "does not require grad");
    CHECK_ERROR(x.copy_(f32({2, 3})), "copy_", "requires grad", "[2,3]");
    CHECK_ERROR(x.fill_(1.0), "fill_", "requires grad");
    CHECK_ERROR(x.zero_(), "fill_", "requires grad");
    CHECK_ERROR(y.copy_(f32({2, 3})), "copy_", "requires grad");
    CHECK_ERROR(y.requires_grad_(), "requires_grad_", "leaf");
    CHECK_ERROR(x.set_grad(f32({3, 2})), "set_grad", "[3,2]", "[2,3]");
    CHECK_ERROR(x.set_grad(zeros({2, 3}, DType::f64)), "set_grad", "f64", "f32");
    {
      NoGradGuard ng;  // in-place updates of parameters are allowed without grad mode
      CHECK_NOTHROW(x.fill_(1.0));
      CHECK_NOTHROW(x.copy_(ones({3})));
    }
  }

  TEST_CASE("data access and creation errors") {
    CHECK_ERROR(f32({2, 3}).item<float>(), "item", "[2,3]");
    CHECK_ERROR(f32({0}).item<double>(), "item", "[0]");
    CHECK_ERROR(from_vector(std::vector<float>{1, 2, 3, 4, 5}, {2, 3}), "from_vector", "5",
                "[2,3]");
    CHECK_ERROR(from_vector(std::vector<double>{1}, {0}), "from_vector", "[0]");
    CHECK_ERROR(empty({2, -1}), "empty", "[2,-1]");
    CHECK_ERROR(arange(0, 1, 0), "arange", "step");
    CHECK_ERROR(Tensor().shape(), "undefined");
    CHECK_ERROR(add(Tensor(), f32({2})), "add", "undefined");
  }

  TEST_CASE("argument errors: threads, clamp, pow, randint, uniform, normal") {
    int before = get_num_threads();
    CHECK_ERROR(set_num_threads(0), "set_num_threads", "0");
    CHECK_ERROR(set_num_threads(-2), "set_num_threads", "-2");
    CHECK(get_num_threads() == before);
    CHECK_ERROR(clamp(f32({2}), 3.0, 1.0), "clamp", "3", "1");
    CHECK_ERROR(f32({2}).clamp(0.5, -0.5), "clamp", "0.5", "-0.5");
    CHECK_ERROR(pow(f32({2}), std::numeric_limits<double>::infinity()), "pow", "inf");
    Generator g(1);
    CHECK_ERROR(randint(5, 5, {3}, g), "randint", "5");
    CHECK_ERROR(randint(7, 2, {3}, g), "randint", "7", "2");
    CHECK_ERROR(uniform({3}, 1.0, 1.0, g), "uniform", "1");
    CHECK_ERROR(normal({3}, 0.0, -1.0, g), "normal", "-1");
    CHECK(g.offset() == 0);  // failed draws consume nothing
  }

  TEST_CASE("reductions over empty dims and integer division by zero") {
    Tensor e = f32({2, 0});
    CHECK_ERROR(e.max({1}), "max", "[2,0]");
    CHECK_ERROR(min(e, {}), "min", "[2,0]");
    CHECK_ERROR(e.argmax(1), "argmax", "[2,0]");
    CHECK_ERROR(argmin(e), "argmin", "[2,0]");
    CHECK_ERROR(softmax(e, 1), "softmax", "[2,0]");
    CHECK_NOTHROW(e.max({0}));  // a non-empty reduced dim over an empty kept dim is fine
    CHECK(e.max({0}).shape() == Shape{0});
    Tensor a = from_vector(std::vector<std::int64_t>{1, 2});
    Tensor z = from_vector(std::vector<std::int64_t>{1, 0});
    CHECK_ERROR(div(a, z), "div", "zero");
  }
}
