// ditto — `ditto train`: Fashion-MNIST training with checkpoints, bitwise resume and a
// fingerprint (see train.h). The flow:
//   parse flags -> load data -> a Trainer from the flags (model, optimizer, generators,
//   loader: train/trainer.h) -> lock and probe --out -> (--resume: restore) -> train to the
//   requested total step, checkpointing every N steps and on SIGINT/SIGTERM -> evaluate on the
//   test set -> write <out>/last.ditto -> print the fingerprint (--profile: then the op table of
//   the training steps, core/profiler.h).
// Every random stream is a named Generator derived from --seed, so a run is a pure function of
// its flags (deterministic mode) and a checkpoint holds everything needed to continue it.
#include "tools/train.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/autograd.h"
#include "core/cpu_isa.h"
#include "core/device.h"
#include "core/error.h"
#include "core/info.h"
#include "core/mode.h"
#include "core/ops.h"
#include "core/profiler.h"
#include "core/threads.h"
#include "io/checkpoint.h"
#include "io/file_util.h"
#include "nn/data.h"
#include "nn/optim.h"
#include "tools/progress.h"
#include "tools/run_guard.h"
#include "train/trainer.h"

namespace ditto::tools {

namespace {

constexpr int kUsageError = 2;
// 128 + the signal, what shells report for a program a signal stopped: 130 SIGINT, 143 SIGTERM.
constexpr int kSignalExitBase = 128;
// The largest count any flag takes (steps, epochs, limits, batch size): 2^53 = io::kMaxStep.
constexpr std::int64_t kMaxCount = std::int64_t{1} << 53;

/// A usage error: printed with a pointer to --help, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr const char* kHelp = R"(usage: ditto train [flags]

Trains a small CNN (conv 1->16 3x3 -> BatchNorm -> ReLU -> MaxPool 2 -> Dropout -> Linear 10) on
Fashion-MNIST, then prints the test accuracy, the wall time and a fingerprint: a hash of every
parameter and buffer bit. In deterministic mode the fingerprint is the same for any thread count,
on cpu and sim, and for a run that was interrupted and resumed.

training
  --epochs N            passes over the training set (default 1)
  --steps N             stop after N optimizer steps in total (overrides --epochs)
  --batch-size N        images per step (default 64; the last batch of an epoch may be smaller)
  --lr X                learning rate (default 1e-3 for adam, 0.05 for sgd)
  --optimizer NAME      adam (default) or sgd (momentum 0.9)
  --dropout P           dropout probability (default 0.25)
  --augment             random crop (padding 2) and horizontal flip of each training image
  --seed N              seed of every random stream (default 0): weight init = N, dropout = N+1,
                        augmentation = N+2, data shuffling = N+3
execution
  --mode M              deterministic (default) or fast (atomics; bits may vary between runs)
  --device D            cpu (default), sim (the CUDA kernels on the simulator; slow) or cuda
  --threads N           CPU threads (default: OpenMP's default)
checkpoints
  --out DIR             output directory (default runs/latest): DIR/last.ditto at the end,
                        DIR/step-<N>.ditto every --checkpoint-every steps, DIR/interrupted.ditto
                        on Ctrl-C
  --checkpoint-every N  write a checkpoint every N steps (default 0: never)
  --resume FILE         continue from a checkpoint to the requested total (--steps/--epochs); give
                        the same flags as the original run for a bit-identical result. A checkpoint
                        made by `ditto ckpt import-safetensors` restores the weights only
data
  --data DIR            Fashion-MNIST directory (default /usr/share/datasets/fashion-mnist)
  --train-limit N       use only the first N training images (default: all 60000)
  --test-limit N        evaluate on the first N test images only (default: all 10000)
output
  --no-progress         no progress display (default: a bar on a terminal, else a line every
                        ~10% of the run)
  --profile             time every op of the training steps (forward, backward, optimizer; not
                        the evaluation or checkpoint writes) and print a table of per-op time,
                        calls, kernel calls and bytes allocated at the end; changes no bits
  --help                this text
testing
  --interrupt-after N   raise SIGINT after step N, exactly as a Ctrl-C then (tests the interrupt
                        path deterministically)

Signals: Ctrl-C (SIGINT) or SIGTERM (docker stop, systemd, Slurm) finishes the current step,
writes DIR/interrupted.ditto, prints the command that resumes the run and exits with status 130
(SIGINT) or 143 (SIGTERM). Further signals while it saves are ignored (the save is never lost;
SIGKILL stops at once). A closed output (`| tee log` whose tee died) never kills the run.
--out: one run at a time per directory (a lock, DIR/.ditto-train.lock); a second run there is
refused while the first is alive. The directory is checked for writability (a test write as
large as the final checkpoint) before training starts.
Exit status: 0 done, 1 error (also: the loss became NaN/inf, or the final save failed; the
results are printed anyway), 2 bad flags, 130/143 interrupted.
)";

struct TrainFlags {
  std::int64_t epochs = 1;
  std::optional<std::int64_t> steps;
  std::int64_t batch_size = 64;
  std::optional<double> lr;
  std::string optimizer = "adam";
  double dropout = 0.25;
  bool augment = false;
  std::uint64_t seed = 0;
  Mode mode = Mode::Deterministic;
  std::string device = "cpu";
  std::optional<int> threads;
  std::string out = "runs/latest";
  std::int64_t checkpoint_every = 0;
  std::string resume;
  std::string data = data::kFashionMnistDir;
  std::int64_t train_limit = 0;  // 0 = all
  std::int64_t test_limit = 0;   // 0 = all
  bool progress = true;
  bool profile = false;
  std::int64_t interrupt_after = 0;  // 0 = never
  bool help = false;
  std::vector<std::string> replay;  // the flags as given, minus --resume, for the resume hint
};

/// An integer flag in [min, max]. Range-checked in int64 before any narrowing, so no value wraps
/// ("--threads 4294967297" is refused, not read as 1).
std::int64_t parse_int(std::string_view flag, std::string_view v, std::int64_t min,
                       std::int64_t max = kMaxCount) {
  std::int64_t x = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec == std::errc::result_out_of_range) {
    throw UsageError(std::string(flag) + " must be in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "], got " + detail::abbreviate(std::string(v)));
  }
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
    throw UsageError(std::string(flag) + " expects an integer, got '" + detail::abbreviate(std::string(v)) + "'");
  }
  if (x < min) {
    throw UsageError(std::string(flag) + " must be >= " + std::to_string(min) + ", got " +
                     detail::abbreviate(std::string(v)));
  }
  if (x > max) {
    throw UsageError(std::string(flag) + " must be <= " + std::to_string(max) + ", got " +
                     detail::abbreviate(std::string(v)));
  }
  return x;
}

double parse_double(std::string_view flag, std::string_view v) {
  const std::string s(v);
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(x)) {
    throw UsageError(std::string(flag) + " expects a finite number, got '" + detail::abbreviate(s) + "'");
  }
  return x;
}

TrainFlags parse_flags(std::span<char* const> args) {
  TrainFlags f;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const std::size_t first = i;
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) throw UsageError(arg + " needs a value");
      return args[++i];
    };
    auto no_value = [&] {
      if (inline_value) throw UsageError(arg + " takes no value");
    };
    if (arg == "--help" || arg == "-h") {
      f.help = true;
    } else if (arg == "--epochs") {
      f.epochs = parse_int(arg, value(), 1);
    } else if (arg == "--steps") {
      f.steps = parse_int(arg, value(), 1);
    } else if (arg == "--batch-size") {
      f.batch_size = parse_int(arg, value(), 1);
    } else if (arg == "--lr") {
      f.lr = parse_double(arg, value());
      if (*f.lr <= 0) throw UsageError("--lr must be > 0");
    } else if (arg == "--optimizer") {
      f.optimizer = value();
      if (f.optimizer != "sgd" && f.optimizer != "adam") {
        throw UsageError("--optimizer must be sgd or adam, got '" + f.optimizer + "'");
      }
    } else if (arg == "--dropout") {
      f.dropout = parse_double(arg, value());
      if (f.dropout < 0 || f.dropout >= 1) throw UsageError("--dropout must be in [0, 1)");
    } else if (arg == "--augment") {
      no_value();
      f.augment = true;
    } else if (arg == "--seed") {
      f.seed = static_cast<std::uint64_t>(
          parse_int(arg, value(), 0, std::numeric_limits<std::int64_t>::max()));
    } else if (arg == "--mode") {
      const std::string m = value();
      if (m == "deterministic") {
        f.mode = Mode::Deterministic;
      } else if (m == "fast") {
        f.mode = Mode::Fast;
      } else {
        throw UsageError("--mode must be deterministic or fast, got '" + m + "'");
      }
    } else if (arg == "--device") {
      f.device = value();
      if (f.device != "cpu" && f.device != "sim" && f.device != "cuda") {
        throw UsageError("--device must be cpu, sim or cuda, got '" + f.device + "'");
      }
    } else if (arg == "--threads") {
      f.threads = static_cast<int>(parse_int(arg, value(), 1, max_num_threads()));
    } else if (arg == "--out") {
      f.out = value();
      if (f.out.empty()) throw UsageError("--out needs a directory");
    } else if (arg == "--checkpoint-every") {
      f.checkpoint_every = parse_int(arg, value(), 0);
    } else if (arg == "--resume") {
      f.resume = value();
      if (f.resume.empty()) throw UsageError("--resume needs a checkpoint file");
      continue;  // not replayed: the resume hint names its own file
    } else if (arg == "--data") {
      f.data = value();
      if (f.data.empty()) throw UsageError("--data needs a directory");
    } else if (arg == "--train-limit") {
      f.train_limit = parse_int(arg, value(), 1);
    } else if (arg == "--test-limit") {
      f.test_limit = parse_int(arg, value(), 1);
    } else if (arg == "--no-progress") {
      no_value();
      f.progress = false;
    } else if (arg == "--profile") {
      no_value();
      f.profile = true;
    } else if (arg == "--interrupt-after") {
      f.interrupt_after = parse_int(arg, value(), 1);
      continue;  // a test hook, not part of the run's configuration
    } else {
      throw UsageError("unknown flag '" + detail::abbreviate(args[i]) + "'");
    }
    for (std::size_t j = first; j <= i; ++j) f.replay.emplace_back(args[j]);
  }
  return f;
}

/// A shell-safe rendering of one argument (single-quoted when it has special characters).
std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_=./,:+@%") == std::string::npos) {
    return s;
  }
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string fmt_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

/// The flags that determine the trained bits, saved as checkpoint metadata (and compared with
/// the flags of a resumed run). `lr`: the effective learning rate (TrainerConfig's default when
/// --lr is not given).
std::map<std::string, std::string> run_metadata(const TrainFlags& f, double lr) {
  return {
      {"model", "FashionCnn: conv1(1->16, 3x3, pad 1) bn1 relu pool(2) drop fc(3136->10)"},
      {"optimizer", f.optimizer},
      {"lr", fmt_double(lr)},
      {"batch_size", std::to_string(f.batch_size)},
      {"dropout", fmt_double(f.dropout)},
      {"augment", f.augment ? "true" : "false"},
      {"seed", std::to_string(f.seed)},
      {"mode", std::string(mode_name(f.mode))},
      {"train_limit", f.train_limit ? std::to_string(f.train_limit) : "all"},
      {"device", f.device},
      {"data", f.data},
  };
}

/// Keys whose mismatch makes a resumed run differ from the original (the mode too: fast-mode
/// kernels round differently).
constexpr const char* kBitKeys[] = {"model",   "optimizer", "lr",   "batch_size", "dropout",
                                    "augment", "seed",      "mode", "train_limit"};

Device resolve_device(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  if (name == "sim") return Device::sim();
  const Device d = Device::cuda(0);
  if (!device_available(d)) {
    const BuildInfo b = build_info();
    const char* why = !b.cuda_enabled ? "this ditto was built without CUDA (configure with "
                                        "-DDITTO_CUDA=ON where nvcc exists)"
                      : !b.cuda_compiled ? "this build has no compiled CUDA kernels"
                                         : "no CUDA GPU is present";
    DITTO_FAIL("--device cuda is not available: ", why, "; use --device cpu or --device sim");
  }
  return d;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Whether `file` lies directly in directory `dir` (both existing; compared by inode).
bool in_directory(const std::string& file, const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(file).parent_path();
  return io::same_file(parent.empty() ? "." : parent.string(), dir);
}

/// Says so when --out already holds checkpoints this run did not write (another run's, or this
/// run's earlier attempt): same-named files get replaced, others stay and would mix with ours.
void warn_existing_checkpoints(const std::string& dir, const std::string& resume) {
  namespace fs = std::filesystem;
  if (!resume.empty() && in_directory(resume, dir)) return;  // continuing the run that is there
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 6 && name.compare(name.size() - 6, 6, ".ditto") == 0) found.push_back(name);
  }
  if (found.empty()) return;
  std::sort(found.begin(), found.end());
  std::string list;
  for (std::size_t i = 0; i < found.size() && i < 4; ++i) list += (i ? ", " : "") + found[i];
  if (found.size() > 4) list += ", ...";
  std::cerr << "ditto train: warning: --out " << dir << " already holds " << found.size()
            << " checkpoint" << (found.size() == 1 ? "" : "s") << " of an earlier run (" << list
            << "); files this run writes replace those of the same name, the others are left as "
               "they are\n";
}

/// The resume hint: the command that continues from `path` with the same flags.
std::string resume_hint(const TrainFlags& f, const std::string& path) {
  std::string hint = "ditto train --resume " + shell_quote(path);
  for (const std::string& a : f.replay) hint += " " + shell_quote(a);
  return hint;
}

TrainerConfig trainer_config(const TrainFlags& f, Device dev) {
  TrainerConfig c;
  c.model.dropout = f.dropout;
  c.optimizer = f.optimizer == "sgd" ? TrainerConfig::Optimizer::sgd
                                     : TrainerConfig::Optimizer::adam;
  c.lr = f.lr.value_or(0.0);  // 0: TrainerConfig's default for the optimizer
  c.batch_size = f.batch_size;
  c.augment = f.augment;
  c.seed = f.seed;
  c.device = dev;
  return c;
}

int run(const TrainFlags& f) {
  const auto t_start = std::chrono::steady_clock::now();
  // Installed first, so a Ctrl-C or SIGTERM during the data loading also ends in a checkpoint.
  StopSignalScope stop_signals;
  const Device dev = resolve_device(f.device);
  if (f.threads) set_num_threads(*f.threads);
  set_mode(f.mode);

  // Data first: a missing dataset should fail before anything is written. The limits apply
  // while decoding (a file declaring 10^6 images costs what --train-limit asks for).
  const data::Dataset train_set = data::load_fashion_mnist("train", f.data, f.train_limit);
  const data::Dataset test_set = data::load_fashion_mnist("test", f.data, f.test_limit);

  // The model, optimizer, loader and every random stream, derived from --seed (train/trainer.h).
  Trainer trainer(trainer_config(f, dev), train_set);
  std::int64_t total = 0;
  const std::int64_t per_epoch = trainer.loader().batches_per_epoch();
  if (f.steps) {
    total = *f.steps;
  } else if (__builtin_mul_overflow(f.epochs, per_epoch, &total) || total > kMaxCount) {
    std::cerr << "ditto train: --epochs " << f.epochs << " x " << per_epoch
              << " batches per epoch is more than 2^53 steps (see 'ditto train --help')\n";
    return kUsageError;
  }
  const double lr = trainer.config().effective_lr();
  const std::map<std::string, std::string> meta = run_metadata(f, lr);

  // The output directory before any training: locked against a second run, cleaned of the
  // temporaries a killed writer left, and proven writable with a test write of the final
  // checkpoint's size (a read-only or full disk is found now, not after the training).
  namespace fs = std::filesystem;
  OutDirLock lock(f.out);
  for (const std::string& p : io::remove_stale_temps(f.out))
    std::cerr << "ditto train: removed " << p << " (a temporary file left by a killed run)\n";
  warn_existing_checkpoints(f.out, f.resume);
  {
    // As large as the final checkpoint will be: the state now, plus the optimizer's state tensors
    // that appear at the first step (Adam: two per parameter; SGD: one momentum buffer), plus
    // room for the final metadata. The padded bytes are never read: the file is removed.
    std::vector<std::uint8_t> bytes = io::serialize_checkpoint(trainer.capture(meta));
    std::size_t param_bytes = 0;
    for (const Tensor& p : trainer.model().parameters())
      param_bytes += static_cast<std::size_t>(p.numel()) * dtype_size(p.dtype()) + 256;
    bytes.resize(bytes.size() + (f.optimizer == "sgd" ? 1 : 2) * param_bytes + 4096, 0);
    const std::string probe = (fs::path(f.out) / ".ditto-train.probe").string();
    try {
      io::write_file_atomic(probe, bytes);
    } catch (const Error& e) {
      DITTO_FAIL("the --out directory '", f.out, "' cannot hold a checkpoint: ", e.what());
    }
    ::unlink(probe.c_str());
  }
  auto save = [&](const std::string& name, const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> m = meta;
    for (const auto& [k, v] : extra) m[k] = v;
    const std::string path = (fs::path(f.out) / name).string();
    io::save_checkpoint(path, trainer.capture(m));
    return path;
  };

  bool resumed_from_out_interrupt = false;
  if (!f.resume.empty()) {
    const io::Checkpoint ck = io::load_checkpoint(f.resume);
    for (const char* k : kBitKeys) {
      const auto it = ck.metadata.find(k);
      if (it != ck.metadata.end() && it->second != meta.at(k)) {
        std::cerr << "ditto train: warning: resuming with " << k << " = " << meta.at(k)
                  << " but " << f.resume << " was trained with " << it->second
                  << ": the result will not match an uninterrupted run\n";
      }
    }
    trainer.restore(ck);
    if (trainer.global_step() > total) {
      std::cerr << "ditto train: warning: " << f.resume << " is at step " << trainer.global_step()
                << ", beyond the requested total of " << total
                << " steps: nothing is trained; the checkpoint's weights are evaluated as they are\n";
    }
    resumed_from_out_interrupt =
        io::same_file(f.resume, (fs::path(f.out) / "interrupted.ditto").string());
    std::cout << "resumed from " << f.resume << " at step " << trainer.global_step()
              << (ck.optimizer ? "" : " (no optimizer state in the checkpoint)")
              << (ck.loader ? "" : " (no data-loader state)")
              << (ck.generators.empty() ? " (no generator state)" : "") << "\n";
  }

  std::cout << "training FashionCnn on Fashion-MNIST (" << train_set.size() << " train, "
            << test_set.size() << " test images): steps " << trainer.global_step() << " -> "
            << total << ", " << f.optimizer << " lr " << lr << ", batch " << f.batch_size
            << (f.augment ? ", augment" : "") << ", " << mode_name(f.mode) << ", "
            << device_name(dev)
            << (dev.is_cpu() ? " x86-64-" + std::string(cpu_isa_name(get_cpu_isa())) : "") << ", "
            << get_num_threads() << " thread" << (get_num_threads() == 1 ? "" : "s") << ", seed "
            << f.seed << "\n"
            << std::flush;

  Progress progress(trainer.global_step(), total, f.progress);
  const std::int64_t first_step = trainer.global_step();
  // --profile: the training steps only (paused around checkpoint writes; the evaluation after).
  std::optional<Profiler> profiler;
  if (f.profile) profiler.emplace();
  const auto t_train = std::chrono::steady_clock::now();
  std::vector<double> window;  // the last losses, for the running mean shown
  double window_sum = 0.0;
  constexpr std::size_t kWindow = 50;
  const RunEnd end =
      stop_requested() ? RunEnd{RunEnd::Reason::stopped, 0.0}
                       : trainer.run(total, [&](std::int64_t step, double l) {
                           window.push_back(l);
                           window_sum += l;
                           if (window.size() > kWindow) {
                             window_sum -= window.front();
                             window.erase(window.begin());
                           }
                           progress.update(step, trainer.images_seen(),
                                           window_sum / static_cast<double>(window.size()));
                           if (f.checkpoint_every > 0 && step % f.checkpoint_every == 0) {
                             const std::string name = "step-" + std::to_string(step) + ".ditto";
                             if (profiler) profiler->pause();
                             try {
                               save(name);
                             } catch (const Error& e) {
                               // A periodic checkpoint is insurance: losing one must not end
                               // the run.
                               std::cerr << "ditto train: warning: could not write " << name
                                         << ": " << e.what() << "; training continues\n";
                             }
                             if (profiler) profiler->resume();
                           }
                           if (f.interrupt_after > 0 && step == f.interrupt_after)
                             std::raise(SIGINT);
                           return !stop_requested();
                         });
  if (profiler) profiler->stop();
  progress.finish();
  const double train_s = seconds_since(t_train);
  const std::int64_t step = trainer.global_step();
  if (end.reason == RunEnd::Reason::diverged) {
    // The update would have written NaN/inf into every weight: stop loudly (exit 1, no
    // fingerprint) instead of finishing with a meaningless result.
    std::cerr << "ditto train: error: the loss is " << end.loss << " at step " << step + 1
              << " (lr " << lr << "): training diverged and was stopped before "
              << "that update; nothing was saved now (periodic checkpoints in " << f.out
              << " are from before); try a smaller --lr\n";
    return 1;
  }

  // Save first, print after: the checkpoint must exist before anything can go wrong with the
  // output (a closed pipe, a full terminal).
  auto stop_with_checkpoint = [&](const char* when) {
    const int sig = stop_signal();
    std::string path;
    try {
      path = save("interrupted.ditto");
    } catch (const Error& e) {
      std::cerr << "ditto train: error: stopped by " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
                << " at step " << step << " but could not save the state: " << e.what() << "\n";
      return 1;
    }
    std::cout << "interrupted" << when << " at step " << step
              << "; resume with: " << resume_hint(f, path) << "\n"
              << std::flush;
    return kSignalExitBase + sig;
  };
  if (stop_requested() && step < total) return stop_with_checkpoint("");

  const std::optional<std::int64_t> correct =
      trainer.count_correct(test_set, [] { return stop_requested(); });
  if (!correct) return stop_with_checkpoint(" during the final evaluation (training is complete)");
  const double acc = 100.0 * static_cast<double>(*correct) / static_cast<double>(test_set.size());
  char acc_s[32];
  std::snprintf(acc_s, sizeof acc_s, "%.2f", acc);
  const double wall = seconds_since(t_start);
  std::string last, save_error;
  try {
    last = save("last.ditto", {{"test_accuracy", acc_s}, {"total_steps", std::to_string(total)}});
  } catch (const Error& e) {
    save_error = e.what();
  }

  // The results are printed even when the save failed: they are the run's work.
  const std::int64_t images = trainer.images_seen();
  char line[160];
  std::snprintf(line, sizeof line, "test accuracy: %s%% (%lld/%lld)\n", acc_s,
                static_cast<long long>(*correct), static_cast<long long>(test_set.size()));
  std::cout << line;
  std::snprintf(line, sizeof line, "wall time: %.1f s (training %.1f s, %.0f images/s)\n", wall,
                train_s, train_s > 0 ? static_cast<double>(images) / train_s : 0.0);
  std::cout << line << "checkpoint: " << (last.empty() ? "(not saved)" : last) << "\n"
            << "fingerprint: " << io::fingerprint_hex(io::fingerprint(trainer.model())) << "\n"
            << std::flush;
  if (profiler) {
    const std::int64_t steps = trainer.global_step() - first_step;
    std::cout << "\nprofile of " << steps << " training step" << (steps == 1 ? "" : "s")
              << " (not the evaluation; the columns: docs/performance.md, \"Profiling your "
                 "model\"):\n"
              << profiler->table() << std::flush;
  }
  if (!save_error.empty()) {
    std::cerr << "ditto train: error: could not write " << (fs::path(f.out) / "last.ditto").string()
              << ": " << save_error << "\n";
    return 1;
  }
  if (resumed_from_out_interrupt) {
    // The run that interrupted.ditto belonged to is finished: its resume point is stale now.
    const std::string stale = (fs::path(f.out) / "interrupted.ditto").string();
    if (::unlink(stale.c_str()) == 0)
      std::cout << "removed " << stale << " (the interrupted run has finished)\n";
  }
  return 0;
}

}  // namespace

int train_main(std::span<char* const> args) {
  TrainFlags flags;
  try {
    flags = parse_flags(args);
  } catch (const UsageError& e) {
    std::cerr << "ditto train: " << e.what() << " (see 'ditto train --help')\n";
    return kUsageError;
  }
  if (flags.help) {
    std::cout << kHelp;
    return 0;
  }
  return run(flags);
}

}  // namespace ditto::tools
