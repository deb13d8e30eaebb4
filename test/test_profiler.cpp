// The op profiler (core/profiler.h): rows per op and phase with the right call counts, kernel
// calls and bytes, self <= total and the parts adding up to the wall time, nothing recorded
// outside the scope, after stop(), while paused or on another thread, nesting refused, the
// table's text, the optimizer phase and the mode column, and the bits of a forward + backward
// identical with and without a Profiler. Timing assertions are inequalities that always hold.
// Tensors are created on the default device, so the suite also runs on sim (ctest
// sim/profiler), where kernel calls go through the simulator's tables.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/rng.h"
#include "ditto/ditto.h"

using namespace ditto;

namespace {

using ditto::test_fixtures::numel_of;
using ditto::test_fixtures::Rng;
using ditto::test_fixtures::same_bits;

Tensor values(const Shape& s, std::uint64_t seed) {
  Rng r(seed);
  std::vector<float> v(static_cast<std::size_t>(numel_of(s)));
  for (auto& x : v) x = static_cast<float>(-1.0 + 2.0 * r.next());
  return from_vector(v, s);
}

const ProfileRow* find_row(const ProfileReport& rep, const std::string& op, Phase phase,
                           std::optional<Mode> mode = std::nullopt) {
  for (const ProfileRow& r : rep.rows)
    if (r.op == op && r.phase == phase && (!mode || r.mode == *mode)) return &r;
  return nullptr;
}

// Checks what holds for every report: self <= total, nothing negative, the parts add up.
void check_consistent(const ProfileReport& rep) {
  double self_sum = 0.0;
  for (const ProfileRow& r : rep.rows) {
    INFO(r.op, " ", phase_name(r.phase));
    CHECK(r.calls > 0);
    CHECK(r.self_ms >= 0.0);
    CHECK(r.self_ms <= r.total_ms);
    CHECK(r.kernel_calls >= 0);
    CHECK(r.bytes_allocated >= 0);
    self_sum += r.self_ms;
  }
  CHECK(rep.outside_ms >= 0.0);
  CHECK(self_sum <= rep.wall_ms * (1 + 1e-9) + 1e-9);
  CHECK(self_sum + rep.outside_ms == doctest::Approx(rep.wall_ms).epsilon(1e-6));
  for (std::size_t i = 1; i < rep.rows.size(); ++i)
    CHECK(rep.rows[i - 1].self_ms >= rep.rows[i].self_ms);  // sorted by self time
}

struct Net {
  Tensor x, w, b, gamma, beta, rm, rv;
  Net() {
    x = values({2, 3, 6, 6}, 1).requires_grad_();
    w = values({4, 3, 3, 3}, 2).requires_grad_();
    b = values({4}, 3).requires_grad_();
    gamma = values({4}, 4).requires_grad_();
    beta = values({4}, 5).requires_grad_();
    rm = zeros({4});
    rv = ones({4});
  }
  // conv2d -> batch_norm -> relu -> sum, forward and backward; returns the loss.
  Tensor run() {
    Tensor y = conv2d(x, w, b, 1, 1);
    Tensor z = batch_norm(y, rm, rv, gamma, beta, /*training=*/true);
    Tensor loss = sum(relu(z));
    loss.backward();
    return loss;
  }
};

}  // namespace

TEST_SUITE("profiler") {

TEST_CASE("profiler: conv2d + batch_norm + relu + sum has forward and backward rows") {
  Net net;
  Profiler prof;
  CHECK(prof.recording());
  net.run();
  prof.stop();
  const ProfileReport rep = prof.report();
  check_consistent(rep);

  for (const char* op : {"conv2d", "batch_norm", "relu", "sum"}) {
    INFO(op);
    const ProfileRow* f = find_row(rep, op, Phase::forward);
    REQUIRE(f != nullptr);
    CHECK(f->calls == 1);
    CHECK(f->mode == Mode::Deterministic);
    CHECK(f->kernel_calls > 0);
    CHECK(f->bytes_allocated > 0);
    const ProfileRow* bw = find_row(rep, op, Phase::backward);
    REQUIRE(bw != nullptr);
    CHECK(bw->calls >= 1);
    CHECK(bw->mode == Mode::Deterministic);
  }
  // One node each (sum's backward row also counts the sums conv2d's rule calls).
  CHECK(find_row(rep, "conv2d", Phase::backward)->calls == 1);
  CHECK(find_row(rep, "batch_norm", Phase::backward)->calls == 1);
  CHECK(find_row(rep, "relu", Phase::backward)->calls == 1);
  CHECK(find_row(rep, "batch_norm", Phase::backward)->kernel_calls == 1);
  // dx: col2im on the cpu, the direct backward kernels on sim (their own kernels, not matmul's).
  CHECK(find_row(rep, "conv2d", Phase::backward)->kernel_calls >= 1);
  // relu's rule is where(gt(y, 0), g, 0): those ops have backward rows of their own, and relu's
  // row keeps only its own kernels (none).
  CHECK(find_row(rep, "where", Phase::backward) != nullptr);
  CHECK(find_row(rep, "gt", Phase::backward) != nullptr);
  CHECK(find_row(rep, "relu", Phase::backward)->kernel_calls == 0);
  // The engine's row: its total is the whole backward pass.
  const ProfileRow* engine = find_row(rep, "backward", Phase::backward);
  REQUIRE(engine != nullptr);
  CHECK(engine->calls == 1);
  CHECK(engine->total_ms >= find_row(rep, "conv2d", Phase::backward)->total_ms);
  CHECK(rep.wall_ms >= engine->total_ms);
  // Nothing ran outside an op: every kernel call and allocation belongs to a row.
  CHECK(rep.outside_kernel_calls == 0);
  CHECK(rep.outside_bytes == 0);
}

TEST_CASE("profiler: exact kernel calls and bytes, self time of a composite op") {
  const Tensor a = values({3, 5}, 11), b = values({3, 5}, 12);
  const Tensor x = values({2, 5}, 13), w = values({4, 5}, 14), bias = values({4}, 15);
  Profiler prof;
  add(a, b);
  linear(x, w, bias);
  prof.stop();
  const ProfileReport rep = prof.report();
  check_consistent(rep);
  const ProfileRow* add_row = find_row(rep, "add", Phase::forward);
  REQUIRE(add_row != nullptr);
  CHECK(add_row->calls == 2);                      // ours and linear's bias
  CHECK(add_row->kernel_calls == 2);               // one elementwise kernel each
  CHECK(add_row->bytes_allocated == (15 + 8) * 4);  // the two f32 outputs
  const ProfileRow* lin = find_row(rep, "linear", Phase::forward);
  const ProfileRow* mm = find_row(rep, "matmul", Phase::forward);
  REQUIRE(lin != nullptr);
  REQUIRE(mm != nullptr);
  CHECK(lin->calls == 1);
  CHECK(lin->kernel_calls == 0);  // linear is matmul + add: their kernels are theirs
  CHECK(lin->bytes_allocated == 0);
  CHECK(mm->kernel_calls == 1);
  CHECK(mm->bytes_allocated == 8 * 4);
  CHECK(lin->total_ms >= mm->total_ms);
  // self = total minus the nested ops (matmul and one of the two adds, which we cannot tell
  // apart here: bound it by both).
  CHECK(lin->self_ms <= lin->total_ms - mm->total_ms + 1e-9);
}

TEST_CASE("profiler: nothing is recorded before, after stop() or while paused") {
  const Tensor a = values({4}, 21), b = values({4}, 22);
  add(a, b);  // before: not recorded
  Profiler prof;
  mul(a, b);
  prof.pause();
  CHECK_FALSE(prof.recording());
  sub(a, b);  // paused: not recorded
  prof.pause();  // a second pause does nothing
  prof.resume();
  CHECK(prof.recording());
  div(a, b);
  prof.stop();
  CHECK_FALSE(prof.recording());
  neg(a);  // after stop: not recorded
  prof.resume();  // does nothing once stopped
  neg(a);
  const ProfileReport rep = prof.report();
  check_consistent(rep);
  CHECK(find_row(rep, "add", Phase::forward) == nullptr);
  CHECK(find_row(rep, "sub", Phase::forward) == nullptr);
  CHECK(find_row(rep, "neg", Phase::forward) == nullptr);
  REQUIRE(find_row(rep, "mul", Phase::forward) != nullptr);
  REQUIRE(find_row(rep, "div", Phase::forward) != nullptr);
  CHECK(find_row(rep, "mul", Phase::forward)->calls == 1);
  CHECK(rep.rows.size() == 2);
  prof.stop();  // a second stop does nothing
  CHECK(prof.report().rows.size() == 2);
  // Once the first one stopped a new one may start; an allocation outside every op (the
  // caller's own empty()) is counted as outside.
  Profiler second;
  const Tensor e = empty({16});
  second.stop();
  CHECK(second.report().rows.empty());
  CHECK(second.report().outside_bytes == 64);
  CHECK(second.report().outside_kernel_calls == 0);
}

TEST_CASE("profiler: profiles do not nest; stop() on another thread is refused") {
  std::optional<Profiler> prof;
  prof.emplace();
  CHECK_THROWS_AS(Profiler{}, Error);
  bool refused = false;
  std::thread other([&] {
    try {
      prof->stop();
    } catch (const Error&) {
      refused = true;
    }
  });
  other.join();
  CHECK(refused);
  CHECK(prof->recording());
  prof->stop();
  CHECK_NOTHROW(Profiler{});  // after stop() a new one may start
  prof.reset();
  CHECK_NOTHROW(Profiler{});
}

TEST_CASE("profiler: one destroyed on another thread is freed by its thread's next Profiler") {
  const Tensor a = values({4}, 51);
  auto prof = std::make_unique<Profiler>();
  std::thread other([&] { prof.reset(); });
  other.join();
  neg(a);  // recorded into the abandoned recorder, which nobody reads: harmless
  CHECK_NOTHROW(Profiler{});
  Profiler fresh;
  neg(a);
  fresh.stop();
  REQUIRE(fresh.report().rows.size() == 1);
  CHECK(fresh.report().rows[0].calls == 1);
}

TEST_CASE("profiler: ops on another thread are not recorded; each thread has its own") {
  const Tensor a = values({8}, 32);
  Profiler prof;
  ProfileReport theirs;
  std::thread other([&] {
    Net net;
    net.run();  // no Profiler on this thread: nothing recorded anywhere
    const Tensor t = values({8}, 31);
    Profiler own;
    exp(t);
    own.stop();
    theirs = own.report();
  });
  other.join();
  tanh(a);
  prof.stop();
  const ProfileReport ours = prof.report();
  REQUIRE(ours.rows.size() == 1);
  CHECK(ours.rows[0].op == "tanh");
  CHECK(ours.outside_kernel_calls == 0);
  CHECK(ours.outside_bytes == 0);
  REQUIRE(theirs.rows.size() >= 1);
  CHECK(find_row(theirs, "exp", Phase::forward) != nullptr);
  CHECK(find_row(theirs, "conv2d", Phase::forward) == nullptr);
  CHECK(find_row(theirs, "tanh", Phase::forward) == nullptr);
}

TEST_CASE("profiler: optimizer phase and the mode column") {
  Tensor p = values({6}, 41).requires_grad_();
  optim::Adam adam({p}, {.lr = 0.01});
  Tensor q = values({6}, 42).requires_grad_();
  optim::SGD sgd({q}, {.lr = 0.01, .momentum = 0.9});
  Profiler prof;
  Tensor loss = add(sum(mul(p, p)), sum(mul(q, q), {}, false, Mode::Fast));
  loss.backward();
  adam.step();
  sgd.step();
  prof.stop();
  const ProfileReport rep = prof.report();
  check_consistent(rep);
  for (const char* op : {"adam.step", "sgd.step"}) {
    INFO(op);
    const ProfileRow* r = find_row(rep, op, Phase::optimizer);
    REQUIRE(r != nullptr);
    CHECK(r->calls == 1);
    CHECK(r->kernel_calls == 0);  // the update is public ops, with rows of their own
    CHECK(find_row(rep, op, Phase::forward) == nullptr);
  }
  const ProfileRow* opt_mul = find_row(rep, "mul", Phase::optimizer);
  REQUIRE(opt_mul != nullptr);
  CHECK(opt_mul->kernel_calls > 0);
  CHECK(find_row(rep, "mul", Phase::forward)->calls == 2);  // the model's, not the optimizer's
  // The per-call Fast sum: its own forward row, and its backward under the forward's mode.
  CHECK(find_row(rep, "sum", Phase::forward, Mode::Fast)->calls == 1);
  CHECK(find_row(rep, "sum", Phase::forward, Mode::Deterministic)->calls == 1);
  CHECK(find_row(rep, "sum", Phase::backward, Mode::Fast) != nullptr);
  CHECK(find_row(rep, "sum", Phase::backward, Mode::Deterministic) != nullptr);
}

TEST_CASE("profiler: the table is aligned and names every row") {
  Net net;
  Profiler prof;
  net.run();
  prof.stop();
  const std::string t = prof.table();
  std::ostringstream printed;
  prof.print(printed);
  CHECK(printed.str() == t);
  for (const char* s : {"op", "phase", "mode", "calls", "total ms", "self ms", "self%", "kernels",
                        "bytes", "conv2d", "batch_norm", "relu", "sum", "forward", "backward",
                        "deterministic", "(outside ops)", "total"}) {
    INFO(s);
    CHECK(t.find(s) != std::string::npos);
  }
  CHECK(t.rfind("op ", 0) == 0);  // the header comes first
  // Every line as long as the header: the columns line up.
  std::istringstream lines(t);
  std::string line, header;
  std::getline(lines, header);
  std::size_t n = 1;
  while (std::getline(lines, line)) {
    INFO(line);
    CHECK(line.size() == header.size());
    ++n;
  }
  CHECK(n == prof.report().rows.size() + 3);  // header, rows, outside, total
}

TEST_CASE("profiler: results are bit-identical with and without a Profiler") {
  Net plain, profiled;
  const Tensor l0 = plain.run();
  Tensor l1;
  {
    Profiler prof;
    l1 = profiled.run();
  }
  CHECK(same_bits(l0, l1));
  CHECK(same_bits(plain.x.grad(), profiled.x.grad()));
  CHECK(same_bits(plain.w.grad(), profiled.w.grad()));
  CHECK(same_bits(plain.b.grad(), profiled.b.grad()));
  CHECK(same_bits(plain.gamma.grad(), profiled.gamma.grad()));
  CHECK(same_bits(plain.beta.grad(), profiled.beta.grad()));
  CHECK(same_bits(plain.rm, profiled.rm));
  CHECK(same_bits(plain.rv, profiled.rv));
}

}  // TEST_SUITE
