// ditto — checkpoints (io/checkpoint.h, docs/checkpoint-format.md): CRC32C, round trips of every
// part, bitwise resume after capture/restore into fresh objects, restore validation that never
// partially assigns, corruption/truncation/foreign-file errors, crash safety under SIGKILL during
// save, and the fuzz target's logic on junk.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/temp_dir.h"
#include "test/fixtures/errors.h"
#include "ditto/ditto.h"
#include "io/checkpoint.h"
#include "io/file_util.h"
#include "nn/data.h"

#define DITTO_FUZZ_NO_ENTRY
#include "fuzz/fuzz_checkpoint.cpp"

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h

using namespace ditto;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

/// The library FashionCnn at test size: 3 channels, 8x8 images (nn/models.h).
struct TinyCnn : nn::FashionCnn {
  TinyCnn(Generator& init, Generator& drop)
      : FashionCnn({.channels = 3, .image_size = 8, .dropout = 0.25}, init, drop) {}
};


data::Dataset tiny_dataset() {
  Generator g(11);
  return {randn({20, 1, 8, 8}, g, DType::f32, Device::cpu()),
          randint(0, 10, {20}, g, DType::i64, Device::cpu())};
}

enum class Opt { sgd, adam };

/// A complete training setup: model, optimizer, generators, loader.
struct Run {
  Generator init, drop, aug;
  std::unique_ptr<TinyCnn> model;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<data::DataLoader> loader;
  std::uint64_t step = 0;

  Run(std::uint64_t seed, Opt kind, const data::Dataset& ds)
      : init(seed), drop(seed + 1), aug(seed + 2) {
    model = std::make_unique<TinyCnn>(init, drop);
    model->train();
    if (kind == Opt::sgd)
      opt = std::make_unique<optim::SGD>(
          model->parameters(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
    else
      opt = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 1e-2});
    loader = std::make_unique<data::DataLoader>(ds, data::LoaderOptions{.batch_size = 8, .seed = 5});
  }
  std::vector<std::pair<std::string, Generator*>> gens() {
    return {{"dropout", &drop}, {"augment", &aug}};
  }
  void train_step() {
    Tensor x, y;
    if (!loader->next(x, y)) {
      loader->next_epoch();
      REQUIRE(loader->next(x, y));
    }
    x = data::random_hflip(x, 0.5, aug);  // cpu; the model lives on the default device
    const Device dev = model->fc->weight.device();
    x = x.to(dev);
    y = y.to(dev);
    opt->zero_grad();
    Tensor loss = cross_entropy((*model)(x), y);
    loss.backward();
    opt->step();
    ++step;
  }
  io::Checkpoint capture(io::CaptureOptions what = {}) {
    return io::capture(*model, opt.get(), gens(), loader.get(), Mode::Deterministic, step, what);
  }
  void restore(const io::Checkpoint& ck) {
    auto g = gens();
    io::restore(ck, *model, opt.get(), g, loader.get());
    step = ck.global_step;
  }
};

/// Everything observable about a Run, copied (for "untouched" checks).
struct Snapshot {
  std::vector<std::pair<std::string, Tensor>> model;
  std::vector<Tensor> opt_tensors;
  std::vector<std::int64_t> opt_steps;
  std::vector<std::uint64_t> gen_state;
  data::LoaderState loader;
  std::vector<bool> training;

  explicit Snapshot(Run& r) {
    for (auto& [k, v] : r.model->state_dict_items()) model.emplace_back(k, v.clone());
    if (auto* s = dynamic_cast<optim::SGD*>(r.opt.get())) {
      for (const Tensor& t : s->momentum_buffers()) opt_tensors.push_back(t.defined() ? t.clone() : t);
    } else {
      auto& st = dynamic_cast<optim::AdamBase*>(r.opt.get())->state();
      for (const Tensor& t : st.exp_avg) opt_tensors.push_back(t.defined() ? t.clone() : t);
      for (const Tensor& t : st.exp_avg_sq) opt_tensors.push_back(t.defined() ? t.clone() : t);
      opt_steps = st.step;
    }
    for (auto& [n, g] : r.gens()) {
      gen_state.push_back(g->seed());
      gen_state.push_back(g->offset());
    }
    loader = r.loader->state();
    training.push_back(r.model->is_training());
    for (auto& [n, m] : r.model->named_modules()) training.push_back(m->is_training());
  }
  bool operator==(const Snapshot& o) const {
    if (model.size() != o.model.size() || opt_tensors.size() != o.opt_tensors.size()) return false;
    for (std::size_t i = 0; i < model.size(); ++i)
      if (model[i].first != o.model[i].first || !same_bits(model[i].second, o.model[i].second))
        return false;
    for (std::size_t i = 0; i < opt_tensors.size(); ++i)
      if (!same_bits(opt_tensors[i], o.opt_tensors[i])) return false;
    return opt_steps == o.opt_steps && gen_state == o.gen_state &&
           loader.epoch == o.loader.epoch && loader.position == o.loader.position &&
           loader.seed == o.loader.seed && training == o.training;
  }
};

void check_equal(const io::Checkpoint& a, const io::Checkpoint& b) {
  REQUIRE(a.model.size() == b.model.size());
  for (std::size_t i = 0; i < a.model.size(); ++i) {
    CAPTURE(a.model[i].first);
    CHECK(a.model[i].first == b.model[i].first);
    CHECK(same_bits(a.model[i].second, b.model[i].second));
  }
  CHECK(a.training == b.training);
  REQUIRE(a.optimizer.has_value() == b.optimizer.has_value());
  if (a.optimizer) {
    CHECK(a.optimizer->kind == b.optimizer->kind);
    CHECK(a.optimizer->hyper == b.optimizer->hyper);
    CHECK(a.optimizer->step == b.optimizer->step);
    REQUIRE(a.optimizer->tensors.size() == b.optimizer->tensors.size());
    for (const auto& [k, t] : a.optimizer->tensors) {
      CAPTURE(k);
      REQUIRE(b.optimizer->tensors.count(k) == 1);
      CHECK(same_bits(t, b.optimizer->tensors.at(k)));
    }
  }
  REQUIRE(a.generators.size() == b.generators.size());
  for (std::size_t i = 0; i < a.generators.size(); ++i) {
    CHECK(a.generators[i].name == b.generators[i].name);
    CHECK(a.generators[i].seed == b.generators[i].seed);
    CHECK(a.generators[i].offset == b.generators[i].offset);
  }
  REQUIRE(a.loader.has_value() == b.loader.has_value());
  if (a.loader) {
    CHECK(a.loader->epoch == b.loader->epoch);
    CHECK(a.loader->position == b.loader->position);
    CHECK(a.loader->seed == b.loader->seed);
  }
  CHECK(a.mode == b.mode);
  CHECK(a.global_step == b.global_step);
  CHECK(a.metadata == b.metadata);
  CHECK(a.fingerprint == b.fingerprint);
}

using ditto::test_fixtures::error_of;  // test/fixtures/errors.h
using ditto::test_fixtures::TempDir;   // test/fixtures/temp_dir.h
using ditto::test_fixtures::write_raw;



/// A small checkpoint with every kind of record (a few hundred bytes).
io::Checkpoint small_checkpoint() {
  Generator g(3);
  io::Checkpoint ck;
  ck.model = {{"w", randn({2, 3}, g, DType::f32, Device::cpu())},
              {"b", randn({2}, g, DType::f64, Device::cpu())},
              {"n", scalar_tensor(7, DType::i64, Device::cpu())},
              {"m", from_vector<std::uint8_t>({1, 2, 3}, {3}, Device::cpu())}};
  ck.training = {{"", true}, {"x", false}};
  ck.optimizer = io::OptimizerRecord{
      "sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"num_params", 2}}, {},
      {{"momentum_buffer.0", randn({2, 3}, g, DType::f32, Device::cpu())}}};
  ck.generators = {{"a", 1, 2}, {"b", 3, 4}};
  ck.loader = data::LoaderState{1, 2, 3};
  ck.mode = Mode::Fast;
  ck.global_step = 42;
  ck.metadata = {{"note", "hi"}};
  ck.fingerprint = io::fingerprint(ck.model);
  return ck;
}

}  // namespace

TEST_SUITE("checkpoint") {
  TEST_CASE("crc32c: known vectors; SSE4.2 and table paths agree") {
    const std::string s = "123456789";
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    CHECK(io::crc32c(p, s.size()) == 0xE3069283u);
    CHECK(io::crc32c_portable(p, s.size()) == 0xE3069283u);
    CHECK(io::crc32c(nullptr, 0) == 0u);
    // RFC 3720 (iSCSI) B.4 vectors.
    Bytes zeros(32, 0), ones(32, 0xFF), inc(32);
    for (int i = 0; i < 32; ++i) inc[i] = static_cast<std::uint8_t>(i);
    CHECK(io::crc32c(zeros.data(), 32) == 0x8A9136AAu);
    CHECK(io::crc32c(ones.data(), 32) == 0x62A8AB43u);
    CHECK(io::crc32c(inc.data(), 32) == 0x46DD794Eu);
    std::mt19937_64 rng(1);
    Bytes buf(4096 + 16);
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    for (int trial = 0; trial < 400; ++trial) {
      const std::size_t off = rng() % 16, len = rng() % 4097;
      CHECK(io::crc32c(buf.data() + off, len) == io::crc32c_portable(buf.data() + off, len));
    }
  }

  TEST_CASE("round trip: every part equal bitwise; save -> load -> save byte-identical") {
    const data::Dataset ds = tiny_dataset();
    Run r(1, Opt::adam, ds);
    r.train_step();
    r.train_step();
    r.model->drop->eval();  // a mixed train/eval tree
    io::Checkpoint ck = r.capture();
    ck.metadata = {{"run", "test"}, {"empty", ""}, {"utf8", "\xc3\xa9t\xc3\xa9"}};
    REQUIRE(ck.optimizer.has_value());
    CHECK(ck.optimizer->step == std::vector<std::int64_t>(r.opt->params().size(), 2));
    CHECK(ck.optimizer->tensors.size() == 2 * r.opt->params().size());
    CHECK(ck.model.size() == r.model->state_dict_items().size());
    CHECK(ck.training.at("drop") == false);
    CHECK(ck.training.at("") == true);
    CHECK(ck.generators.size() == 2);
    CHECK(ck.loader->position == 2);
    CHECK(ck.fingerprint == io::fingerprint(*r.model));

    const Bytes bytes = io::serialize_checkpoint(ck);
    CHECK(bytes.size() % 8 == 0);
    const io::Checkpoint back = io::parse_checkpoint(bytes.data(), bytes.size());
    check_equal(ck, back);
    CHECK(back.format_version == io::kCheckpointFormatVersion);
    CHECK(back.ditto_version == std::string(version()));

    TempDir dir;
    const std::string a = dir.file("a.ckpt"), b = dir.file("b.ckpt");
    io::save_checkpoint(a, ck);
    io::save_checkpoint(b, io::load_checkpoint(a));
    CHECK(io::read_file(a) == bytes);
    CHECK(io::read_file(b) == bytes);
    // Capturing again (no training in between) gives the same bytes: no timestamps, no
    // addresses, maps in key order.
    io::Checkpoint again = r.capture();
    again.metadata = ck.metadata;
    CHECK(io::serialize_checkpoint(again) == bytes);
    // The snapshot is a copy: training on does not change the captured tensors.
    r.train_step();
    CHECK(io::serialize_checkpoint(ck) == bytes);
    CHECK(io::fingerprint(*r.model) != ck.fingerprint);
    CHECK(io::fingerprint_hex(0x0123456789abcdefull) == "0123456789abcdef");

    const auto recs = io::list_records(a);
    REQUIRE(recs.size() >= ck.model.size() + 3);
    CHECK(recs.front().kind == "meta");
    CHECK(recs.back().kind == "end");
    for (const auto& info : recs) CHECK(info.checksum_ok);
    CHECK(recs[1].name == ck.model[0].first);
    CHECK(recs[1].detail == "f32 [3,1,3,3]");
  }

  TEST_CASE("capture -> restore into fresh objects -> 3 steps == 3 steps straight (bitwise)") {
    const data::Dataset ds = tiny_dataset();
    for (Opt kind : {Opt::sgd, Opt::adam}) {
      CAPTURE(kind == Opt::sgd ? "sgd" : "adam");
      ModeGuard mg(Mode::Deterministic);
      Run orig(1, kind, ds);
      for (int i = 0; i < 4; ++i) orig.train_step();  // crosses an epoch boundary (3 batches)
      const Bytes bytes = io::serialize_checkpoint(orig.capture());
      const io::Checkpoint ck = io::parse_checkpoint(bytes.data(), bytes.size());
      const io::Checkpoint ck_no_opt =
          orig.capture(io::CaptureOptions{.optimizer = false});
      const io::Checkpoint ck_no_gen =
          orig.capture(io::CaptureOptions{.generators = false});
      for (int i = 0; i < 3; ++i) orig.train_step();
      const std::uint64_t want = io::fingerprint(*orig.model);

      Run fresh(77, kind, ds);
      fresh.model->eval();  // restore must put the train flags back too
      CHECK(io::fingerprint(*fresh.model) != ck.fingerprint);
      fresh.restore(ck);
      CHECK(io::fingerprint(*fresh.model) == ck.fingerprint);
      CHECK(fresh.step == 4);
      for (int i = 0; i < 3; ++i) fresh.train_step();
      CHECK(io::fingerprint(*fresh.model) == want);
      CHECK(Snapshot(fresh) == Snapshot(orig));

      Run partial(77, kind, ds);
      partial.restore(ck_no_opt);
      for (int i = 0; i < 3; ++i) partial.train_step();
      CHECK(io::fingerprint(*partial.model) != want);

      Run no_rng(77, kind, ds);
      no_rng.restore(ck_no_gen);
      for (int i = 0; i < 3; ++i) no_rng.train_step();
      CHECK(io::fingerprint(*no_rng.model) != want);
    }
  }

  TEST_CASE("restore validation: nothing is assigned when anything is wrong") {
    const data::Dataset ds = tiny_dataset();
    Run src(1, Opt::adam, ds);
    src.train_step();
    const io::Checkpoint good = src.capture();

    Run live(9, Opt::adam, ds);
    live.train_step();  // live optimizer state exists and differs from the checkpoint's
    const Snapshot before(live);
    auto expect_refused = [&](const io::Checkpoint& ck, Run& target, const std::string& needle) {
      const Snapshot pre(target);
      const std::string msg = error_of([&] { target.restore(ck); });
      CAPTURE(msg);
      CHECK(msg.find(needle) != std::string::npos);
      CHECK(Snapshot(target) == pre);
    };

    io::Checkpoint ck = good;
    ck.model[0].second = zeros({3, 1, 2, 2}, DType::f32, Device::cpu());
    expect_refused(ck, live, "'conv1.weight': checkpoint has f32 [3,1,2,2], model has f32 [3,1,3,3]");

    ck = good;
    ck.model.erase(ck.model.begin() + 2);  // bn1.weight
    expect_refused(ck, live, "missing key 'bn1.weight'");

    ck = good;
    ck.model.emplace_back("extra", zeros({1}, DType::f32, Device::cpu()));
    expect_refused(ck, live, "unexpected key 'extra'");

    ck = good;
    ck.generators.push_back({"nope", 1, 2});
    expect_refused(ck, live, "generator 'nope'");

    ck = good;
    ck.training["no.such.module"] = true;
    expect_refused(ck, live, "'no.such.module'");

    ck = good;
    ck.loader->position = 99;
    expect_refused(ck, live, "loader position 99");

    ck = good;
    ck.optimizer->step.pop_back();
    expect_refused(ck, live, "Adam step counts");

    ck = good;
    ck.optimizer->hyper["lr"] = 0.5;
    expect_refused(ck, live, "lr: checkpoint has 0.5");

    ck = good;
    ck.optimizer->tensors.erase("exp_avg_sq.0");
    expect_refused(ck, live, "exp_avg.0 and exp_avg_sq.0");

    Run sgd(9, Opt::sgd, ds);
    sgd.train_step();
    expect_refused(good, sgd, "optimizer kind mismatch: checkpoint has 'adam', the live optimizer is 'sgd'");

    // Wrong parameter count: an optimizer over all but the last parameter.
    Run fewer(9, Opt::adam, ds);
    auto ps = fewer.model->parameters();
    ps.pop_back();
    fewer.opt = std::make_unique<optim::Adam>(ps, optim::AdamOptions{.lr = 1e-2});
    expect_refused(good, fewer, "has 6 parameters, the live one has 5");

    CHECK(Snapshot(live) == before);
    live.restore(good);  // and the good one is accepted
    CHECK(io::fingerprint(*live.model) == good.fingerprint);
  }

  TEST_CASE("corruption: every flipped byte and every truncation is an error") {
    const Bytes good = io::serialize_checkpoint(small_checkpoint());
    REQUIRE(good.size() < 2000);
    check_equal(small_checkpoint(), io::parse_checkpoint(good.data(), good.size()));
    for (std::uint8_t mask : {0x01, 0x80, 0xFF}) {
      for (std::size_t i = 0; i < good.size(); ++i) {
        Bytes bad = good;
        bad[i] ^= mask;
        bool threw = false;
        try {
          (void)io::parse_checkpoint(bad.data(), bad.size());
        } catch (const Error&) {
          threw = true;
        }
        if (!threw) FAIL_CHECK("flip of byte ", i, " by ", int(mask), " parsed");
      }
    }
    for (std::size_t n = 0; n < good.size(); ++n) {
      bool threw = false;
      try {
        (void)io::parse_checkpoint(good.data(), n);
      } catch (const Error&) {
        threw = true;
      }
      if (!threw) FAIL_CHECK("truncation to ", n, " bytes parsed");
    }
    // Trailing junk after the end is refused too.
    Bytes longer = good;
    longer.push_back(0);
    CHECK(error_of([&] { io::parse_checkpoint(longer.data(), longer.size()); })
              .find("1 trailing bytes") != std::string::npos);

    // A bigger checkpoint: a strided sample of flips, and the messages.
    const data::Dataset ds = tiny_dataset();
    Run r(1, Opt::adam, ds);
    r.train_step();
    const Bytes big = io::serialize_checkpoint(r.capture());
    for (std::size_t i = 0; i < big.size(); i += 7) {
      Bytes bad = big;
      bad[i] ^= 0x10;
      CHECK_THROWS_AS(io::parse_checkpoint(bad.data(), bad.size()), Error);
    }
    // Flip a data byte of record 1 (conv1.weight): the message names it, with both checksums.
    const auto recs_at = [&] {
      TempDir d;
      write_raw(d.file("x"), big);
      return io::list_records(d.file("x"));
    }();
    Bytes bad = big;
    bad[recs_at[1].offset + 40 + 40 + 1] ^= 1;  // header 24 + name 12 + pad 4, dtype/rank/dims 40
    std::string msg = error_of([&] { io::parse_checkpoint(bad.data(), bad.size()); });
    CHECK(msg.find("checkpoint: record 1 'conv1.weight': checksum mismatch (stored 0x") == 0);
    CHECK(msg.find(", computed 0x") != std::string::npos);
    msg = error_of([&] { io::parse_checkpoint(big.data(), 4000); });
    CHECK(msg.find("truncated: header says " + std::to_string(big.size()) +
                   " bytes, file has 4000") != std::string::npos);
    // list_records reports a bad payload checksum instead of throwing.
    TempDir d;
    write_raw(d.file("bad"), bad);
    const auto recs = io::list_records(d.file("bad"));
    REQUIRE(recs.size() == recs_at.size());
    for (std::size_t i = 0; i < recs.size(); ++i) CHECK(recs[i].checksum_ok == (i != 1));
    CHECK(recs[1].detail.find("checksum mismatch") != std::string::npos);
    write_raw(d.file("short"), Bytes(big.begin(), big.begin() + 100));
    CHECK_THROWS_AS(io::list_records(d.file("short")), Error);
  }

  TEST_CASE("clear errors: magic, future version, foreign file, empty, directory, missing") {
    TempDir dir;
    const Bytes good = io::serialize_checkpoint(small_checkpoint());
    auto load_error = [&](const Bytes& b) {
      write_raw(dir.file("f"), b);
      return error_of([&] { io::load_checkpoint(dir.file("f")); });
    };
    Bytes b = good;
    b[0] = 'X';
    CHECK(load_error(b).find("not a ditto checkpoint (magic 58 49 54 54 4f 43 4b 50") !=
          std::string::npos);
    b = good;
    const std::uint32_t v9 = 9;
    std::memcpy(b.data() + 8, &v9, 4);
    const std::uint32_t hcrc = io::crc32c(b.data(), 60);
    std::memcpy(b.data() + 60, &hcrc, 4);
    CHECK(load_error(b).find("format version 9 is newer than this ditto supports (1)") !=
          std::string::npos);
    const Bytes png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    const std::string png_msg = load_error(png);
    CHECK(png_msg.find("not a ditto checkpoint (magic 89 50 4e 47 0d 0a 1a 0a") != std::string::npos);
    CHECK(png_msg.find(dir.file("f")) != std::string::npos);
    CHECK(load_error({}).find("empty file (0 bytes)") != std::string::npos);
    CHECK(load_error({'D', 'I', 'T'}).find("not a ditto checkpoint") != std::string::npos);
    CHECK(error_of([&] { io::load_checkpoint(dir.path.string()); }).find("Is a directory") !=
          std::string::npos);
    const std::string missing = dir.file("missing.ckpt");
    const std::string mmsg = error_of([&] { io::load_checkpoint(missing); });
    CHECK(mmsg.find(missing) != std::string::npos);
    CHECK(mmsg.find("No such file or directory") != std::string::npos);
    CHECK(error_of([&] { io::save_checkpoint(dir.file("no/such/dir/x.ckpt"), small_checkpoint()); })
              .find("No such file or directory") != std::string::npos);
    // A failed save leaves no temporary behind.
    std::size_t n = 0;
    for (auto& e : fs::directory_iterator(dir.path)) n += e.path().filename() == "f" ? 0 : 1;
    CHECK(n == 0);
  }

  TEST_CASE("fuzz entry: junk, mutated and checksum-fixed inputs end in ditto::Error or success") {
    const Bytes good = io::serialize_checkpoint(small_checkpoint());
    CHECK(ditto_fuzz::fuzz_checkpoint_one(good.data(), good.size()) == 2);
    CHECK(ditto_fuzz::fix_checkpoint_checksums(good) == good);
    CHECK(ditto_fuzz::fuzz_checkpoint_one(nullptr, 0) == 0);
    std::mt19937_64 rng(7);
    int decoded = 0;
    for (int trial = 0; trial < 3000; ++trial) {
      Bytes b = good;
      const int kind = trial % 3;
      if (kind == 0) {  // random bytes after a valid header
        b.resize(64 + rng() % 400);
        for (std::size_t i = 64; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(rng());
      } else {  // a few random byte changes, anywhere
        const int k = 1 + static_cast<int>(rng() % 4);
        for (int j = 0; j < k; ++j) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
        if (kind == 2) b.resize(rng() % (b.size() + 1));
      }
      // Only ditto::Error may escape the parser: anything else fails the test case here.
      decoded += ditto_fuzz::fuzz_checkpoint_one(b.data(), b.size());
    }
    CHECK(decoded > 0);  // some checksum-fixed mutants do decode
  }

  TEST_CASE("crash safety: SIGKILL during save always leaves a checkpoint that verifies") {
    // Two valid ~1 MB checkpoints; the child alternates between them.
    Generator g(5);
    io::Checkpoint a, b;
    a.model = {{"big", randn({256 * 1024}, g, DType::f32, Device::cpu())}};
    b.model = {{"big", randn({256 * 1024}, g, DType::f32, Device::cpu())}};
    a.global_step = 1;
    b.global_step = 2;
    const Bytes ba = io::serialize_checkpoint(a), bb = io::serialize_checkpoint(b);
    TempDir dir;
    const std::string target = dir.file("ckpt.bin");
    io::write_file_atomic(target, ba);
    std::mt19937 rng(12345);
    int kills = 0, saw_a = 0, saw_b = 0;
    for (int round = 0; round < 60; ++round) {
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        // Child: only write_file_atomic (no ops, no threads).
        for (int i = 0;; ++i) {
          try {
            io::write_file_atomic(target, (i & 1) ? bb : ba);
          } catch (...) {
            ::_exit(3);
          }
        }
      }
      const int delay_us = static_cast<int>(rng() % 20001);
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
      ++kills;
      const Bytes now = io::read_file(target);
      const bool is_a = now == ba, is_b = now == bb;
      CHECK((is_a || is_b));
      saw_a += is_a;
      saw_b += is_b;
      const io::Checkpoint ck = io::load_checkpoint(target);
      CHECK(ck.fingerprint == io::fingerprint(is_a ? a.model : b.model));
    }
    CHECK(kills >= 50);
    CHECK(saw_b > 0);  // the child did get saves through
    // Leftover temporaries are "<target>.tmp.<pid>.<n>" (documented); anything else is a bug.
    for (auto& e : fs::directory_iterator(dir.path)) {
      const std::string name = e.path().string();
      CHECK((name == target || name.rfind(io::atomic_temp_prefix(target), 0) == 0));
    }
    MESSAGE("crash safety: ", kills, " kills, old/new seen ", saw_a, "/", saw_b);
  }
}
