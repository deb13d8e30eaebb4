// Core plumbing: errors, modes, threads, devices, generator state, tensor metadata and views,
// the autograd engine's bookkeeping.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include "ditto/ditto.h"
#include "kernels/device_memory.h"
#include "test/fixtures/errors.h"

using namespace ditto;

namespace {
using ditto::test_fixtures::error_of;  // test/fixtures/errors.h
}  // namespace

TEST_SUITE("core") {
  TEST_CASE("DITTO_CHECK throws ditto::Error carrying the message and file:line") {
    std::string msg = error_of([] { DITTO_CHECK(1 + 1 == 3, "arith: ", 42, " is wrong"); });
    CHECK(msg.find("arith: 42 is wrong") == 0);
    CHECK(msg.find("test_core.cpp:") != std::string::npos);
    CHECK_THROWS_AS(DITTO_FAIL("x"), std::runtime_error);  // Error derives from runtime_error
  }

  TEST_CASE("mode: global default, per-thread guard, restore") {
    CHECK(get_mode() == Mode::Deterministic);
    {
      ModeGuard g(Mode::Fast);
      CHECK(get_mode() == Mode::Fast);
      {
        ModeGuard g2(Mode::Deterministic);
        CHECK(get_mode() == Mode::Deterministic);
      }
      CHECK(get_mode() == Mode::Fast);
      // the guard is per thread: another thread still sees the global mode
      Mode other = Mode::Fast;
      std::thread([&] { other = get_mode(); }).join();
      CHECK(other == Mode::Deterministic);
    }
    CHECK(get_mode() == Mode::Deterministic);
    set_mode(Mode::Fast);
    CHECK(get_mode() == Mode::Fast);
    CHECK(resolve_mode(Mode::Deterministic) == Mode::Deterministic);
    set_mode(Mode::Deterministic);
    CHECK(mode_name(Mode::Fast) == "fast");
  }

  TEST_CASE("threads: set/get and validation") {
    int before = get_num_threads();
    CHECK(before >= 1);
    set_num_threads(3);
    CHECK(get_num_threads() == 3);
    set_num_threads(before);
    CHECK_THROWS_AS(set_num_threads(0), Error);
  }

  TEST_CASE("devices: names, availability, equality") {
    CHECK(device_name(Device::cpu()) == "cpu");
    CHECK(device_name(Device::sim()) == "sim");
    CHECK(device_name(Device::cuda(1)) == "cuda:1");
    CHECK(device_available(Device::cpu()));
    CHECK(Device::cuda(0) != Device::cuda(1));
    std::ostringstream os;
    os << Device::cuda(2);
    CHECK(os.str() == "cuda:2");
    CHECK(device_available(Device::sim()));  // the simulator is always built
    // A GPU that is not there is an Error naming the op and the device, never a crash or a
    // silent fallback to another device.
    if (!device_available(Device::cuda(0))) {
      std::string msg = error_of([] { zeros({2, 3}, DType::f32, Device::cuda(0)); });
      CHECK(msg.find("allocate") != std::string::npos);
      CHECK(msg.find("cuda:0") != std::string::npos);
      CHECK(msg.find("not available") != std::string::npos);
      msg = error_of([] { ones({2}, DType::f32, Device::cpu()).to(Device::cuda(0)); });
      CHECK(msg.find("to: device cuda:0") != std::string::npos);
    }
  }

  TEST_CASE("devices: tensors move between cpu and sim bit for bit, with autograd") {
    Generator g(7);
    Tensor c = randn({5, 7}, g, DType::f64, Device::cpu());
    Tensor s = c.to(Device::sim());
    CHECK(s.device() == Device::sim());
    CHECK(s.to_vector<double>() == c.to_vector<double>());
    Tensor back = s.t().to(Device::cpu());  // a non-contiguous view is copied in logical order
    CHECK(back.to_vector<double>() == c.t().contiguous().to_vector<double>());
    Tensor leaf = from_vector<double>({1, 2, 3}, {3}, Device::cpu()).requires_grad_();
    (leaf.to(Device::sim()) * 2.0).sum().backward();
    CHECK(leaf.grad().device() == Device::cpu());
    CHECK(leaf.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
    // ops refuse to mix devices
    std::string msg = error_of([&] { c + s; });
    CHECK(msg.find("different devices") != std::string::npos);
  }

  TEST_CASE("default device: creation functions follow set_default_device") {
    Device before = default_device();
    set_default_device(Device::sim());
    CHECK(zeros({2}).device() == Device::sim());
    CHECK(from_vector<float>({1, 2}).device() == Device::sim());
    set_default_device(before);
    CHECK(zeros({2}).device() == before);
  }

  TEST_CASE("generator: state advances by the number of drawn elements") {
    Generator g(1234);
    CHECK(g.seed() == 1234);
    CHECK(g.offset() == 0);
    Tensor a = rand({3, 5}, g);
    CHECK(g.offset() == 15);
    Tensor b = randn({7}, g, DType::f64);
    CHECK(g.offset() == 22);
    // restoring the state replays the stream exactly
    g.set_state(1234, 15);
    Tensor b2 = randn({7}, g, DType::f64);
    CHECK(b.to_vector<double>() == b2.to_vector<double>());
    g.manual_seed(1234);
    Tensor a2 = rand({15}, g);
    CHECK(a.to_vector<float>() == a2.to_vector<float>());
  }

  TEST_CASE("tensor metadata: shape, strides, contiguity, views share storage") {
    Tensor x = arange(24.0).reshape({2, 3, 4});
    CHECK(x.shape() == Shape{2, 3, 4});
    CHECK(x.strides() == Shape{12, 4, 1});
    CHECK(x.is_contiguous());
    CHECK(x.numel() == 24);
    CHECK(x.size(-1) == 4);
    Tensor t = x.transpose(0, 2);
    CHECK(t.shape() == Shape{4, 3, 2});
    CHECK(t.strides() == Shape{1, 4, 12});
    CHECK_FALSE(t.is_contiguous());
    CHECK(t.shares_storage(x));
    Tensor c = t.contiguous();
    CHECK(c.is_contiguous());
    CHECK_FALSE(c.shares_storage(x));
    CHECK(c.to_vector<float>() == t.to_vector<float>());
    Tensor e = from_vector<float>({1, 2, 3}, {3, 1}).expand({3, 4});
    CHECK(e.strides() == Shape{1, 0});
    Tensor s = x.slice(2, 1, 4, 2);  // elements 1 and 3 of the last dim
    CHECK(s.shape() == Shape{2, 3, 2});
    CHECK(s.to_vector<float>()[1] == 3.0f);
    CHECK(x.select(1, -1).shape() == Shape{2, 4});
    CHECK(x.unsqueeze(3).shape() == Shape{2, 3, 4, 1});
    CHECK(x.unsqueeze(0).squeeze().shape() == Shape{2, 3, 4});
    CHECK(x.flatten(1).shape() == Shape{2, 12});
    // writing through a view changes the base
    {
      Tensor v = x.narrow(1, 1, 1);
      v.fill_(-1.0);
    }
    CHECK(x.to_vector<float>()[4] == -1.0f);
    CHECK(x.to_vector<float>()[0] == 0.0f);
  }

  TEST_CASE("reshape views when strides allow and copies otherwise") {
    Tensor x = arange(12.0).reshape({3, 4});
    CHECK(x.reshape({4, 3}).shares_storage(x));
    Tensor t = x.t();
    Tensor r = t.reshape({12});
    CHECK_FALSE(r.shares_storage(x));
    CHECK(r.to_vector<float>()[1] == 4.0f);
    CHECK_THROWS_AS(t.view({12}), Error);
    CHECK(x.reshape({-1, 6}).shape() == Shape{2, 6});
  }

  TEST_CASE("autograd: leaves, non-leaves, detach, NoGradGuard") {
    Tensor a = from_vector<double>({1, 2, 3}).requires_grad_();
    CHECK(a.is_leaf());
    Tensor b = a * 2.0;
    CHECK(b.requires_grad());
    CHECK_FALSE(b.is_leaf());
    CHECK_FALSE(b.detach().requires_grad());
    {
      NoGradGuard ng;
      Tensor c = a * 2.0;
      CHECK_FALSE(c.requires_grad());
      CHECK_FALSE(grad_mode_enabled());
    }
    CHECK(grad_mode_enabled());
    b.sum().backward();
    CHECK(a.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
  }

  TEST_CASE("autograd: a tensor used many times accumulates in a fixed order, bit-stable") {
    auto run = [] {
      Tensor x = from_vector<float>({0.1f, 0.7f, -1.3f, 2.9f}).requires_grad_();
      Tensor y = (x * x).sum() + (x.exp() * 3.0).sum() + x.sigmoid().sum() + x.tanh().sum();
      y.backward();
      return x.grad().to_vector<float>();
    };
    std::vector<float> g0 = run();
    for (int i = 0; i < 5; ++i) {
      std::vector<float> g = run();
      CHECK(std::memcmp(g.data(), g0.data(), g.size() * sizeof(float)) == 0);
    }
  }

  TEST_CASE("printing shows values, shape, dtype and summarises large tensors") {
    std::ostringstream os;
    os << from_vector<float>({1.5f, -2.0f, 3.0f, 4.25f}, {2, 2});
    std::string s = os.str();
    CHECK(s.find("1.5") != std::string::npos);
    CHECK(s.find("4.25") != std::string::npos);
    CHECK(s.find("shape=[2,2]") != std::string::npos);
    CHECK(s.find("dtype=f32") != std::string::npos);
    std::ostringstream big;
    big << zeros({100, 100});
    CHECK(big.str().find("...") != std::string::npos);
    CHECK(big.str().size() < 2000);
  }

  TEST_CASE("host block cache: a freed large block is kept and handed out again, then released") {
    kernels::release_host_cache();
    CHECK(kernels::host_cache_bytes() == 0);
    const Shape big{512, 1024};  // 2 MiB of f32: above the 256 KiB threshold
    void* first = nullptr;
    {
      Tensor t = empty(big, DType::f32, Device::cpu());
      first = t.raw_data();
    }
#if defined(__SANITIZE_ADDRESS__)
    CHECK(kernels::host_cache_bytes() == 0);  // off under ASan: reuse would hide use-after-free
#else
    if (const char* e = std::getenv("DITTO_HOST_CACHE"); e != nullptr && std::strcmp(e, "0") == 0)
      return;
    CHECK(kernels::host_cache_bytes() == std::size_t{2} << 20);
    {
      Tensor t = empty(big, DType::f32, Device::cpu());  // the same size: the kept block
      CHECK(t.raw_data() == first);
      CHECK(kernels::host_cache_bytes() == 0);
      Tensor small = empty({16}, DType::f32, Device::cpu());  // below the threshold: not kept
    }
    CHECK(kernels::host_cache_bytes() == std::size_t{2} << 20);
    kernels::release_host_cache();
    CHECK(kernels::host_cache_bytes() == 0);
#endif
  }
}
