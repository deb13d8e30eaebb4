// The test runner: every test/test_*.cpp is linked into this one doctest executable
// (`build/test/ditto_tests`; ctest runs each test case as its own test).
//
// DITTO_TEST_DEVICE=cpu|sim|cuda makes that device the default for tensor creation
// (ditto::set_default_device), so the op suites — written once — run on each device. With
// DITTO_TEST_DEVICE=cuda and no GPU the runner prints "skipped: no GPU" and exits 77, which
// ctest reports as a skipped test.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ditto/ditto.h"
#include "test/fixtures/child.h"

int main(int argc, char** argv) {
  ditto::apply_wait_policy(argc, argv);  // GOMP_SPINCOUNT=10000 unless set (core/threads.h)
  if (const char* env = std::getenv("DITTO_TEST_DEVICE")) {
    std::string dev = env;
    ditto::Device d = ditto::Device::cpu();
    if (dev == "sim") {
      d = ditto::Device::sim();
    } else if (dev == "cuda") {
      d = ditto::Device::cuda(0);
      if (!ditto::device_available(d)) {
        std::printf("skipped: no GPU (DITTO_TEST_DEVICE=cuda; %s)\n",
                    ditto::build_info().cuda_compiled ? "CUDA kernels compiled, no device present"
                                                      : "CUDA kernels not compiled");
        return 77;
      }
    } else if (dev != "cpu") {
      std::fprintf(stderr, "DITTO_TEST_DEVICE must be cpu, sim or cuda, got '%s'\n", env);
      return 2;
    }
    ditto::set_default_device(d);
    std::printf("[ditto] default device for this run: %s\n", ditto::device_name(d).c_str());
  }
  // A crash/hang case re-executed by test/fixtures/child.h: run that body only.
  if (const int rc = ditto::test_fixtures::run_child_if_requested(); rc >= 0) return rc;
  doctest::Context context(argc, argv);
  return context.run();
}
