// ditto — `ditto bench` (see bench.h). The flow:
//   flags -> find build/bench/bench_suite (and bench_torch) -> R rounds, each running ditto's
//   suite then libtorch's (the two sides alternate, so a slow spell on this shared machine hits
//   both) with Google Benchmark's JSON output -> per row the median of the rounds' wall times ->
//   results.json, BENCH.md and the gnuplot SVG.
// Rows are joined by the names of bench/suite_cases.h ("<family>/<case>/<variant>/threads:<t>");
// rates (GB/s, GFLOP/s) are recomputed from the medians and the cases' work.
#include "tools/bench.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/suite_cases.h"
#include "core/cpu_isa.h"
#include "core/error.h"
#include "core/info.h"
#include "io/file_util.h"
#include "io/json.h"

extern char** environ;

namespace ditto::tools {
namespace {

namespace fs = std::filesystem;
using ditto_bench::Case;

constexpr int kUsageError = 2;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BenchFlags {
  int repetitions = 3;
  double min_time = 0.3;  // seconds per benchmark per round (Google Benchmark's min_time)
  std::string filter;     // Google Benchmark regex; empty = every case
  bool quick = false;
  std::string out = ".";
  std::string bench_dir;  // empty: <directory of this program>/bench
  std::string device = "cpu";
  bool torch = true;
  bool plot = true;
  bool help = false;
  std::vector<std::string> given;  // the arguments as given, for the report's command line
};

constexpr const char* kHelp = R"(usage: ditto bench [flags]

Runs the benchmark suite -- every case of bench/suite_cases.h, ditto Deterministic and Fast and
(when the build found libtorch) libtorch, at 1 and 2 threads -- in alternating rounds, and writes
  <out>/BENCH.md            a table per family: det, fast, det/fast, libtorch, ditto/libtorch
  <out>/bench/results.json  every row: medians, every round's time, rates, the machine
  <out>/bench/bench.svg     det/fast and ditto/libtorch per case (gnuplot)
Times are wall-clock medians over the rounds; ratios are taken between rows of the same run.

flags:
  --repetitions N   rounds (default 3); each round runs ditto's suite, then libtorch's
  --min-time S      seconds each benchmark runs per round (default 0.3)
  --filter REGEX    only the benchmarks whose name matches (Google Benchmark syntax; a leading
                    '-' excludes), e.g. 'conv2d/' or 'threads:1'
  --quick           one round, minimal time per case, no epoch case (a smoke run; ctest uses it)
  --out DIR         where the report goes (default: the current directory)
  --bench-dir DIR   where bench_suite and bench_torch are (default: <this program's dir>/bench)
  --device D        ditto's side on cpu (default) or cuda
  --no-torch        ditto's side only, even when bench_torch exists
  --no-plot         no SVG (no gnuplot needed)
  -h, --help        this text
)";

double parse_positive(std::string_view flag, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x) || x <= 0) {
    throw UsageError(std::string(flag) + " expects a positive number, got '" +
                     detail::abbreviate(v) + "'");
  }
  return x;
}

BenchFlags parse_flags(std::span<char* const> args) {
  BenchFlags f;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    f.given.push_back(arg);
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value");
      f.given.push_back(args[i + 1]);
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      f.help = true;
    } else if (arg == "--repetitions") {
      const double r = parse_positive(arg, value());
      if (r != std::floor(r) || r > 1000) throw UsageError("--repetitions expects 1..1000");
      f.repetitions = static_cast<int>(r);
    } else if (arg == "--min-time") {
      f.min_time = parse_positive(arg, value());
    } else if (arg == "--filter") {
      f.filter = value();
    } else if (arg == "--quick") {
      f.quick = true;
    } else if (arg == "--out") {
      f.out = value();
    } else if (arg == "--bench-dir") {
      f.bench_dir = value();
    } else if (arg == "--device") {
      f.device = value();
      if (f.device != "cpu" && f.device != "cuda")
        throw UsageError("--device must be cpu or cuda, got '" + detail::abbreviate(f.device) + "'");
    } else if (arg == "--no-torch") {
      f.torch = false;
    } else if (arg == "--no-plot") {
      f.plot = false;
    } else {
      throw UsageError("unknown flag '" + detail::abbreviate(arg) + "' (see ditto bench --help)");
    }
  }
  if (f.quick) {
    f.repetitions = 1;
    f.min_time = 0.001;
  }
  return f;
}

// ---- running the two programs ----------------------------------------------------------------

// What libtorch's side runs with unless the caller set GLIBC_TUNABLES: libtorch allocates every
// tensor with posix_memalign, and glibc's defaults return large freed blocks to the OS (munmap,
// heap trimming), so every iteration faults its pages in again -- measured 3.5 ms instead of
// 0.27 ms for a (64,1,28,28) 1->16 conv forward, 13.6 vs 5.2 ms for 16->32. ditto keeps its
// own cache of freed blocks (kernels/device_memory.h); libtorch gets glibc's equivalent, so
// the comparison is against libtorch at its best.
constexpr const char* kTorchMalloc =
    "GLIBC_TUNABLES=glibc.malloc.trim_threshold=2000000000:glibc.malloc.mmap_threshold=1000000000";

// Runs argv[0] with stdout and stderr into `log` and the environment plus `extra_env` (entries
// "NAME=value"; each replaces a variable of the same name); returns its exit status.
int run_program(const std::vector<std::string>& argv, const fs::path& log,
                const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const bool replaced = std::any_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) {
      return entry.substr(0, entry.find('=') + 1) == x.substr(0, x.find('=') + 1);
    });
    if (!replaced) env_store.emplace_back(entry);
  }
  env_store.insert(env_store.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (std::string& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  DITTO_CHECK(rc == 0, "ditto bench: cannot start ", argv[0], ": ", std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    DITTO_CHECK(errno == EINTR, "ditto bench: waitpid failed: ", std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string read_text(const fs::path& p) {
  const std::vector<std::uint8_t> b = io::read_file(p.string());
  return std::string(b.begin(), b.end());
}

std::string tail(const std::string& s, std::size_t lines) {
  std::size_t pos = s.size();
  for (std::size_t n = 0; pos > 0 && n <= lines; ++n) {
    pos = s.rfind('\n', pos - 1);
    if (pos == std::string::npos) return s;
  }
  return s.substr(pos + 1);
}

double to_ms(double t, const std::string& unit) {
  if (unit == "ns") return t / 1e6;
  if (unit == "us") return t / 1e3;
  if (unit == "ms") return t;
  if (unit == "s") return t * 1e3;
  throw Error("ditto bench: unknown time unit '" + unit + "' in the benchmark output");
}

double number(const io::json::Value* v) {
  DITTO_CHECK(v && v->kind == io::json::Value::Kind::number,
              "ditto bench: a benchmark result lacks a number");
  return std::strtod(v->text.c_str(), nullptr);
}

std::string text(const io::json::Value* v) {
  return v && v->kind == io::json::Value::Kind::string ? v->text : std::string();
}

// "family/case/variant/threads:t[/iterations:1][/real_time]" -> the part up to threads:t.
std::string row_key(const std::string& name) {
  const std::size_t p = name.find("/threads:");
  if (p == std::string::npos) return name;
  std::size_t end = p + 9;
  while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
  return name.substr(0, end);
}

struct Collected {
  std::map<std::string, std::vector<double>> times_ms;  // row key -> one time per round
  std::map<std::string, std::string> context;           // "ditto_cpu_isa", "torch_version", ...
};

// Adds one JSON report's rows (skipped rows: an error naming the row).
void collect(const std::string& json_text, const std::string& what, Collected& out) {
  const io::json::Value root = io::json::parse(json_text, what, 16);
  if (const io::json::Value* ctx = root.find("context")) {
    for (std::size_t i = 0; i < ctx->keys.size(); ++i) {
      if (ctx->items[i].kind == io::json::Value::Kind::string)
        out.context[ctx->keys[i]] = ctx->items[i].text;
    }
  }
  const io::json::Value* rows = root.find("benchmarks");
  DITTO_CHECK(rows && rows->kind == io::json::Value::Kind::array, what, ": no benchmarks array");
  for (const io::json::Value& r : rows->items) {
    const std::string name = text(r.find("name"));
    if (const io::json::Value* err = r.find("error_occurred");
        err && err->kind == io::json::Value::Kind::boolean && err->boolean) {
      throw Error("ditto bench: " + name + " failed: " + text(r.find("error_message")));
    }
    if (text(r.find("run_type")) == "aggregate") continue;
    out.times_ms[row_key(name)].push_back(
        to_ms(number(r.find("real_time")), text(r.find("time_unit"))));
  }
}

// ---- the report ------------------------------------------------------------------------------

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Row {
  const Case* c = nullptr;
  int threads = 1;
  std::vector<double> det, fast, torch;  // per round, ms
  double det_ms() const { return median(det); }
  double fast_ms() const { return median(fast); }
  double torch_ms() const { return median(torch); }
};

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown CPU";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

// "12.3 ms" with 3 significant digits; "—" for a missing value.
std::string fmt_ms(double ms) {
  if (!std::isfinite(ms)) return "—";
  char buf[32];
  if (ms >= 1000) std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
  else if (ms >= 100) std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else if (ms >= 10) std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else if (ms >= 1) std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  else std::snprintf(buf, sizeof buf, "%.1f µs", ms * 1000);
  return buf;
}

std::string fmt_ratio(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b) || b <= 0) return "—";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", a / b);
  return buf;
}

// The rate of a row at time `ms`: "23.4 GB/s", "81 GFLOP/s", or "" (train cases).
std::string fmt_rate(const Case& c, double ms) {
  if (!std::isfinite(ms) || ditto_bench::unit(c) == ditto_bench::Unit::none) return "";
  const double per_s = ditto_bench::work(c) / (ms / 1e3) / 1e9;
  char buf[32];
  std::snprintf(buf, sizeof buf, per_s >= 100 ? "%.0f %s" : "%.1f %s", per_s,
                ditto_bench::unit(c) == ditto_bench::Unit::bytes ? "GB/s" : "GFLOP/s");
  return buf;
}

void append_json_number(std::string& s, double v) {
  if (!std::isfinite(v)) {
    s += "null";
    return;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  s += buf;
}

void append_json_list(std::string& s, const std::vector<double>& v) {
  s += "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    append_json_number(s, v[i]);
  }
  s += "]";
}

struct Machine {
  std::string date, cpu, isa, ditto_version, torch_version, torch_capability, command;
  unsigned cores = 0;
};

std::string results_json(const Machine& m, const BenchFlags& f, const std::vector<Row>& rows) {
  const std::string what = "results.json";
  std::string s = "{\n  \"date\": ";
  io::json::append_string(s, m.date, what);
  s += ",\n  \"command\": ";
  io::json::append_string(s, m.command, what);
  s += ",\n  \"machine\": {\"cpu\": ";
  io::json::append_string(s, m.cpu, what);
  s += ", \"logical_cpus\": " + std::to_string(m.cores) + ", \"ditto_cpu_isa\": ";
  io::json::append_string(s, m.isa, what);
  s += ", \"ditto_version\": ";
  io::json::append_string(s, m.ditto_version, what);
  s += ", \"torch_version\": ";
  if (m.torch_version.empty()) s += "null";
  else io::json::append_string(s, m.torch_version, what);
  s += "},\n  \"repetitions\": " + std::to_string(f.repetitions) + ", \"min_time_s\": ";
  append_json_number(s, f.min_time);
  s += ",\n  \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    s += i ? ",\n    {" : "\n    {";
    s += "\"family\": ";
    io::json::append_string(s, r.c->family, what);
    s += ", \"case\": ";
    io::json::append_string(s, r.c->name, what);
    s += ", \"threads\": " + std::to_string(r.threads) + ", \"unit\": \"";
    s += ditto_bench::unit(*r.c) == ditto_bench::Unit::bytes   ? "GB/s"
         : ditto_bench::unit(*r.c) == ditto_bench::Unit::flops ? "GFLOP/s"
                                                                : "";
    s += "\", \"work_per_iteration\": ";
    append_json_number(s, ditto_bench::work(*r.c));
    s += ", \"det_ms\": ";
    append_json_number(s, r.det_ms());
    s += ", \"fast_ms\": ";
    append_json_number(s, r.fast_ms());
    s += ", \"torch_ms\": ";
    append_json_number(s, r.torch_ms());
    s += ", \"det_over_fast\": ";
    append_json_number(s, r.det_ms() / r.fast_ms());
    s += ", \"det_over_torch\": ";
    append_json_number(s, r.det_ms() / r.torch_ms());
    s += ", \"det_rounds_ms\": ";
    append_json_list(s, r.det);
    s += ", \"fast_rounds_ms\": ";
    append_json_list(s, r.fast);
    s += ", \"torch_rounds_ms\": ";
    append_json_list(s, r.torch);
    s += "}";
  }
  s += "\n  ]\n}\n";
  return s;
}

const Row* find_row(const std::vector<Row>& rows, std::string_view name, int threads) {
  for (const Row& r : rows)
    if (r.c->name == name && r.threads == threads) return &r;
  return nullptr;
}

std::string bench_md(const Machine& m, const BenchFlags& f, const std::vector<Row>& rows,
                     bool have_torch) {
  std::ostringstream o;
  o << "# ditto bench: what determinism costs, and ditto against libtorch\n\n"
    << "Generated by `" << m.command << "` on " << m.date << " (ditto " << m.ditto_version
    << ").\n\n"
    << "| | |\n|---|---|\n"
    << "| machine | " << m.cpu << ", " << m.cores << " logical CPUs |\n"
    << "| ditto CPU ISA level | " << m.isa << " |\n"
    << "| libtorch | "
    << (have_torch ? m.torch_version + " (Debian's CPU build; " + m.torch_capability + ")"
                   : std::string("not measured (bench_torch not built: install libtorch-dev)"))
    << " |\n"
    << "| threads | 1 and 2 (each row says) |\n"
    << "| libtorch's allocator | "
    << (std::getenv("GLIBC_TUNABLES") ? std::string("GLIBC_TUNABLES=") + std::getenv("GLIBC_TUNABLES")
                                       : std::string(kTorchMalloc))
    << " (glibc keeps freed blocks, as ditto's host cache does; with glibc's defaults libtorch "
       "re-faults every large tensor's pages and runs up to 13x slower) |\n"
    << "| method | " << f.repetitions << " round(s); each round runs ditto's suite"
    << (have_torch ? ", then libtorch's" : "") << "; each benchmark at least " << f.min_time
    << " s per round; wall-clock medians over the rounds |\n\n"
    << "det = ditto Deterministic (the default: the same bits on every run, thread count and "
       "ISA level), fast = ditto Fast (atomics / thread-keyed streams), det/fast = what "
       "determinism costs (below 1: the deterministic kernel is the faster one), "
       "ditto/libtorch = det time / libtorch time (below 1: ditto is faster). Rates: input "
       "bytes read once per second, or FLOP (2 per multiply-add) per second.\n\n";
  // Headline: the rows the issue's targets name, when they ran.
  o << "## Headline\n\n";
  const std::pair<const char*, int> heads[] = {
      {"step, batch 64", 1}, {"step, batch 64", 2}, {"epoch of Fashion-MNIST, batch 64", 1},
      {"epoch of Fashion-MNIST, batch 64", 2}, {"fwd (64,16,28,28) 16->32", 1},
      {"sum 2^24", 1}, {"1024^3", 1}};
  bool any = false;
  for (const auto& [name, t] : heads) {
    const Row* r = find_row(rows, name, t);
    if (!r || !std::isfinite(r->det_ms())) continue;
    any = true;
    o << "- " << r->c->family << " " << name << ", " << t << " thread" << (t > 1 ? "s" : "")
      << ": det " << fmt_ms(r->det_ms());
    if (const std::string rate = fmt_rate(*r->c, r->det_ms()); !rate.empty())
      o << " (" << rate << ")";
    if (std::isfinite(r->torch_ms())) {
      o << ", libtorch " << fmt_ms(r->torch_ms());
      if (const std::string rate = fmt_rate(*r->c, r->torch_ms()); !rate.empty())
        o << " (" << rate << ")";
      o << ": ditto/libtorch " << fmt_ratio(r->det_ms(), r->torch_ms());
    }
    o << "; det/fast " << fmt_ratio(r->det_ms(), r->fast_ms()) << "\n";
  }
  if (!any) o << "(the headline rows were filtered out of this run)\n";
  if (f.plot) o << "\n![det/fast and ditto/libtorch per case](bench/bench.svg)\n";
  std::string family;
  for (const Row& r : rows) {
    if (family != r.c->family) {
      family = r.c->family;
      o << "\n## " << family << "\n\n"
        << "| case | threads | det | fast | det/fast | libtorch | ditto/libtorch |\n"
        << "|---|---|---|---|---|---|---|\n";
    }
    auto cell = [&](double ms) {
      const std::string rate = fmt_rate(*r.c, ms);
      return fmt_ms(ms) + (rate.empty() ? "" : " (" + rate + ")");
    };
    o << "| " << r.c->name << " | " << r.threads << " | " << cell(r.det_ms()) << " | "
      << cell(r.fast_ms()) << " | " << fmt_ratio(r.det_ms(), r.fast_ms()) << " | "
      << cell(r.torch_ms()) << " | " << fmt_ratio(r.det_ms(), r.torch_ms()) << " |\n";
  }
  o << "\nSpeed comparisons on a shared machine are ratios within one run; absolute times "
       "move between runs. Regenerate: `" << m.command << "`.\n";
  return o.str();
}

// det/fast and det/libtorch per case and thread count, via gnuplot.
void write_plot(const fs::path& svg, const std::vector<Row>& rows, bool have_torch,
                const Machine& m, const fs::path& work) {
  std::map<std::pair<std::string, std::string>, std::array<double, 4>> by_case;
  std::vector<std::pair<std::string, std::string>> order;
  for (const Row& r : rows) {
    const auto key = std::make_pair(std::string(r.c->family), std::string(r.c->name));
    auto [it, fresh] = by_case.try_emplace(key, std::array<double, 4>{NAN, NAN, NAN, NAN});
    if (fresh) order.push_back(key);
    const int col = r.threads == 1 ? 0 : 1;
    it->second[col] = r.det_ms() / r.fast_ms();
    it->second[2 + col] = r.det_ms() / r.torch_ms();
  }
  const fs::path data = work / "plot.tsv", script = work / "plot.gp";
  {
    std::ofstream d(data);
    for (const auto& key : order) {
      const auto& v = by_case[key];
      d << key.first << ": " << key.second;
      for (double x : v) d << '\t' << (std::isfinite(x) ? std::to_string(x) : "NaN");
      d << '\n';
    }
  }
  {
    std::ofstream g(script);
    g << "set terminal svg size 1400," << (have_torch ? 1100 : 600)
      << " dynamic noenhanced font 'sans,10' background '#ffffff'\n"
      << "set output '" << svg.string() << "'\n"
      << "set datafile separator '\\t'\nset datafile missing 'NaN'\n"
      << "set multiplot layout " << (have_torch ? 2 : 1) << ",1 title 'ditto bench, " << m.date
      << ", " << m.cpu << ", ISA " << m.isa << " (time ratios, log scale; below 1 = faster)'\n"
      << "set style data histograms\nset style histogram clustered gap 1\n"
      << "set style fill solid 0.8 border -1\nset logscale y 2\nset grid ytics\n"
      << "set xtics rotate by -60 scale 0 font ',8'\nset key top left\n"
      << "set bmargin 14\nset rmargin 12\nset ylabel 'det / fast'\n"
      << "plot '" << data.string() << "' using 2:xtic(1) title '1 thread', '' using 3 title "
      << "'2 threads', 1 with lines lc rgb 'black' notitle\n";
    if (have_torch) {
      g << "set ylabel 'ditto det / libtorch'\n"
        << "plot '" << data.string() << "' using 4:xtic(1) title '1 thread', '' using 5 title "
        << "'2 threads', 1 with lines lc rgb 'black' notitle\n";
    }
    g << "unset multiplot\n";
  }
  const int rc = run_program({"/usr/bin/env", "gnuplot", script.string()}, work / "gnuplot.log");
  DITTO_CHECK(rc == 0, "ditto bench: gnuplot failed (exit ", rc, "): ",
              tail(read_text(work / "gnuplot.log"), 10),
              rc == 127 ? " -- install gnuplot (Debian: gnuplot-nox) or pass --no-plot" : "");
}

fs::path self_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  DITTO_CHECK(!ec, "ditto bench: cannot find this program's path; pass --bench-dir");
  return exe.parent_path();
}

int run(const BenchFlags& f) {
  const fs::path dir = f.bench_dir.empty() ? self_dir() / "bench" : fs::path(f.bench_dir);
  const fs::path suite = dir / "bench_suite", torch = dir / "bench_torch";
  DITTO_CHECK(fs::exists(suite), "ditto bench: ", suite.string(),
              " not found (configure with -DDITTO_BENCH=ON, needs libbenchmark-dev; or pass "
              "--bench-dir)");
  const bool have_torch = f.torch && fs::exists(torch);
  if (f.torch && !have_torch) {
    std::cout << "ditto bench: " << torch.string()
              << " not built (libtorch-dev was not found at configure time): ditto's rows only\n";
  }
  const fs::path out(f.out);
  fs::create_directories(out / "bench");
  const fs::path work = fs::temp_directory_path() / ("ditto-bench-" + std::to_string(getpid()));
  fs::create_directories(work);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{work};

  std::string filter = f.filter;
  if (f.quick && filter.empty()) filter = "-epoch";  // the one case that takes seconds
  std::vector<std::string> common = {"--benchmark_format=json",
                                     "--benchmark_min_time=" + std::to_string(f.min_time)};
  if (!filter.empty()) common.push_back("--benchmark_filter=" + filter);

  Collected got;
  const auto t0 = std::chrono::steady_clock::now();
  for (int round = 1; round <= f.repetitions; ++round) {
    for (int side = 0; side < (have_torch ? 2 : 1); ++side) {
      const char* who = side == 0 ? "ditto" : "libtorch";
      std::vector<std::string> argv = {(side == 0 ? suite : torch).string()};
      argv.insert(argv.end(), common.begin(), common.end());
      const fs::path json = work / (std::string(who) + std::to_string(round) + ".json");
      argv.push_back("--benchmark_out=" + json.string());
      argv.push_back("--benchmark_out_format=json");
      if (side == 0) argv.push_back("--ditto_device=" + f.device);
      std::cout << "[round " << round << "/" << f.repetitions << "] " << who << " ..."
                << std::flush;
      const auto s = std::chrono::steady_clock::now();
      const fs::path log = work / (std::string(who) + ".log");
      std::vector<std::string> env;
      if (side == 1 && std::getenv("GLIBC_TUNABLES") == nullptr) env.push_back(kTorchMalloc);
      const int rc = run_program(argv, log, env);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
      std::printf(" %.1f s\n", secs);
      std::fflush(stdout);
      DITTO_CHECK(rc == 0, "ditto bench: ", argv[0], " failed (exit ", rc, "); its output ends:\n",
                  tail(read_text(log), 20));
      collect(read_text(json), json.string(), got);
    }
  }

  std::vector<Row> rows;
  for (const Case& c : ditto_bench::cases()) {
    for (int t : ditto_bench::kThreads) {
      Row r;
      r.c = &c;
      r.threads = t;
      auto take = [&](const char* v) {
        auto it = got.times_ms.find(ditto_bench::bench_name(c, v, t));
        return it == got.times_ms.end() ? std::vector<double>{} : it->second;
      };
      r.det = take("det");
      r.fast = take("fast");
      r.torch = take("torch");
      if (!r.det.empty() || !r.fast.empty() || !r.torch.empty()) rows.push_back(std::move(r));
    }
  }
  DITTO_CHECK(!rows.empty(), "ditto bench: no benchmark matched --filter '", f.filter, "'");

  Machine m;
  m.date = utc_now();
  m.cpu = cpu_model();
  m.cores = std::thread::hardware_concurrency();
  m.isa = got.context.count("ditto_cpu_isa") ? got.context["ditto_cpu_isa"]
                                             : std::string(cpu_isa_name(get_cpu_isa()));
  m.ditto_version = std::string(version());
  m.torch_version = have_torch ? got.context["torch_version"] : "";
  if (have_torch) {
    const std::string& cfg = got.context["torch_config"];
    const auto p = cfg.find("CPU capability usage:");
    m.torch_capability = p == std::string::npos
                             ? "configuration unknown"
                             : cfg.substr(p, cfg.find('\n', p) - p);
  }
  m.command = "ditto bench";
  for (const std::string& a : f.given) {
    const bool plain = a.find_first_of(" '\"\\|()^$*?[]{}") == std::string::npos;
    m.command += " " + (plain ? a : "'" + a + "'");
  }

  const std::string json = results_json(m, f, rows);
  io::write_file_atomic((out / "bench" / "results.json").string(),
                        std::vector<std::uint8_t>(json.begin(), json.end()));
  if (f.plot) write_plot(out / "bench" / "bench.svg", rows, have_torch, m, work);
  const std::string md = bench_md(m, f, rows, have_torch);
  io::write_file_atomic((out / "BENCH.md").string(),
                        std::vector<std::uint8_t>(md.begin(), md.end()));
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s, %s%s (%zu rows, %.0f s)\n", (out / "BENCH.md").c_str(),
              (out / "bench" / "results.json").c_str(),
              f.plot ? (", " + (out / "bench" / "bench.svg").string()).c_str() : "", rows.size(),
              total);
  return 0;
}

}  // namespace

int bench_main(std::span<char* const> args) {
  BenchFlags f;
  try {
    f = parse_flags(args);
  } catch (const UsageError& e) {
    std::cerr << "ditto bench: " << e.what() << "\n";
    return kUsageError;
  }
  if (f.help) {
    std::cout << kHelp;
    return 0;
  }
  try {
    return run(f);
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "ditto bench: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace ditto::tools
