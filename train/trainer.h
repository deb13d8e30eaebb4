// ditto — the training loop, in the library: one object owns what a Fashion-MNIST-style run
// needs (model, optimizer, data loader, the seeded generators, the transforms) and does a step,
// an evaluation, a checkpoint capture and a restore. `ditto train`, the tests, the lab and the
// benchmarks all use it, so a run is defined once.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/generator.h"
#include "io/checkpoint.h"
#include "nn/data.h"
#include "nn/models.h"
#include "nn/optim.h"

namespace ditto {

/// Everything that determines a run's bits (besides the data and the thread's Mode).
/// Random streams derive from `seed`: weight init = seed, dropout = seed + 1, augmentation =
/// seed + 2, the loader's shuffle = seed + 3.
struct TrainerConfig {
  nn::FashionCnnOptions model;
  enum class Optimizer { adam, sgd };
  Optimizer optimizer = Optimizer::adam;
  double lr = 0.0;             // 0: the default, 1e-3 for adam and 0.05 for sgd
  double momentum = 0.9;       // sgd only
  double weight_decay = 0.0;
  bool nesterov = false;       // sgd only
  std::int64_t batch_size = 64;
  bool shuffle = true;
  bool augment = false;        // random crop (padding 2) and horizontal flip of each image
  bool normalize = true;       // (x - pixel_mean) / pixel_std
  double pixel_mean = 0.2860;  // Fashion-MNIST training-set mean and std of pixel / 255
  double pixel_std = 0.3530;
  std::uint64_t seed = 0;
  Device device = Device::cpu();

  double effective_lr() const { return lr > 0 ? lr : (optimizer == Optimizer::sgd ? 0.05 : 1e-3); }
};

/// How run() ended.
struct RunEnd {
  enum class Reason { reached_total, stopped, diverged };
  Reason reason = Reason::reached_total;
  double loss = 0.0;  // the last loss (the non-finite one when diverged)
};

class Trainer {
 public:
  /// Builds the model on cpu from the init generator (the same bits on every device), then
  /// moves it to config.device. `train_set` lives on cpu.
  Trainer(const TrainerConfig& config, const data::Dataset& train_set);
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// One optimizer step on the next batch (a new epoch starts when one ends): augment,
  /// normalize, forward, cross-entropy, backward, update. Returns the loss. A non-finite loss is
  /// returned without the update (the step is not counted): the caller decides to stop.
  double step();
  /// Steps until global_step() == total, after_step(step, loss) returns false, or the loss is
  /// not finite (that update is not applied).
  RunEnd run(std::int64_t total,
             const std::function<bool(std::int64_t step, double loss)>& after_step = {});

  /// Correct predictions on `test` in eval mode (batches of `batch`, no graph), restoring the
  /// training flag after. nullopt when `stop` (polled between batches) returned true.
  std::optional<std::int64_t> count_correct(const data::Dataset& test,
                                            const std::function<bool()>& stop = {},
                                            std::int64_t batch = 1000);

  /// The whole state (model, optimizer, generators, loader, the thread's mode, the step) with
  /// `metadata`.
  io::Checkpoint capture(const std::map<std::string, std::string>& metadata = {}) const;
  /// Restores what the checkpoint holds (parts it lacks stay as they are) and its step.
  void restore(const io::Checkpoint& ck);

  std::int64_t global_step() const { return step_; }
  /// Images trained on by this object (not counting steps before a restore).
  std::int64_t images_seen() const { return images_; }
  const TrainerConfig& config() const { return config_; }
  nn::FashionCnn& model() { return *model_; }
  optim::Optimizer& optimizer() { return *opt_; }
  data::DataLoader& loader() { return *loader_; }
  /// The named generators a checkpoint stores: init, dropout, augment.
  const std::vector<std::pair<std::string, Generator*>>& generators() const { return gens_; }

 private:
  TrainerConfig config_;
  Generator init_, dropout_, augment_;  // before the model: its dropout holds a reference
  std::vector<std::pair<std::string, Generator*>> gens_;
  std::unique_ptr<nn::FashionCnn> model_;
  std::unique_ptr<optim::Optimizer> opt_;
  std::unique_ptr<data::DataLoader> loader_;
  std::int64_t step_ = 0;
  std::int64_t images_ = 0;
};

}  // namespace ditto
