// ditto — the end-to-end determinism check of issue 4: the library's FashionCnn at test size
// (conv -> BN -> ReLU -> maxpool -> dropout -> flatten -> linear), trained 20 steps by the
// library's Trainer with SGD and with Adam on cpu and on sim (the CUDA kernel sources on the
// simulator), ends with identical weights and buffers, bit for bit, in Deterministic mode — and
// also when the cpu run uses a different thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ditto/ditto.h"

namespace {

using namespace ditto;

enum class Opt { sgd, adam };

struct RunResult {
  std::map<std::string, Tensor> state;  // on cpu
  std::vector<float> losses;
};

/// Trains the library's FashionCnn at test size (4 channels, 8x8 images) with the library's
/// Trainer for `steps` steps on `dev`: 8 fixed random images in one batch (init seed 1, dropout
/// seed 2, data seed 3).
RunResult train(Device dev, Opt opt, int steps, int threads) {
  const int saved_threads = get_num_threads();
  set_num_threads(threads);
  Generator data(3);
  data::Dataset ds;
  ds.images = randn({8, 1, 8, 8}, data, DType::f32, Device::cpu());
  ds.labels = randint(0, 10, {8}, data, DType::i64, Device::cpu());
  TrainerConfig c;
  c.model = {.channels = 4, .image_size = 8, .dropout = 0.25};
  if (opt == Opt::sgd) {
    c.optimizer = TrainerConfig::Optimizer::sgd;
    c.lr = 0.05;
    c.momentum = 0.9;
    c.weight_decay = 1e-4;
    c.nesterov = true;
  } else {
    c.lr = 1e-2;
  }
  c.batch_size = 8;
  c.shuffle = false;  // the same batch every step
  c.normalize = false;
  c.seed = 1;  // init 1, dropout 2 (TrainerConfig's derivation)
  c.device = dev;
  Trainer trainer(c, ds);
  RunResult r;
  trainer.run(steps, [&](std::int64_t, double loss) {
    r.losses.push_back(static_cast<float>(loss));
    return true;
  });
  REQUIRE(trainer.global_step() == steps);
  for (auto& [k, v] : trainer.model().state_dict()) r.state[k] = v.to(Device::cpu()).contiguous();
  set_num_threads(saved_threads);
  return r;
}

void check_same_bits(const RunResult& a, const RunResult& b) {
  REQUIRE(a.state.size() == b.state.size());
  for (const auto& [k, ta] : a.state) {
    CAPTURE(k);
    REQUIRE(b.state.count(k) == 1);
    const Tensor& tb = b.state.at(k);
    REQUIRE(ta.shape() == tb.shape());
    REQUIRE(ta.dtype() == tb.dtype());
    CHECK(std::memcmp(ta.raw_data(), tb.raw_data(),
                      static_cast<std::size_t>(ta.numel()) * dtype_size(ta.dtype())) == 0);
  }
  REQUIRE(a.losses.size() == b.losses.size());
  CHECK(std::memcmp(a.losses.data(), b.losses.data(), a.losses.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_SUITE("train_cnn") {
  TEST_CASE("small CNN, 20 steps: cpu == sim bit for bit (SGD with momentum and Adam)") {
    ModeGuard g(Mode::Deterministic);
    for (Opt opt : {Opt::sgd, Opt::adam}) {
      CAPTURE(opt == Opt::sgd ? "sgd" : "adam");
      const RunResult cpu1 = train(Device::cpu(), opt, 20, 1);
      const RunResult cpu2 = train(Device::cpu(), opt, 20, 2);
      const RunResult sim = train(Device::sim(), opt, 20, 1);
      // It learned something (the 8 training images are memorisable).
      CHECK(cpu1.losses.back() < 0.5f * cpu1.losses.front());
      // num_batches_tracked counted every step; the weights moved.
      CHECK(cpu1.state.at("bn1.num_batches_tracked").item<std::int64_t>() == 20);
      check_same_bits(cpu1, cpu2);
      check_same_bits(cpu1, sim);
    }
  }

  TEST_CASE("Trainer: capture after 3 steps, restore into a fresh Trainer, 3 more == 6 straight") {
    ModeGuard g(Mode::Deterministic);
    Generator data(5);
    data::Dataset ds{rand({40, 1, 8, 8}, data, DType::f32, Device::cpu()),
                     randint(0, 10, {40}, data, DType::i64, Device::cpu())};
    TrainerConfig c;
    c.model = {.channels = 3, .image_size = 8, .dropout = 0.25};
    c.batch_size = 16;  // 3 batches per epoch (the last one of 8): 6 steps cross an epoch
    c.augment = true;
    c.seed = 9;
    Trainer straight(c, ds);
    CHECK(straight.run(6).reason == RunEnd::Reason::reached_total);
    Trainer first(c, ds);
    first.run(3);
    const io::Checkpoint ck = first.capture({{"note", "half"}});
    CHECK(ck.global_step == 3);
    CHECK(ck.metadata.at("note") == "half");
    Trainer second(c, ds);
    second.restore(ck);
    CHECK(second.global_step() == 3);
    second.run(6);
    CHECK(io::fingerprint(second.model()) == io::fingerprint(straight.model()));
    // The evaluation polls its stop callback between batches and restores the training flag.
    CHECK_FALSE(straight.count_correct(ds, [] { return true; }, 8).has_value());
    CHECK(straight.model().is_training());
    const auto correct = straight.count_correct(ds, {}, 8);
    REQUIRE(correct.has_value());
    CHECK(*correct >= 0);
    CHECK(*correct <= 40);
    // A stop from the per-step callback ends run() early.
    Trainer stopped(c, ds);
    CHECK(stopped.run(6, [](std::int64_t step, double) { return step < 2; }).reason ==
          RunEnd::Reason::stopped);
    CHECK(stopped.global_step() == 2);
  }

  TEST_CASE("small CNN: Fast mode stays close to Deterministic") {
    RunResult det, fast;
    {
      ModeGuard g(Mode::Deterministic);
      det = train(Device::cpu(), Opt::adam, 5, 2);
    }
    {
      ModeGuard g(Mode::Fast);
      fast = train(Device::cpu(), Opt::adam, 5, 2);
    }
    // Fast dropout masks are keyed by thread, so the trajectories differ; both must still train
    // and stay finite. The first loss is computed before any update, with a different mask
    // only, so it stays in the same range.
    for (float l : fast.losses) CHECK(std::isfinite(l));
    CHECK(fast.losses.back() < fast.losses.front());
    CHECK(det.losses.back() < det.losses.front());
  }
}
