// ditto — the command-line program. `ditto help` lists the commands; `ditto <command> --help`
// describes one. Exit status: 0 success, 1 a command failed (ditto::Error), 2 usage error (unknown
// command or bad arguments); `ditto train` also 130 when interrupted (Ctrl-C).
#include "ditto/ditto.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <string_view>

#include "core/info.h"
#include "kernels/sim/runtime.h"
#include "tools/bench.h"
#include "tools/ckpt.h"
#include "tools/train.h"

namespace {

constexpr int kUsageError = 2;

using Args = std::span<char* const>;  // the command's arguments, after its name

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(Args args);
};

int cmd_help(Args args);
int cmd_version(Args args);
int cmd_info(Args args);
int cmd_train(Args args) { return ditto::tools::train_main(args); }
int cmd_ckpt(Args args) { return ditto::tools::ckpt_main(args); }
int cmd_bench(Args args) { return ditto::tools::bench_main(args); }

constexpr Command kCommands[] = {
    {"train", "train a small CNN on Fashion-MNIST; prints accuracy and a fingerprint", cmd_train},
    {"ckpt", "inspect, verify, diff, strip and convert checkpoints (safetensors)", cmd_ckpt},
    {"bench", "run the benchmark suite (det vs fast vs libtorch); writes BENCH.md and a plot",
     cmd_bench},
    {"info", "build configuration, devices, determinism mode and thread count", cmd_info},
    {"version", "print the version", cmd_version},
    {"help", "print this help (also --help, -h)", cmd_help},
};

void print_usage(std::ostream& os) {
  os << "ditto " << ditto::version()
     << ": a tensor engine whose deterministic kernels give the same bits every time\n\n"
        "usage: ditto <command> [arguments]\n\ncommands:\n";
  for (const Command& c : kCommands) {
    os << "  " << c.name << std::string(10 - c.name.size(), ' ') << c.summary << "\n";
  }
}

// Rejects arguments for commands that take none.
bool no_args(std::string_view cmd, Args args) {
  if (args.empty()) return true;
  std::cerr << "ditto " << cmd << ": unexpected argument '" << args[0] << "'\n";
  return false;
}

int cmd_help(Args args) {
  if (!no_args("help", args)) return kUsageError;
  print_usage(std::cout);
  return 0;
}

int cmd_version(Args args) {
  if (!no_args("version", args)) return kUsageError;
  std::cout << "ditto " << ditto::version() << "\n";
  return 0;
}

// One "  label    value" line with the labels aligned.
void row(std::string_view label, std::string_view value) {
  std::cout << "  " << label << std::string(label.size() < 16 ? 16 - label.size() : 1, ' ') << value
            << "\n";
}

std::string or_none(std::string_view s, std::string_view none) {
  return std::string(s.empty() ? none : s);
}

std::string device_status(ditto::Device d, const ditto::BuildInfo& b) {
  switch (d.type) {
    case ditto::Device::Type::cpu: return "available (native CPU kernels)";
    case ditto::Device::Type::sim:
      return "available (CUDA kernel sources on the SIMT simulator; " +
             std::to_string(ditto::sim::get_num_workers()) + " workers, seed " +
             std::to_string(ditto::sim::get_schedule().seed) + ")";
    case ditto::Device::Type::cuda:
      if (!b.cuda_enabled) return "not compiled (configure with -DDITTO_CUDA=ON where nvcc exists)";
      if (!b.cuda_compiled) return "not compiled (CUDA kernel sources missing in this build)";
      if (ditto::device_available(d)) return "available";
      return "kernels compiled, but no CUDA GPU is present";
  }
  return "not available";
}

// "v4 (best available; v2 v3 v4 run here)", or what DITTO_CPU_ISA forced, and the levels this
// machine cannot run, by name.
std::string cpu_isa_status() {
  std::string runs, cannot;
  for (ditto::CpuIsa isa : {ditto::CpuIsa::v2, ditto::CpuIsa::v3, ditto::CpuIsa::v4}) {
    std::string& list = ditto::cpu_isa_supported(isa) ? runs : cannot;
    list += (list.empty() ? "" : " ") + std::string(ditto::cpu_isa_name(isa));
  }
  std::string why;
  try {
    const char* env = std::getenv("DITTO_CPU_ISA");
    why = std::string(ditto::cpu_isa_name(ditto::get_cpu_isa())) +
          (env && *env ? std::string(" (DITTO_CPU_ISA=") + env + ")" : " (best available)");
  } catch (const ditto::Error& e) {
    why = std::string("error: ") + e.what();
  }
  return why + "; this CPU runs " + runs + (cannot.empty() ? "" : "; cannot run " + cannot);
}

int cmd_info(Args args) {
  if (!no_args("info", args)) return kUsageError;
  const ditto::BuildInfo b = ditto::build_info();
  std::cout << "ditto " << b.version << "\n\nbuild\n";
  row("compiler", b.compiler);
  row("build type", b.build_type);
  row("C++ flags", b.cxx_flags);
  row("CPU arch", (b.cpu_arch.empty() ? std::string("compiler default")
                                      : std::string("-march=") + std::string(b.cpu_arch)) +
                      "; CPU kernels built for x86-64-v2, v3, v4");
  row("FP contraction", b.fp_contract_off ? "off (self-test: x*x-y not fused)"
                                          : "ON: fused multiply-adds break the contract");
  row("OpenMP", b.openmp ? "yes (" + std::to_string(b.openmp) + ")" : std::string("no"));
  if (b.cuda_enabled) {
    row("CUDA", std::string(b.cuda_compiler) + ", archs " + std::string(b.cuda_archs) +
                    ", -fmad=false; kernels compiled: " + (b.cuda_compiled ? "yes" : "none yet"));
  } else {
    row("CUDA", "off");
  }
  row("sanitizers", or_none(b.sanitizers, "none"));

  std::cout << "\ndevices\n";
  for (ditto::Device d : {ditto::Device::cpu(), ditto::Device::sim(), ditto::Device::cuda(0)}) {
    row(ditto::device_name(d), device_status(d, b));
  }

  std::cout << "\nruntime\n";
  row("CPU ISA", cpu_isa_status());
  row("mode", ditto::mode_name(ditto::get_mode()));
  const char* omp_env = std::getenv("OMP_NUM_THREADS");
  row("threads", std::to_string(ditto::get_num_threads()) +
                     (omp_env ? std::string(" (OMP_NUM_THREADS=") + omp_env + ")" : ""));
  // The wait policy libgomp read at load time (ditto::apply_wait_policy sets GOMP_SPINCOUNT
  // when neither variable is set; README "Threads").
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  row("OpenMP wait", policy ? std::string("OMP_WAIT_POLICY=") + policy
                     : spin ? std::string("GOMP_SPINCOUNT=") + spin
                            : std::string("libgomp default"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A closed output (`ditto train ... | tee log` after Ctrl-C killed tee) must not kill ditto
  // with SIGPIPE before it saved its state: writes to it fail with EPIPE instead, and the
  // program carries on (output it can no longer show is lost, nothing else).
  std::signal(SIGPIPE, SIG_IGN);
  ditto::apply_wait_policy(argc, argv);  // may re-execute the program (see core/threads.h)
  if (argc < 2) {
    print_usage(std::cerr);
    return kUsageError;
  }
  const std::string_view name = argv[1];
  const Args rest(argv + 2, static_cast<std::size_t>(argc - 2));
  if (name == "--help" || name == "-h") return cmd_help(rest);
  if (name == "--version") return cmd_version(rest);
  for (const Command& c : kCommands) {
    if (c.name != name) continue;
    try {
      // A bad DITTO_CPU_ISA fails every command up front (info shows it instead).
      if (name != "info") ditto::get_cpu_isa();
      return c.run(rest);
    } catch (const std::exception& e) {
      std::cerr << "ditto " << name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "ditto: unknown command '" << name << "' (see 'ditto --help')\n";
  return kUsageError;
}
