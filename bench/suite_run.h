// ditto — the timing loop and counters both sides of the benchmark suite share (bench_suite.cpp
// and torch/bench_torch.cpp), so ditto's rows and libtorch's are measured the same way.
#pragma once
#include <benchmark/benchmark.h>

#include <functional>
#include <string>

#include "bench/suite_cases.h"

namespace ditto_bench {

/// One case's iteration: `untimed` (may be empty) runs with the timer paused, then `timed`.
struct Body {
  std::function<void()> untimed;
  std::function<void()> timed;
};

/// Runs the benchmark loop over `body`, then sets the rate counter ("GB/s" or "GFLOP/s" from the
/// case's work), "cpu_threads" ("threads" is Google Benchmark's own field) and the label.
inline void run_body(benchmark::State& s, const Case& c, Body& body, int threads,
                     const std::string& label) {
  for (auto _ : s) {
    if (body.untimed) {
      s.PauseTiming();
      body.untimed();
      s.ResumeTiming();
    }
    body.timed();
  }
  const double w = work(c) * double(s.iterations());
  switch (unit(c)) {
    case Unit::bytes:
      s.counters["GB/s"] = benchmark::Counter(w / 1e9, benchmark::Counter::kIsRate);
      break;
    case Unit::flops:
      s.counters["GFLOP/s"] = benchmark::Counter(w / 1e9, benchmark::Counter::kIsRate);
      break;
    case Unit::none: break;
  }
  s.counters["cpu_threads"] = threads;
  s.SetLabel(label);
}

}  // namespace ditto_bench
