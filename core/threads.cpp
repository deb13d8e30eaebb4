#include "core/threads.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include <unistd.h>

#include "core/error.h"

namespace ditto {

namespace {
int hardware_threads() {
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, 1u << 20));
}

int initial_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    // strtol, not atoi: "4294967297" must not wrap to 1. Out-of-range values are clamped to the
    // cap below (an environment variable cannot be refused with an exception at load time).
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && n >= 1) return static_cast<int>(std::min<long>(n, max_num_threads()));
  }
  return hardware_threads();
}
std::atomic<int> g_threads{initial_threads()};
}  // namespace

int max_num_threads() {
  // libgomp exit()s when it cannot create the threads asked for (100000 threads: out of memory
  // for their stacks), so stay far from that: 4 per hardware thread is plenty for any
  // oversubscription experiment; never above OpenMP's own limit.
  const long cap = 4L * hardware_threads();
  const long omp_limit = omp_get_thread_limit();
  return static_cast<int>(std::max(1L, std::min(cap, omp_limit)));
}

void set_num_threads(int n) {
  DITTO_CHECK(n >= 1 && n <= max_num_threads(), "set_num_threads: thread count must be in [1, ",
              max_num_threads(), "] (4 x ", hardware_threads(),
              " hardware threads, at most OpenMP's thread limit), got ", n);
  g_threads.store(n);
}

int get_num_threads() { return g_threads.load(); }

void apply_wait_policy(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (argc < 1 || argv == nullptr) return;
  // Set before the exec: the new image's libgomp reads it when it loads, and the variable being
  // set is what stops a second exec.
  if (::setenv("GOMP_SPINCOUNT", "10000", 0) != 0) return;
  ::execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with libgomp's default; the variable stays for children.
}

}  // namespace ditto
