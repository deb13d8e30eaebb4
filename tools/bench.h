// ditto — `ditto bench`: runs the benchmark suite (bench/bench_suite, and bench/bench_torch when
// libtorch was found at build time) in alternating rounds and writes the report: BENCH.md (a
// table per family: deterministic, fast, det/fast, libtorch, ditto/libtorch), bench/results.json
// and bench/bench.svg (gnuplot). The cases: bench/suite_cases.h. Usage: `ditto bench --help`.
#pragma once
#include <span>

namespace ditto::tools {

/// `ditto bench [flags]` (args: the arguments after "bench"). Returns 0 when the report was
/// written, 1 when a benchmark program failed or a file could not be written, 2 on bad flags.
int bench_main(std::span<char* const> args);

}  // namespace ditto::tools
