// ditto — `ditto train`: Fashion-MNIST training with checkpoints, bitwise resume and a
// fingerprint (see train.h). The flow:
//   parse flags -> load data -> build model/optimizer/generators/loader from the flags ->
//   (--resume: io::restore) -> train to the requested total step, checkpointing every N steps
//   and on SIGINT -> evaluate on the test set -> write <out>/last.ditto -> print the fingerprint.
// Every random stream is a named Generator derived from --seed, so a run is a pure function of
// its flags (deterministic mode) and a checkpoint holds everything needed to continue it.
#include "tools/train.h"

#include <signal.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/autograd.h"
#include "core/device.h"
#include "core/error.h"
#include "core/info.h"
#include "core/mode.h"
#include "core/ops.h"
#include "core/threads.h"
#include "io/checkpoint.h"
#include "nn/data.h"
#include "nn/optim.h"
#include "tools/progress.h"

namespace ditto::tools {

// ---- the model -----------------------------------------------------------------------------

FashionCnn::FashionCnn(Generator& init, Generator& dropout, double dropout_p) {
  conv1 = register_module(
      "conv1", std::make_shared<nn::Conv2d>(
                   nn::Conv2dOptions{.in_channels = 1, .out_channels = 16, .kernel_size = 3,
                                     .padding = 1},
                   init));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(
                                   nn::BatchNormOptions{.num_features = 16}));
  pool = register_module("pool", std::make_shared<nn::MaxPool2d>(
                                     nn::MaxPool2dOptions{.kernel_size = 2}));
  drop = register_module(
      "drop", std::make_shared<nn::Dropout>(nn::DropoutOptions{.p = dropout_p}, dropout));
  fc = register_module("fc", std::make_shared<nn::Linear>(
                                 nn::LinearOptions{.in_features = 16 * 14 * 14, .out_features = 10},
                                 init));
}

Tensor FashionCnn::forward(const Tensor& x) {
  Tensor h = relu((*bn1)((*conv1)(x)));  // (N, 16, 28, 28)
  h = (*drop)((*pool)(h));               // (N, 16, 14, 14)
  return (*fc)(h.flatten(1));            // (N, 10)
}

namespace {

constexpr int kUsageError = 2;
constexpr int kInterrupted = 130;  // 128 + SIGINT, what shells report for a Ctrl-C'd program
// Fashion-MNIST training-set pixel mean and standard deviation (of pixel / 255).
constexpr double kPixelMean = 0.2860;
constexpr double kPixelStd = 0.3530;
constexpr std::int64_t kEvalBatch = 1000;

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
  --help                this text
testing
  --interrupt-after N   raise SIGINT after step N, exactly as a Ctrl-C then (tests the interrupt
                        path deterministically)

Ctrl-C finishes the current step, writes DIR/interrupted.ditto and exits with status 130.
Exit status: 0 done, 1 error, 2 bad flags, 130 interrupted.
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
  std::int64_t interrupt_after = 0;  // 0 = never
  bool help = false;
  std::vector<std::string> replay;  // the flags as given, minus --resume, for the resume hint

  double effective_lr() const { return lr ? *lr : (optimizer == "sgd" ? 0.05 : 1e-3); }
};

std::int64_t parse_int(std::string_view flag, std::string_view v, std::int64_t min) {
  std::int64_t x = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
    throw UsageError(std::string(flag) + " expects an integer, got '" + std::string(v) + "'");
  }
  if (x < min) {
    throw UsageError(std::string(flag) + " must be >= " + std::to_string(min) + ", got " +
                     std::string(v));
  }
  return x;
}

double parse_double(std::string_view flag, std::string_view v) {
  const std::string s(v);
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(x)) {
    throw UsageError(std::string(flag) + " expects a number, got '" + s + "'");
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
      f.seed = static_cast<std::uint64_t>(parse_int(arg, value(), 0));
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
      f.threads = static_cast<int>(parse_int(arg, value(), 1));
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
    } else if (arg == "--train-limit") {
      f.train_limit = parse_int(arg, value(), 1);
    } else if (arg == "--test-limit") {
      f.test_limit = parse_int(arg, value(), 1);
    } else if (arg == "--no-progress") {
      no_value();
      f.progress = false;
    } else if (arg == "--interrupt-after") {
      f.interrupt_after = parse_int(arg, value(), 1);
      continue;  // a test hook, not part of the run's configuration
    } else {
      throw UsageError("unknown flag '" + std::string(args[i]) + "'");
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
/// the flags of a resumed run).
std::map<std::string, std::string> run_metadata(const TrainFlags& f) {
  return {
      {"model", "FashionCnn: conv1(1->16, 3x3, pad 1) bn1 relu pool(2) drop fc(3136->10)"},
      {"optimizer", f.optimizer},
      {"lr", fmt_double(f.effective_lr())},
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

/// Keys whose mismatch makes a resumed run differ from the original.
constexpr const char* kBitKeys[] = {"model", "optimizer", "lr",   "batch_size",
                                    "dropout", "augment", "seed", "train_limit"};

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int) { g_interrupted = 1; }

/// Installs the SIGINT handler for the training loop and restores the old one on exit. The
/// handler is one-shot (SA_RESETHAND): a second Ctrl-C kills the process at once.
class SigintScope {
 public:
  SigintScope() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintScope() { sigaction(SIGINT, &old_, nullptr); }
  SigintScope(const SigintScope&) = delete;
  SigintScope& operator=(const SigintScope&) = delete;

 private:
  struct sigaction old_ {};
};

data::Dataset first_n(const data::Dataset& ds, std::int64_t n) {
  if (n <= 0 || n >= ds.size()) return ds;
  return {ds.images.narrow(0, 0, n).contiguous(), ds.labels.narrow(0, 0, n).contiguous()};
}

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

/// Test accuracy in eval mode, batches of kEvalBatch (no autograd graph).
std::int64_t count_correct(nn::Module& model, const data::Dataset& test, Device dev) {
  NoGradGuard no_grad;
  std::int64_t correct = 0;
  const std::int64_t n = test.size();
  for (std::int64_t b = 0; b < n; b += kEvalBatch) {
    const std::int64_t len = std::min(kEvalBatch, n - b);
    Tensor x = data::normalize(test.images.narrow(0, b, len).contiguous(), kPixelMean, kPixelStd);
    if (!dev.is_cpu()) x = x.to(dev);
    const Tensor logits = model(x).to(Device::cpu()).contiguous();  // (len, 10)
    const Tensor labels = test.labels.narrow(0, b, len).contiguous();
    const float* l = logits.data_ptr<float>();
    const std::int64_t* y = labels.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < len; ++i) {
      // First maximum wins, like argmax.
      std::int64_t best = 0;
      for (std::int64_t c = 1; c < 10; ++c) {
        if (l[i * 10 + c] > l[i * 10 + best]) best = c;
      }
      correct += best == y[i] ? 1 : 0;
    }
  }
  return correct;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(const TrainFlags& f) {
  const auto t_start = std::chrono::steady_clock::now();
  // Installed first, so a Ctrl-C during the data loading also ends in a checkpoint.
  SigintScope sigint;
  const Device dev = resolve_device(f.device);
  if (f.threads) set_num_threads(*f.threads);
  set_mode(f.mode);

  // Data first: a missing dataset should fail before anything is written.
  const data::Dataset train_set = first_n(data::load_fashion_mnist("train", f.data), f.train_limit);
  const data::Dataset test_set = first_n(data::load_fashion_mnist("test", f.data), f.test_limit);

  // Every random stream, derived from --seed (documented in --help and README).
  Generator init(f.seed), dropout_gen(f.seed + 1), augment_gen(f.seed + 2);
  const std::vector<std::pair<std::string, Generator*>> gens = {
      {"init", &init}, {"dropout", &dropout_gen}, {"augment", &augment_gen}};
  FashionCnn model(init, dropout_gen, f.dropout);  // built on cpu: the same bits everywhere
  if (!dev.is_cpu()) model.to(dev);
  std::unique_ptr<optim::Optimizer> opt;
  if (f.optimizer == "sgd") {
    opt = std::make_unique<optim::SGD>(model.parameters(),
                                       optim::SGDOptions{.lr = f.effective_lr(), .momentum = 0.9});
  } else {
    opt = std::make_unique<optim::Adam>(model.parameters(),
                                        optim::AdamOptions{.lr = f.effective_lr()});
  }
  data::DataLoader loader(train_set, {.batch_size = f.batch_size, .shuffle = true,
                                      .drop_last = false, .seed = f.seed + 3});
  const std::int64_t total = f.steps ? *f.steps : f.epochs * loader.batches_per_epoch();
  const std::map<std::string, std::string> meta = run_metadata(f);

  std::int64_t step = 0;
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
    io::restore(ck, model, opt.get(), gens, &loader);
    model.train();
    step = static_cast<std::int64_t>(ck.global_step);
    std::cout << "resumed from " << f.resume << " at step " << step
              << (ck.optimizer ? "" : " (no optimizer state in the checkpoint)")
              << (ck.loader ? "" : " (no data-loader state)")
              << (ck.generators.empty() ? " (no generator state)" : "") << "\n";
  }

  std::cout << "training FashionCnn on Fashion-MNIST (" << train_set.size() << " train, "
            << test_set.size() << " test images): steps " << step << " -> " << total << ", "
            << f.optimizer << " lr " << f.effective_lr() << ", batch " << f.batch_size
            << (f.augment ? ", augment" : "") << ", " << mode_name(f.mode) << ", "
            << device_name(dev) << ", " << get_num_threads() << " thread"
            << (get_num_threads() == 1 ? "" : "s") << ", seed " << f.seed << "\n"
            << std::flush;

  namespace fs = std::filesystem;
  fs::create_directories(f.out);
  auto save = [&](const std::string& name, std::int64_t at,
                  const std::map<std::string, std::string>& extra = {}) {
    io::Checkpoint ck = io::capture(model, opt.get(), gens, &loader, f.mode,
                                    static_cast<std::uint64_t>(at));
    ck.metadata = meta;
    for (const auto& [k, v] : extra) ck.metadata[k] = v;
    const std::string path = (fs::path(f.out) / name).string();
    io::save_checkpoint(path, ck);
    return path;
  };

  Progress progress(step, total, f.progress);
  model.train();
  const auto t_train = std::chrono::steady_clock::now();
  std::int64_t images = 0;
  std::vector<double> window;  // the last losses, for the running mean shown
  double window_sum = 0.0;
  constexpr std::size_t kWindow = 50;
  Tensor x, y;
  while (step < total && !g_interrupted) {
    if (!loader.next(x, y)) {
      loader.next_epoch();
      continue;
    }
    if (f.augment) {
      x = data::random_crop(x, 28, 2, augment_gen);
      x = data::random_hflip(x, 0.5, augment_gen);
    }
    x = data::normalize(x, kPixelMean, kPixelStd);
    if (!dev.is_cpu()) {
      x = x.to(dev);
      y = y.to(dev);
    }
    opt->zero_grad();
    Tensor loss = cross_entropy(model(x), y);
    loss.backward();
    opt->step();
    ++step;
    images += x.shape()[0];

    const double l = loss.to(Device::cpu()).item<float>();
    window.push_back(l);
    window_sum += l;
    if (window.size() > kWindow) {
      window_sum -= window.front();
      window.erase(window.begin());
    }
    progress.update(step, images, window_sum / static_cast<double>(window.size()));
    if (f.checkpoint_every > 0 && step % f.checkpoint_every == 0) {
      save("step-" + std::to_string(step) + ".ditto", step);
    }
    if (f.interrupt_after > 0 && step == f.interrupt_after) std::raise(SIGINT);
  }
  progress.finish();
  const double train_s = seconds_since(t_train);

  if (g_interrupted && step < total) {
    const std::string path = save("interrupted.ditto", step);
    std::string hint = "ditto train --resume " + shell_quote(path);
    for (const std::string& a : f.replay) hint += " " + shell_quote(a);
    std::cout << "interrupted at step " << step << "; resume with: " << hint << "\n";
    return kInterrupted;
  }

  model.eval();
  const std::int64_t correct = count_correct(model, test_set, dev);
  const double acc = 100.0 * static_cast<double>(correct) / static_cast<double>(test_set.size());
  char acc_s[32];
  std::snprintf(acc_s, sizeof acc_s, "%.2f", acc);
  const double wall = seconds_since(t_start);
  model.train();  // the checkpoint records the training flags a resumed run continues with
  const std::string last =
      save("last.ditto", step, {{"test_accuracy", acc_s}, {"total_steps", std::to_string(total)}});

  char line[160];
  std::snprintf(line, sizeof line, "test accuracy: %s%% (%lld/%lld)\n", acc_s,
                static_cast<long long>(correct), static_cast<long long>(test_set.size()));
  std::cout << line;
  std::snprintf(line, sizeof line, "wall time: %.1f s (training %.1f s, %.0f images/s)\n", wall,
                train_s, train_s > 0 ? static_cast<double>(images) / train_s : 0.0);
  std::cout << line << "checkpoint: " << last << "\n"
            << "fingerprint: " << io::fingerprint_hex(io::fingerprint(model)) << "\n";
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
