// ditto — SIMT simulator runtime: workers, the per-block fiber scheduler, barriers, warp
// collectives and the diagnostics (see kernels/sim/README.md for the model).
//
// Structure: a launch is split into blocks; each worker (the launching thread plus a persistent
// pool) takes blocks from a shared counter over the (possibly shuffled) block order and runs a
// block entirely on its own OS thread: one fiber per CUDA thread, switched by hand
// (kernels/sim/fiber.cpp). A fiber runs until a yield point (barrier, warp collective, atomic
// under the random schedule, exit) and then switches directly to the next runnable fiber of the
// block. Errors are recorded, the block's fibers are unwound (a Cancelled exception thrown at
// their yield points, so no exception ever crosses a fiber boundary), and launch() throws once
// every worker has stopped.
#include "kernels/sim/runtime.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/error.h"
#include "kernels/sim/cuda_shim.h"
#include "kernels/sim/fiber.h"
#include "kernels/sim/scheduler.h"

namespace ditto::sim {
namespace detail {
namespace {

constexpr std::size_t kMaxDynamicSmem = 227 * 1024;  // the largest opt-in on sm_90
constexpr std::uint64_t kMaxBlocks = std::uint64_t{1} << 26;

// ---------------------------------------------------------------------------------------------
// Configuration.

struct Config {
  std::mutex mu;
  Schedule schedule;
  int workers = 1;
  std::uint64_t launch_counter = 0;  // launches since the last set_schedule()
};

// Reads an environment variable as an integer in [lo, hi]; throws ditto::Error when it is set
// but malformed (a silently ignored seed would make a "reproduction" reproduce nothing).
std::uint64_t env_uint(const char* name, std::uint64_t fallback, std::uint64_t lo,
                       std::uint64_t hi) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 0);
  DITTO_CHECK(errno == 0 && *end == '\0' && *s != '-' && v >= lo && v <= hi, "sim: environment ",
              name, "='", s, "' is not an integer in [", lo, ", ", hi, "]");
  return v;
}

Config& config() {
  // Leaked on purpose: launches may happen during static destruction. If an environment variable
  // is malformed the initialiser throws, and the next call tries again.
  static Config* c = [] {
    auto cfg = std::make_unique<Config>();
    cfg->schedule.seed = env_uint("DITTO_SIM_SEED", 0, 0, ~std::uint64_t{0});
    if (const char* s = std::getenv("DITTO_SIM_SCHEDULE"); s != nullptr && *s != '\0') {
      const std::string v = s;
      DITTO_CHECK(v == "inorder" || v == "in-order" || v == "random", "sim: environment ",
                  "DITTO_SIM_SCHEDULE='", v, "' is not 'inorder' or 'random'");
      cfg->schedule.order = v == "random" ? Order::kRandom : Order::kInOrder;
    }
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    cfg->workers = static_cast<int>(env_uint("DITTO_SIM_WORKERS", std::min(2u, hw), 1, 64));
    return cfg.release();
  }();
  return *c;
}

std::atomic<std::uint64_t> g_launches{0}, g_blocks{0}, g_threads{0}, g_switches{0};

// ---------------------------------------------------------------------------------------------
// One launch, shared by all workers.

struct Launch {
  LaunchSpec spec;
  std::uint64_t nblocks = 0;
  std::vector<std::uint32_t> order;  // block linear ids in the order they are handed out
  std::atomic<std::uint64_t> next{0};
  // Polled at every yield point: keep it off the cache line the workers' `next` bumps touch.
  alignas(64) std::atomic<bool> abort{false};
  alignas(64) std::mutex error_mu;
  std::string error;
  bool random = false;
  std::uint64_t seed = 0;  // the schedule seed mixed with the launch counter

  void report(const std::string& msg) {
    std::lock_guard<std::mutex> lk(error_mu);
    if (error.empty()) error = msg;
    abort.store(true, std::memory_order_relaxed);
  }
};

void run_blocks(Launch& launch);

// ---------------------------------------------------------------------------------------------
// The worker pool: the launching thread works too; `helpers` pool threads join it.

class Pool {
 public:
  void run(Launch& launch, int helpers) {
    if (helpers > 0) {
      std::unique_lock<std::mutex> lk(mu_);
      while (static_cast<int>(threads_.size()) < helpers) {
        const int index = static_cast<int>(threads_.size());
        try {
          threads_.emplace_back([this, index] { thread_main(index); });
        } catch (const std::system_error& e) {
          DITTO_FAIL("sim: cannot start worker thread ", index + 1, ": ", e.what());
        }
      }
      job_ = &launch;
      wanted_ = helpers;
      active_ = helpers;
      ++generation_;
      lk.unlock();
      cv_.notify_all();
    }
    std::exception_ptr failure;
    try {
      run_blocks(launch);
    } catch (...) {
      failure = std::current_exception();
      launch.abort.store(true);
    }
    if (helpers > 0) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [this] { return active_ == 0; });
      job_ = nullptr;
    }
    if (failure) std::rethrow_exception(failure);
  }

 private:
  void thread_main(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return generation_ != seen; });
      seen = generation_;
      if (index >= wanted_) continue;
      Launch* launch = job_;
      lk.unlock();
      try {
        run_blocks(*launch);
      } catch (const std::exception& e) {  // e.g. cannot map a stack: fail the launch, not the
        launch->report(std::string("sim worker: ") + e.what());  // process
      } catch (...) {
        launch->report("sim worker: unknown exception");
      }
      lk.lock();
      if (--active_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> threads_;
  Launch* job_ = nullptr;
  std::uint64_t generation_ = 0;
  int wanted_ = 0;
  int active_ = 0;
};

Pool& pool() {
  // Leaked on purpose (as config()): its threads sleep until the process exits, and a launch
  // during static destruction still finds a working pool.
  static Pool* p = new Pool;
  return *p;
}
std::mutex& launch_mutex() {  // serialises launches from different host threads; leaked too
  static std::mutex* m = new std::mutex;
  return *m;
}

// ---------------------------------------------------------------------------------------------
// Running blocks on one worker.

std::string fmt3(const unsigned v[3]) {
  std::ostringstream os;
  os << '(' << v[0] << ',' << v[1] << ',' << v[2] << ')';
  return os.str();
}

void run_blocks(Launch& launch) {
  Worker& w = Worker::for_this_thread();
  w.begin_launch(launch.spec, launch.random);
  const unsigned gx = launch.spec.grid[0], gy = launch.spec.grid[1];
  for (;;) {
    if (launch.abort.load(std::memory_order_relaxed)) break;
    const std::uint64_t i = launch.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= launch.nblocks) break;
    const std::uint64_t b = launch.random ? launch.order[i] : i;
    const unsigned idx[3] = {static_cast<unsigned>(b % gx), static_cast<unsigned>(b / gx % gy),
                             static_cast<unsigned>(b / (std::uint64_t{gx} * gy))};
    std::string error;
    w.run_block(idx, mix_seed(launch.seed, b), &launch.abort, &error);
    if (!error.empty()) launch.report(error);
  }
  g_blocks.fetch_add(w.blocks_run(), std::memory_order_relaxed);
  g_threads.fetch_add(w.threads_run(), std::memory_order_relaxed);
  g_switches.fetch_add(w.switches(), std::memory_order_relaxed);
  w.end_launch();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// launch()

void launch(const LaunchSpec& spec) {
  const std::string cfg = "grid " + fmt3(spec.grid) + ", block " + fmt3(spec.block) +
                          ", dynamic shared memory " + std::to_string(spec.dynamic_smem) + " B";
  for (int d = 0; d < 3; ++d) {
    DITTO_CHECK(spec.grid[d] > 0 && spec.block[d] > 0,
                "sim launch: invalid configuration (zero extent): ", cfg);
  }
  const std::uint64_t threads = std::uint64_t{spec.block[0]} * spec.block[1] * spec.block[2];
  DITTO_CHECK(
      threads <= 1024 && spec.block[0] <= 1024 && spec.block[1] <= 1024 && spec.block[2] <= 64,
      "sim launch: invalid block shape (at most 1024 threads, x,y <= 1024, z <= 64): ", cfg);
  DITTO_CHECK(spec.grid[0] <= 0x7fffffffu && spec.grid[1] <= 65535 && spec.grid[2] <= 65535,
              "sim launch: invalid grid shape (x < 2^31, y,z <= 65535): ", cfg);
  DITTO_CHECK(spec.dynamic_smem <= kMaxDynamicSmem, "sim launch: dynamic shared memory above ",
              kMaxDynamicSmem, " B: ", cfg);
  const std::uint64_t nblocks = std::uint64_t{spec.grid[0]} * spec.grid[1] * spec.grid[2];
  DITTO_CHECK(nblocks <= kMaxBlocks,
              "sim launch: more than 2^26 blocks is beyond the simulator: ", cfg);
  DITTO_CHECK(!Worker::inside_kernel(),
              "sim launch: launching a kernel from inside a kernel (dynamic parallelism) is not "
              "supported");

  std::lock_guard<std::mutex> serial(launch_mutex());
  Launch launch;
  launch.spec = spec;
  launch.nblocks = nblocks;
  Schedule schedule;
  int workers;
  std::uint64_t launch_index;
  {
    Config& c = config();
    std::lock_guard<std::mutex> lk(c.mu);
    schedule = c.schedule;
    workers = c.workers;
    launch_index = c.launch_counter++;
  }
  launch.random = schedule.order == Order::kRandom;
  launch.seed = mix_seed(schedule.seed, launch_index);
  if (launch.random) {
    launch.order.resize(nblocks);
    for (std::uint64_t i = 0; i < nblocks; ++i) launch.order[i] = static_cast<std::uint32_t>(i);
    Rng rng(mix_seed(launch.seed, ~std::uint64_t{0}));
    for (std::uint64_t i = nblocks; i > 1; --i) {  // Fisher-Yates
      std::swap(launch.order[i - 1], launch.order[rng.below(i)]);
    }
  }
  const int helpers = static_cast<int>(std::min<std::uint64_t>(workers, nblocks)) - 1;
  pool().run(launch, helpers);
  g_launches.fetch_add(1, std::memory_order_relaxed);
  if (!launch.error.empty()) {
    std::ostringstream os;
    os << "sim: " << launch.error << " [launch: " << cfg << "; schedule "
       << (launch.random ? "random" : "in-order") << ", seed " << schedule.seed << ", launch #"
       << launch_index << " since set_schedule, " << workers << " worker(s)]";
    throw Error(os.str());
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Public configuration API.

void set_schedule(const Schedule& schedule) {
  detail::Config& c = detail::config();
  std::lock_guard<std::mutex> lk(c.mu);
  c.schedule = schedule;
  c.launch_counter = 0;
}

Schedule get_schedule() {
  detail::Config& c = detail::config();
  std::lock_guard<std::mutex> lk(c.mu);
  return c.schedule;
}

void set_num_workers(int n) {
  DITTO_CHECK(n >= 1 && n <= 64, "sim::set_num_workers: need 1 <= n <= 64, got ", n);
  detail::Config& c = detail::config();
  std::lock_guard<std::mutex> lk(c.mu);
  c.workers = n;
}

int get_num_workers() {
  detail::Config& c = detail::config();
  std::lock_guard<std::mutex> lk(c.mu);
  return c.workers;
}

ScheduleGuard::ScheduleGuard(const Schedule& schedule, int workers)
    : old_schedule_(get_schedule()), old_workers_(get_num_workers()) {
  set_schedule(schedule);
  if (workers > 0) set_num_workers(workers);
}

ScheduleGuard::~ScheduleGuard() {
  set_schedule(old_schedule_);
  set_num_workers(old_workers_);
}

Stats get_stats() {
  Stats s;
  s.launches = detail::g_launches.load();
  s.blocks = detail::g_blocks.load();
  s.threads = detail::g_threads.load();
  s.switches = detail::g_switches.load();
  return s;
}

}  // namespace ditto::sim
