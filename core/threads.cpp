#include "core/threads.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "core/error.h"

namespace ditto {

namespace {
int initial_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}
std::atomic<int> g_threads{initial_threads()};
}  // namespace

void set_num_threads(int n) {
  DITTO_CHECK(n >= 1, "set_num_threads: thread count must be >= 1, got ", n);
  g_threads.store(n);
}

int get_num_threads() { return g_threads.load(); }

}  // namespace ditto
