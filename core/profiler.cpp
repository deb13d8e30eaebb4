// ditto — the op profiler (core/profiler.h) and its hooks (core/profile_scope.h).
//
// One Recorder per Profiler, written only by the thread that constructed it. Open op scopes form
// a stack; when one closes, its elapsed time goes to its row's total (unless the same row is open
// further out: an op nested in itself counts once) and, minus the time of the scopes it
// contained, to its self time; the elapsed time is added to the enclosing scope's child time.
// Kernel calls and allocations go to the innermost open scope, or to "outside" when none is open.
#include "core/profiler.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/profile_scope.h"
#include "kernels/device_memory.h"

namespace ditto {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::forward: return "forward";
    case Phase::backward: return "backward";
    case Phase::optimizer: return "optimizer";
  }
  return "unknown";
}

namespace profile {

constinit thread_local Recorder* t_recorder = nullptr;

namespace {

using Clock = std::chrono::steady_clock;

constinit thread_local Phase t_phase = Phase::forward;
// The Profiler alive on this thread (recording or paused), for the nesting check.
constinit thread_local Recorder* t_alive = nullptr;

std::int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

// Heterogeneous lookup: a row is found from the op's const char* without building a string.
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

constexpr int kPhases = 3, kModes = 2;

}  // namespace

class Recorder {
 public:
  struct Row {
    std::string op;
    Phase phase = Phase::forward;
    Mode mode = Mode::Deterministic;
    std::int64_t calls = 0, total_ns = 0, self_ns = 0, kernels = 0, bytes = 0;
  };
  struct Frame {
    std::size_t row = 0;
    Clock::time_point start;
    std::int64_t child_ns = 0;  // elapsed time of the scopes closed inside this one
    int cuda_device = -1;       // >= 0: launched kernels on that GPU (waited for at the end)
  };

  Recorder() : owner_(std::this_thread::get_id()), since_(Clock::now()) {}

  std::size_t begin(const char* op, Mode mode) {
    const std::size_t row = row_of(op, t_phase, mode);
    frames_.push_back(Frame{row, {}, 0, -1});
    frames_.back().start = Clock::now();  // last: the bookkeeping is not the op's time
    return frames_.size() - 1;
  }

  void end(std::size_t depth) noexcept {
    if (depth + 1 != frames_.size()) return;  // unbalanced: cannot happen with RAII scopes
    const Frame f = frames_.back();
    if (f.cuda_device >= 0) {
      // Wait for the op's kernels so that its time is theirs. A destructor must not throw; a
      // failed kernel's error is sticky and surfaces at the next synchronising call.
      try {
        kernels::device_synchronize(Device::cuda(f.cuda_device));
      } catch (...) {
      }
    }
    const std::int64_t elapsed = ns_between(f.start, Clock::now());
    frames_.pop_back();
    Row& r = rows_[f.row];
    r.calls += 1;
    r.self_ns += std::max<std::int64_t>(0, elapsed - f.child_ns);
    const bool nested_in_itself =
        std::any_of(frames_.begin(), frames_.end(), [&](const Frame& o) { return o.row == f.row; });
    if (!nested_in_itself) r.total_ns += elapsed;
    if (!frames_.empty()) frames_.back().child_ns += elapsed;
  }

  void kernel_call(Device d) {
    if (frames_.empty()) {
      ++outside_kernels_;
      return;
    }
    Frame& f = frames_.back();
    ++rows_[f.row].kernels;
    if (d.type == Device::Type::cuda) f.cuda_device = d.index;
  }

  void alloc(std::size_t bytes) {
    const auto b = static_cast<std::int64_t>(bytes);
    if (frames_.empty())
      outside_bytes_ += b;
    else
      rows_[frames_.back().row].bytes += b;
  }

  bool on_owner_thread() const { return std::this_thread::get_id() == owner_; }
  void check_thread(const char* what) const {
    DITTO_CHECK(on_owner_thread(), "Profiler::", what,
                ": called on another thread than the one it records (a Profiler records the "
                "thread that constructed it)");
  }
  void check_outside_ops(const char* what) const {
    DITTO_CHECK(frames_.empty(), "Profiler::", what, ": called inside an op (", frames_.size(),
                " op scopes open)");
  }

  // Stops recording (no checks: also the destructor's path).
  void finish() {
    if (stopped_) return;
    if (!paused_) recorded_ns_ += ns_between(since_, Clock::now());
    stopped_ = true;
    paused_ = false;
    if (t_recorder == this) t_recorder = nullptr;
    if (t_alive == this) t_alive = nullptr;
  }
  void pause() {
    if (stopped_ || paused_) return;
    recorded_ns_ += ns_between(since_, Clock::now());
    paused_ = true;
    t_recorder = nullptr;
  }
  void resume() {
    if (stopped_ || !paused_) return;
    paused_ = false;
    since_ = Clock::now();
    t_recorder = this;
  }
  bool recording() const { return !stopped_ && !paused_; }
  bool stopped() const { return stopped_; }

  ProfileReport report() const {
    ProfileReport rep;
    std::int64_t wall_ns = recorded_ns_ + (recording() ? ns_between(since_, Clock::now()) : 0);
    std::int64_t self_sum = 0;
    rep.rows.reserve(rows_.size());
    for (const Row& r : rows_) {
      if (r.calls == 0) continue;  // opened but not closed yet
      self_sum += r.self_ns;
      rep.rows.push_back(ProfileRow{r.op, r.phase, r.mode, r.calls, r.total_ns * 1e-6,
                                    r.self_ns * 1e-6, r.kernels, r.bytes});
    }
    std::sort(rep.rows.begin(), rep.rows.end(), [](const ProfileRow& a, const ProfileRow& b) {
      if (a.self_ms != b.self_ms) return a.self_ms > b.self_ms;
      if (a.op != b.op) return a.op < b.op;
      if (a.phase != b.phase) return a.phase < b.phase;
      return a.mode < b.mode;
    });
    wall_ns = std::max(wall_ns, self_sum);  // clock granularity: the parts never exceed the whole
    rep.wall_ms = wall_ns * 1e-6;
    rep.outside_ms = (wall_ns - self_sum) * 1e-6;
    rep.outside_kernel_calls = outside_kernels_;
    rep.outside_bytes = outside_bytes_;
    return rep;
  }

  // Its Profiler was destroyed on another thread (see ~Profiler).
  void abandon() { abandoned_.store(true); }
  bool abandoned() const { return abandoned_.load(); }

 private:
  std::size_t row_of(const char* op, Phase phase, Mode mode) {
    const int slot = static_cast<int>(phase) * kModes + static_cast<int>(mode);
    auto it = index_.find(std::string_view(op));
    if (it == index_.end()) {
      std::array<std::size_t, kPhases * kModes> none;
      none.fill(kNone);
      it = index_.emplace(std::string(op), none).first;
    }
    std::size_t& row = it->second[static_cast<std::size_t>(slot)];
    if (row == kNone) {
      row = rows_.size();
      rows_.push_back(Row{it->first, phase, mode});
    }
    return row;
  }

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::thread::id owner_;
  std::vector<Row> rows_;
  std::unordered_map<std::string, std::array<std::size_t, kPhases * kModes>, NameHash,
                     std::equal_to<>>
      index_;                  // op name -> row per (phase, mode)
  std::vector<Frame> frames_;  // the open op scopes, innermost last
  std::int64_t outside_kernels_ = 0, outside_bytes_ = 0;
  std::int64_t recorded_ns_ = 0;  // time recorded before `since_`
  Clock::time_point since_;       // start of the current recording interval
  bool paused_ = false, stopped_ = false;
  std::atomic<bool> abandoned_{false};
};

void on_kernel_call(Device d) { t_recorder->kernel_call(d); }
void on_alloc(std::size_t bytes) { t_recorder->alloc(bytes); }

void OpScope::begin(const char* op, std::optional<Mode> mode) {
  Recorder* r = t_recorder;
  depth_ = r->begin(op, resolve_mode(mode));
  recorder_ = r;
}

void OpScope::end() noexcept {
  // The recorder may have stopped meanwhile only if stop() ran inside an op (refused) or the
  // Profiler was destroyed from within one; then the scope's record is dropped.
  if (recorder_ == t_recorder) recorder_->end(depth_);
}

PhaseScope::PhaseScope(Phase p) : prev_(t_phase) { t_phase = p; }
PhaseScope::~PhaseScope() { t_phase = prev_; }

}  // namespace profile

// ---- Profiler --------------------------------------------------------------------------------

Profiler::Profiler() {
  using profile::t_alive;
  using profile::t_recorder;
  if (t_alive != nullptr && t_alive->abandoned()) {
    // Its Profiler was destroyed on another thread; it was left installed here to be freed now.
    if (t_recorder == t_alive) t_recorder = nullptr;
    delete t_alive;
    t_alive = nullptr;
  }
  DITTO_CHECK(t_alive == nullptr,
              "Profiler: a Profiler is already active on this thread (recording or paused; "
              "profiles do not nest: stop() the first one)");
  recorder_ = std::make_unique<profile::Recorder>();
  t_alive = recorder_.get();
  t_recorder = recorder_.get();
}

Profiler::~Profiler() {
  profile::Recorder* r = recorder_.get();
  if (!r->on_owner_thread()) {
    if (r->stopped()) return;  // no longer installed anywhere: freed here
    // Destroyed on another thread while its thread still points at the recorder: leave it alive
    // (flagged) for that thread's next Profiler to free, never free it under that thread.
    r->abandon();
    (void)recorder_.release();
    return;
  }
  r->finish();
}

void Profiler::stop() {
  recorder_->check_thread("stop");
  if (recorder_->stopped()) return;
  recorder_->check_outside_ops("stop");
  recorder_->finish();
}

void Profiler::pause() {
  recorder_->check_thread("pause");
  recorder_->check_outside_ops("pause");
  recorder_->pause();
}

void Profiler::resume() {
  recorder_->check_thread("resume");
  recorder_->resume();
}

bool Profiler::recording() const { return recorder_->recording(); }

ProfileReport Profiler::report() const { return recorder_->report(); }
std::string Profiler::table() const { return report().table(); }
void Profiler::print(std::ostream& os) const { os << table(); }

// ---- the table -------------------------------------------------------------------------------

namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// 512 B, 1.5 KiB, 12.3 MiB, 2.0 GiB.
std::string bytes_str(std::int64_t b) {
  if (b < 1024) return std::to_string(b) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    ++u;
  }
  return fmt("%.1f ", v) + units[u];
}

std::string pad_left(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}
std::string pad_right(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

}  // namespace

std::string ProfileReport::table() const {
  constexpr const char* kOutside = "(outside ops)";
  std::size_t op_w = std::string_view(kOutside).size();
  for (const ProfileRow& r : rows) op_w = std::max(op_w, r.op.size());
  const double wall = wall_ms > 0 ? wall_ms : 1.0;  // for the percentages
  auto line = [&](const std::string& op, const std::string& phase, const std::string& mode,
                  const std::string& calls, const std::string& total, const std::string& self,
                  const std::string& pct, const std::string& kernels, const std::string& bytes) {
    return pad_right(op, op_w) + "  " + pad_right(phase, 9) + "  " + pad_right(mode, 13) + "  " +
           pad_left(calls, 8) + "  " + pad_left(total, 11) + "  " + pad_left(self, 11) + "  " +
           pad_left(pct, 6) + "  " + pad_left(kernels, 8) + "  " + pad_left(bytes, 10) + "\n";
  };
  std::string out =
      line("op", "phase", "mode", "calls", "total ms", "self ms", "self%", "kernels", "bytes");
  std::int64_t kernels = outside_kernel_calls, bytes = outside_bytes;
  for (const ProfileRow& r : rows) {
    kernels += r.kernel_calls;
    bytes += r.bytes_allocated;
    out += line(r.op, phase_name(r.phase), std::string(mode_name(r.mode)), std::to_string(r.calls),
                fmt("%.3f", r.total_ms), fmt("%.3f", r.self_ms),
                fmt("%.1f%%", 100.0 * r.self_ms / wall), std::to_string(r.kernel_calls),
                bytes_str(r.bytes_allocated));
  }
  out += line(kOutside, "", "", "", "", fmt("%.3f", outside_ms),
              fmt("%.1f%%", 100.0 * outside_ms / wall), std::to_string(outside_kernel_calls),
              bytes_str(outside_bytes));
  out += line("total", "", "", "", fmt("%.3f", wall_ms), fmt("%.3f", wall_ms),
              wall_ms > 0 ? "100.0%" : "", std::to_string(kernels), bytes_str(bytes));
  return out;
}

}  // namespace ditto
