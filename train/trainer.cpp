// ditto — the training loop (train/trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/mode.h"
#include "core/ops.h"

namespace ditto {

Trainer::Trainer(const TrainerConfig& config, const data::Dataset& train_set)
    : config_(config),
      init_(config.seed),
      dropout_(config.seed + 1),
      augment_(config.seed + 2),
      gens_{{"init", &init_}, {"dropout", &dropout_}, {"augment", &augment_}} {
  {
    // Built on cpu whatever the default device: the same initial bits everywhere.
    const Device saved = default_device();
    set_default_device(Device::cpu());
    try {
      model_ = std::make_unique<nn::FashionCnn>(config.model, init_, dropout_);
    } catch (...) {
      set_default_device(saved);
      throw;
    }
    set_default_device(saved);
  }
  if (!config.device.is_cpu()) model_->to(config.device);
  const double lr = config.effective_lr();
  if (config.optimizer == TrainerConfig::Optimizer::sgd) {
    opt_ = std::make_unique<optim::SGD>(
        model_->parameters(), optim::SGDOptions{.lr = lr,
                                                .momentum = config.momentum,
                                                .weight_decay = config.weight_decay,
                                                .nesterov = config.nesterov});
  } else {
    opt_ = std::make_unique<optim::Adam>(
        model_->parameters(), optim::AdamOptions{.lr = lr, .weight_decay = config.weight_decay});
  }
  loader_ = std::make_unique<data::DataLoader>(
      train_set, data::LoaderOptions{.batch_size = config.batch_size,
                                     .shuffle = config.shuffle,
                                     .drop_last = false,
                                     .seed = config.seed + 3});
  DITTO_CHECK(loader_->batches_per_epoch() > 0, "Trainer: the training set is empty");
  model_->train();
}

double Trainer::step() {
  Tensor x, y;
  while (!loader_->next(x, y)) loader_->next_epoch();  // batches_per_epoch() > 0: terminates
  if (config_.augment) {
    x = data::random_crop(x, x.size(-1), 2, augment_);
    x = data::random_hflip(x, 0.5, augment_);
  }
  if (config_.normalize) x = data::normalize(x, config_.pixel_mean, config_.pixel_std);
  if (!config_.device.is_cpu()) {
    x = x.to(config_.device);
    y = y.to(config_.device);
  }
  opt_->zero_grad();
  Tensor loss = cross_entropy((*model_)(x), y);
  const double l = loss.to(Device::cpu()).item<float>();
  // A diverged step: the update would write NaN/inf into every weight.
  if (!std::isfinite(l)) return l;
  loss.backward();
  opt_->step();
  ++step_;
  images_ += x.size(0);
  return l;
}

RunEnd Trainer::run(std::int64_t total,
                    const std::function<bool(std::int64_t, double)>& after_step) {
  RunEnd end;
  while (step_ < total) {
    end.loss = step();
    if (!std::isfinite(end.loss)) {
      end.reason = RunEnd::Reason::diverged;
      return end;
    }
    if (after_step && !after_step(step_, end.loss)) {
      end.reason = step_ < total ? RunEnd::Reason::stopped : RunEnd::Reason::reached_total;
      return end;
    }
  }
  return end;
}

std::optional<std::int64_t> Trainer::count_correct(const data::Dataset& test,
                                                   const std::function<bool()>& stop,
                                                   std::int64_t batch) {
  DITTO_CHECK(batch >= 1, "Trainer::count_correct: batch must be >= 1, got ", batch);
  NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  std::int64_t correct = 0;
  const std::int64_t n = test.size();
  for (std::int64_t b = 0; b < n; b += batch) {
    if (stop && stop()) {
      model_->train(was_training);
      return std::nullopt;
    }
    const std::int64_t len = std::min(batch, n - b);
    Tensor x = test.images.narrow(0, b, len).contiguous();
    if (config_.normalize) x = data::normalize(x, config_.pixel_mean, config_.pixel_std);
    if (!config_.device.is_cpu()) x = x.to(config_.device);
    const Tensor logits = (*model_)(x).to(Device::cpu()).contiguous();  // (len, 10)
    const Tensor labels = test.labels.narrow(0, b, len).contiguous();
    const float* l = logits.data_ptr<float>();
    const std::int64_t* y = labels.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < len; ++i) {
      std::int64_t best = 0;  // the first maximum wins, like argmax
      for (std::int64_t c = 1; c < 10; ++c)
        if (l[i * 10 + c] > l[i * 10 + best]) best = c;
      correct += best == y[i] ? 1 : 0;
    }
  }
  model_->train(was_training);
  return correct;
}

io::Checkpoint Trainer::capture(const std::map<std::string, std::string>& metadata) const {
  io::Checkpoint ck = io::capture(*model_, opt_.get(), gens_, loader_.get(), get_mode(),
                                  static_cast<std::uint64_t>(step_));
  ck.metadata = metadata;
  return ck;
}

void Trainer::restore(const io::Checkpoint& ck) {
  io::restore(ck, *model_, opt_.get(), gens_, loader_.get());
  model_->train();
  step_ = static_cast<std::int64_t>(ck.global_step);  // <= 2^53: the reader checked
}

}  // namespace ditto
