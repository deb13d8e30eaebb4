// ditto — SIMT simulator internals: the block scheduler, barriers, warp collectives and the
// diagnostics. One Worker per OS thread; a block never leaves its worker (static shared memory is
// thread_local), and every CUDA thread of it is a fiber.
#include "kernels/sim/scheduler.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>

#include "core/error.h"

namespace ditto::sim::detail {
namespace {

constexpr std::size_t kStackBytes = 128 * 1024;

/// Thrown at a yield point to unwind a fiber of a cancelled block (never escapes a fiber).
struct Cancelled {};
/// A diagnostic raised on the current fiber (caught in fiber_entry, never escapes a fiber).
struct Failure {
  std::string msg;
};

thread_local Worker* t_active = nullptr;  // the worker running a block on this OS thread

const char* const kWarpNames[kWarpKindCount] = {
    "__syncwarp",        "__shfl_sync",       "__shfl_up_sync",    "__shfl_down_sync",
    "__shfl_xor_sync",   "__ballot_sync",     "__any_sync",        "__all_sync",
    "__match_any_sync",  "__match_all_sync",  "__reduce_add_sync", "__reduce_min_sync",
    "__reduce_max_sync", "__reduce_min_sync", "__reduce_max_sync", "__reduce_and_sync",
    "__reduce_or_sync",  "__reduce_xor_sync"};
const char* const kBarrierNames[4] = {"__syncthreads", "__syncthreads_count", "__syncthreads_and",
                                      "__syncthreads_or"};

/// The path from the repository's top folders down (as core/error.cpp does).
std::string site(const char* file, int line) {
  const char* shown = file;
  for (const char* top : {"core/", "kernels/", "test/", "bench/", "nn/", "io/", "tools/"}) {
    if (const char* p = std::strstr(file, top)) {
      shown = p;
      break;
    }
  }
  return std::string(shown) + ":" + std::to_string(line);
}

std::string hex(std::uint32_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

bool same_site(const char* f1, int l1, const char* f2, int l2) {
  return l1 == l2 && (f1 == f2 || std::strcmp(f1, f2) == 0);
}

bool is_shuffle(int kind) { return kind >= kShflIdx && kind <= kShflXor; }

/// Source lane of a shuffle, exactly as PTX shfl.sync computes it (CUDA passes
/// c = ((32 - width) << 8) | clamp, clamp = 0 for .up and 31 otherwise); out-of-range sources
/// give the caller's own lane, i.e. its own value.
int shuffle_source(int kind, int lane, int arg, int width) {
  const int b = arg & 31;             // PTX uses the low 5 bits of srcLane/delta/laneMask
  const int seg = (32 - width) & 31;  // high lane bits that select the width-sized segment
  const int min_lane = lane & seg;
  const int max_lane = min_lane | (31 & ~seg);
  int j = lane;
  bool ok = true;
  switch (kind) {
    case kShflUp:
      j = lane - b;
      ok = j >= min_lane;
      break;
    case kShflDown:
      j = lane + b;
      ok = j <= max_lane;
      break;
    case kShflXor:  // may read an earlier segment, never a later one (as the guide says)
      j = lane ^ b;
      ok = j <= max_lane;
      break;
    default:  // kShflIdx: srcLane modulo width inside the caller's segment
      j = min_lane | (b & ~seg);
      break;
  }
  return ok ? j : lane;
}

std::uint64_t all_ones(int size) {
  return size >= 8 ? ~std::uint64_t{0} : ((std::uint64_t{1} << (8 * size)) - 1);
}

Worker& active_or_throw(const char* what) {
  Worker* w = Worker::active();
  DITTO_CHECK(w != nullptr, "sim: ", what, " called outside a simulated kernel");
  return *w;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lifetime.

Worker::Worker() { init_thread_context(main_); }

Worker::~Worker() {
  if (smem_ != nullptr) ::operator delete (smem_, std::align_val_t{128});
}

Worker& Worker::for_this_thread() {
  thread_local std::unique_ptr<Worker> owned;
  if (!owned) owned = std::make_unique<Worker>();
  return *owned;
}

bool Worker::inside_kernel() { return t_active != nullptr; }
Worker* Worker::active() { return t_active; }

void Worker::begin_launch(const LaunchSpec& spec, bool random) {
  spec_ = &spec;
  random_ = random;
  blocks_run_ = threads_run_ = switches_ = 0;
  if (smem_ == nullptr || smem_size_ != spec.dynamic_smem) {
    // Exactly the requested size, so AddressSanitizer reports overruns of dynamic shared memory.
    if (smem_ != nullptr) ::operator delete (smem_, std::align_val_t{128});
    smem_ = ::operator new (spec.dynamic_smem, std::align_val_t{128});
    smem_size_ = spec.dynamic_smem;
  }
}

void Worker::end_launch() { spec_ = nullptr; }

// ---------------------------------------------------------------------------------------------
// Running a block.

void Worker::run_block(const unsigned block_idx[3], std::uint64_t seed,
                       const std::atomic<bool>* abort, std::string* error) {
  const unsigned bx = spec_->block[0], by = spec_->block[1], bz = spec_->block[2];
  n_ = bx * by * bz;
  while (stacks_.size() < n_) stacks_.push_back(std::make_unique<Stack>(kStackBytes));
  if (fibers_.size() < n_) {
    fibers_.resize(n_);
    ready_.resize(n_);
  }
  for (int d = 0; d < 3; ++d) block_idx_[d] = block_idx[d];
  blockIdx = uint3{block_idx[0], block_idx[1], block_idx[2]};
  blockDim = dim3(bx, by, bz);
  gridDim = dim3(spec_->grid[0], spec_->grid[1], spec_->grid[2]);
  for (std::uint32_t i = 0; i < n_; ++i) {
    Fiber& f = fibers_[i];
    f.tid = uint3{i % bx, i / bx % by, i / (bx * by)};
    f.state = State::kReady;
    prepare_context(f.ctx, *stacks_[i], &Worker::fiber_entry);
    ready_[i] = i;
  }
  const std::uint32_t nwarps = (n_ + 31) / 32;
  warps_.assign(nwarps, WarpState{~0u, 0u, 0u});
  if (n_ % 32 != 0) warps_[nwarps - 1].exists = (1u << (n_ % 32)) - 1;
  ready_head_ = 0;
  ready_count_ = n_;
  n_done_ = n_exited_ = n_barrier_ = 0;
  cancel_ = false;
  error_.clear();
  abort_ = abort;
  rng_ = Rng(seed);
  // Junk (0xFF bytes: NaN as float/double, -1 as integers) exposes reads of uninitialised
  // dynamic shared memory, which on a GPU would hold whatever the previous block left.
  if (smem_size_ > 0) std::memset(smem_, 0xFF, smem_size_);

  t_active = this;
  Fiber* first = pop_ready();
  cur_ = first;
  threadIdx = first->tid;
  switch_context(main_, first->ctx);  // returns when every fiber of the block has finished
  t_active = nullptr;
  cur_ = nullptr;
  ++blocks_run_;
  threads_run_ += n_;
  if (!error_.empty()) *error = error_;
}

void Worker::fiber_entry() {
  on_fiber_start();
  Worker* w = t_active;
  w->run_current();
  w->exit_current();
}

void Worker::run_current() {
  if (cancel_) return;  // the block was cancelled before this thread started
  std::string msg;
  try {
    spec_->thunk(spec_->ctx);
  } catch (const Cancelled&) {
  } catch (const Failure& f) {
    msg = f.msg;
  } catch (const std::exception& e) {
    msg = "kernel threw an exception in " + where() + ": " + e.what();
  } catch (...) {
    msg = "kernel threw a non-std::exception object in " + where();
  }
  // Recorded outside the handlers: no exception is in flight when this fiber switches away.
  if (!msg.empty()) {
    record_error(msg);
    cancel_all();
  }
}

void Worker::exit_current() {
  Fiber* me = cur_;
  const std::uint32_t id = id_of(me);
  const std::uint32_t bit = 1u << (id % 32);
  WarpState& ws = warps_[id / 32];
  me->state = State::kDone;
  ++n_done_;
  ws.exited |= bit;
  if (n_exited_++ == 0) first_exited_ = id;
  if (!cancel_) {
    if (n_barrier_ > 0) {
      record_error(where() + " exited while " + std::to_string(n_barrier_) + " thread(s) wait at " +
                   kBarrierNames[bar_kind_] + "() (" + site(bar_file_, bar_line_) + ", first: " +
                   thread_str(bar_first_) + "); every thread of a block must reach every barrier");
      cancel_all();
    } else {
      for (std::uint32_t waiting = ws.waiting; waiting != 0; waiting &= waiting - 1) {
        const Fiber& other = fibers_[id / 32 * 32 + __builtin_ctz(waiting)];
        if (other.op.mask & bit) {
          record_error(where() + " (lane " + std::to_string(id % 32) + ") exited while " +
                       thread_str(id_of(&other)) + " waits for it in " + kWarpNames[other.op.kind] +
                       "(mask " + hex(other.op.mask) + ") at " +
                       site(other.op.file, other.op.line));
          cancel_all();
          break;
        }
      }
    }
  }
  Fiber* next = pop_ready();
  if (next == nullptr && n_done_ < n_) {
    record_error(describe_deadlock());
    cancel_all();
    next = pop_ready();
  }
  if (next == nullptr) {  // the whole block is done: back to run_block
    exit_context(me->ctx, main_);
  }
  cur_ = next;
  threadIdx = next->tid;
  ++switches_;
  exit_context(me->ctx, next->ctx);
}

// ---------------------------------------------------------------------------------------------
// Scheduling.

inline void Worker::push_ready(std::uint32_t id) {
  std::uint32_t pos = ready_head_ + ready_count_;
  if (pos >= n_) pos -= n_;
  ready_[pos] = id;
  ++ready_count_;
}

inline Worker::Fiber* Worker::pop_ready() {
  if (ready_count_ == 0) return nullptr;
  if (random_ && ready_count_ > 1) {
    std::uint32_t pos = ready_head_ + static_cast<std::uint32_t>(rng_.below(ready_count_));
    if (pos >= n_) pos -= n_;
    std::swap(ready_[pos], ready_[ready_head_]);
  }
  const std::uint32_t id = ready_[ready_head_];
  if (++ready_head_ == n_) ready_head_ = 0;
  --ready_count_;
  return &fibers_[id];
}

inline void Worker::switch_to(Fiber* next) {
  Fiber* me = cur_;
  if (next == me) return;
  cur_ = next;
  threadIdx = next->tid;
  ++switches_;
  switch_context(me->ctx, next->ctx);
  // Resumed: whoever switched back set cur_ and threadIdx to this fiber.
}

inline void Worker::suspend() {
  Fiber* next = pop_ready();
  if (__builtin_expect(next == nullptr, 0)) next = on_deadlock();
  switch_to(next);
  check_cancel();
}

Worker::Fiber* Worker::on_deadlock() {
  record_error(describe_deadlock());
  cancel_all();
  return pop_ready();
}

inline void Worker::check_cancel() {
  if (__builtin_expect(cancel_ || abort_->load(std::memory_order_relaxed), 0)) cancelled();
}

void Worker::cancelled() {
  if (!cancel_) cancel_all();  // another block failed: stop quietly
  throw Cancelled{};
}

void Worker::record_error(const std::string& msg) {
  if (error_.empty()) error_ = msg;
}

void Worker::cancel_all() {
  cancel_ = true;
  for (std::uint32_t i = 0; i < n_; ++i) {
    Fiber& f = fibers_[i];
    if (f.state == State::kBarrier || f.state == State::kWarp) {
      f.state = State::kReady;
      push_ready(i);
    }
  }
  n_barrier_ = 0;
  for (WarpState& ws : warps_) ws.waiting = 0;
}

void Worker::fail(const std::string& msg) const { throw Failure{msg}; }

std::string Worker::thread_str(std::uint32_t id) const {
  const uint3& t = fibers_[id].tid;
  std::ostringstream os;
  os << "thread (" << t.x << ',' << t.y << ',' << t.z << ')';
  return os.str();
}

std::string Worker::where() const {
  std::ostringstream os;
  os << thread_str(id_of(cur_)) << " of block (" << block_idx_[0] << ',' << block_idx_[1] << ','
     << block_idx_[2] << ')';
  return os.str();
}

std::string Worker::describe_deadlock() const {
  std::ostringstream os;
  os << "deadlock in block (" << block_idx_[0] << ',' << block_idx_[1] << ',' << block_idx_[2]
     << "): no thread can run;";
  int shown = 0;
  std::uint32_t hidden = 0;
  for (std::uint32_t i = 0; i < n_; ++i) {
    const Fiber& f = fibers_[i];
    if (f.state != State::kBarrier && f.state != State::kWarp) continue;
    if (shown == 4) {
      ++hidden;
      continue;
    }
    ++shown;
    os << ' ' << thread_str(i);
    if (f.state == State::kBarrier) {
      os << " waits at " << kBarrierNames[bar_kind_] << "() (" << site(bar_file_, bar_line_)
         << ");";
    } else {
      os << " waits in " << kWarpNames[f.op.kind] << "(mask " << hex(f.op.mask) << ") ("
         << site(f.op.file, f.op.line) << ");";
    }
  }
  if (hidden > 0) os << " and " << hidden << " more";
  os << " (barriers and warp collectives must be reached by all the threads they name)";
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Barriers.

int Worker::barrier(int kind, int pred, const char* file, int line) {
  check_cancel();
  Fiber* me = cur_;
  const std::uint32_t id = id_of(me);
  if (__builtin_expect(n_exited_ > 0, 0)) fail_barrier(false, kind, file, line);
  if (n_barrier_ == 0) {
    bar_file_ = file;
    bar_line_ = line;
    bar_kind_ = kind;
    bar_first_ = id;
    bar_acc_ = kind == kBarrierAnd ? 1 : 0;
  } else if (__builtin_expect(kind != bar_kind_ || !same_site(file, line, bar_file_, bar_line_),
                              0)) {
    fail_barrier(true, kind, file, line);
  }
  const int p = pred != 0;
  if (kind == kBarrierCount) bar_acc_ += p;
  if (kind == kBarrierAnd) bar_acc_ &= p;
  if (kind == kBarrierOr) bar_acc_ |= p;
  me->state = State::kBarrier;
  if (++n_barrier_ == n_) {
    // Everyone arrived: release all (in thread order; the scheduler then picks who runs).
    bar_result_ = bar_acc_;
    n_barrier_ = 0;
    for (std::uint32_t i = 0; i < n_; ++i) {
      fibers_[i].state = State::kReady;
      push_ready(i);
    }
  }
  suspend();
  // bar_result_ cannot be overwritten before this thread reads it: the next barrier completes
  // only after this thread arrives there.
  return bar_result_;
}

void Worker::fail_barrier(bool divergent, int kind, const char* file, int line) const {
  if (!divergent) {
    fail(std::string(kBarrierNames[kind]) + "() at " + site(file, line) + " reached by " + where() +
         " after " + thread_str(first_exited_) +
         " of the block exited; every thread of a block must reach every barrier");
  }
  fail("divergent barriers in block (" + std::to_string(block_idx_[0]) + "," +
       std::to_string(block_idx_[1]) + "," + std::to_string(block_idx_[2]) +
       "): " + thread_str(bar_first_) + " waits at " + kBarrierNames[bar_kind_] + "() (" +
       site(bar_file_, bar_line_) + ") but " + thread_str(id_of(cur_)) + " reached " +
       kBarrierNames[kind] + "() at " + site(file, line) +
       "; all threads of a block must reach the same barrier");
}

// ---------------------------------------------------------------------------------------------
// Warp collectives.

std::uint64_t Worker::warp_collective(int kind, unsigned mask, std::uint64_t value, int size,
                                      int arg, int width, const char* file, int line) {
  check_cancel();
  Fiber* me = cur_;
  const std::uint32_t id = id_of(me);
  const std::uint32_t lane = id % 32, warp = id / 32, base = warp * 32;
  const std::uint32_t bit = 1u << lane;
  WarpState& ws = warps_[warp];
  if (is_shuffle(kind) && (width < 1 || width > 32 || (width & (width - 1)) != 0)) {
    fail_warp(kWarpBadWidth, kind, mask, width, 0, file, line);
  }
  // Lanes beyond the end of a partial warp do not exist: drop them from the mask.
  const std::uint32_t m = mask & ws.exists;
  if ((m & bit) == 0) fail_warp(kWarpNotSelf, kind, mask, width, 0, file, line);
  if (const std::uint32_t gone = m & ws.exited) {
    fail_warp(kWarpExited, kind, mask, width, base + __builtin_ctz(gone), file, line);
  }
  for (std::uint32_t w = ws.waiting; w != 0; w &= w - 1) {
    const std::uint32_t j = __builtin_ctz(w);
    const WarpOp& o = fibers_[base + j].op;
    const bool in_mine = (m >> j) & 1;
    const bool names_me = (o.mask & bit) != 0;
    if (!in_mine && !names_me) continue;  // an independent group of lanes
    if (in_mine != names_me || o.kind != kind || o.mask != m ||
        (is_shuffle(kind) && o.width != width)) {
      fail_warp(kWarpMismatch, kind, m, width, base + j, file, line);
    }
  }
  me->op = WarpOp{value, m, arg, width, kind, size, file, line};
  me->state = State::kWarp;
  ws.waiting |= bit;
  if ((ws.waiting & m) == m) complete_warp_op(warp, m);
  suspend();
  return me->result;
}

void Worker::fail_warp(int why, int kind, unsigned mask, int width, std::uint32_t other,
                       const char* file, int line) const {
  const std::uint32_t id = id_of(cur_);
  const std::string head =
      std::string(kWarpNames[kind]) + " at " + site(file, line) + " in " + where();
  switch (why) {
    case kWarpBadWidth:
      fail(head + ": width " + std::to_string(width) + " is not a power of two in [1, 32]");
    case kWarpNotSelf:
      fail(head + " (lane " + std::to_string(id % 32) + "): the mask " + hex(mask) +
           " does not include the calling lane");
    case kWarpExited:
      fail(head + ": the mask " + hex(mask) + " names lane " + std::to_string(other % 32) +
           " of warp " + std::to_string(id / 32) + ", which has exited (" + thread_str(other) +
           "); every lane named in the mask must execute the collective");
    default: {
      const WarpOp& o = fibers_[other].op;
      fail("mismatched warp collectives in warp " + std::to_string(id / 32) + ": " +
           thread_str(other) + " waits in " + kWarpNames[o.kind] + "(mask " + hex(o.mask) +
           (is_shuffle(o.kind) ? ", width " + std::to_string(o.width) : std::string()) + ") at " +
           site(o.file, o.line) + " but " + where() + " called " + kWarpNames[kind] + "(mask " +
           hex(mask) + (is_shuffle(kind) ? ", width " + std::to_string(width) : std::string()) +
           ") at " + site(file, line) +
           "; lanes named in a mask must execute the same collective with the same mask");
    }
  }
}

void Worker::complete_warp_op(std::uint32_t warp, std::uint32_t m) {
  const std::uint32_t base = warp * 32;
  const int kind = fibers_[base + __builtin_ctz(m)].op.kind;
  // Group-wide values first.
  std::uint32_t ballot = 0;
  std::uint32_t red_u = 0, red_and = ~0u;
  std::int32_t red_imin = INT32_MAX, red_imax = INT32_MIN;
  std::uint32_t red_umin = ~0u, red_umax = 0;
  bool all_equal = true;
  const std::uint64_t first_value = fibers_[base + __builtin_ctz(m)].op.value;
  for (std::uint32_t w = m; w != 0; w &= w - 1) {
    const std::uint32_t j = __builtin_ctz(w);
    const std::uint64_t v = fibers_[base + j].op.value;
    if (v != 0) ballot |= 1u << j;
    const auto u = static_cast<std::uint32_t>(v);
    const auto i = static_cast<std::int32_t>(u);
    if (kind == kReduceAddU) red_u += u;
    if (kind == kReduceOr) red_u |= u;
    if (kind == kReduceXor) red_u ^= u;
    red_and &= u;
    red_imin = std::min(red_imin, i);
    red_imax = std::max(red_imax, i);
    red_umin = std::min(red_umin, u);
    red_umax = std::max(red_umax, u);
    all_equal = all_equal && v == first_value;
  }
  for (std::uint32_t w = m; w != 0; w &= w - 1) {
    const std::uint32_t j = __builtin_ctz(w);
    Fiber& f = fibers_[base + j];
    std::uint64_t r = 0;
    switch (kind) {
      case kShflIdx:
      case kShflUp:
      case kShflDown:
      case kShflXor: {
        const int src = shuffle_source(kind, static_cast<int>(j), f.op.arg, f.op.width);
        r = ((m >> src) & 1) ? fibers_[base + src].op.value : all_ones(f.op.size);
        break;
      }
      case kBallot: r = ballot; break;
      case kAny: r = ballot != 0; break;
      case kAll: r = ballot == m; break;
      case kMatchAny: {
        std::uint32_t same = 0;
        for (std::uint32_t w2 = m; w2 != 0; w2 &= w2 - 1) {
          const std::uint32_t k = __builtin_ctz(w2);
          if (fibers_[base + k].op.value == f.op.value) same |= 1u << k;
        }
        r = same;
        break;
      }
      case kMatchAll: r = all_equal ? (m | (std::uint64_t{1} << 32)) : 0; break;
      case kReduceAddU:
      case kReduceOr:
      case kReduceXor: r = red_u; break;
      case kReduceAnd: r = red_and; break;
      case kReduceMinU: r = red_umin; break;
      case kReduceMaxU: r = red_umax; break;
      case kReduceMinI: r = static_cast<std::uint32_t>(red_imin); break;
      case kReduceMaxI: r = static_cast<std::uint32_t>(red_imax); break;
      default: break;  // kWarpSync
    }
    f.result = r;
  }
  // Release the group (in lane order; the caller then yields to the scheduler's pick).
  for (std::uint32_t w = m; w != 0; w &= w - 1) {
    const std::uint32_t j = __builtin_ctz(w);
    fibers_[base + j].state = State::kReady;
    push_ready(base + j);
  }
  warps_[warp].waiting &= ~m;
}

unsigned Worker::active_mask() const {
  const WarpState& ws = warps_[id_of(cur_) / 32];
  return ws.exists & ~ws.exited;
}

void Worker::atomic_point() {
  check_cancel();
  if (!random_) return;
  // An extra yield point under the random schedule: other threads may run their atomics first.
  cur_->state = State::kReady;
  push_ready(id_of(cur_));
  suspend();
}

// ---------------------------------------------------------------------------------------------
// The entry points the shim calls.

int barrier(int kind, int pred, const char* file, int line) {
  return active_or_throw("__syncthreads()").barrier(kind, pred, file, line);
}

std::uint64_t warp_collective(int kind, unsigned mask, std::uint64_t value, int size, int arg,
                              int width, const char* file, int line) {
  return active_or_throw(kWarpNames[kind])
      .warp_collective(kind, mask, value, size, arg, width, file, line);
}

unsigned active_mask() { return active_or_throw("__activemask()").active_mask(); }

void atomic_point() {
  // Atomics used by host code outside a launch are plain atomics.
  if (Worker* w = Worker::active()) w->atomic_point();
}

void* dynamic_smem() { return active_or_throw("ditto_dynamic_smem()").dynamic_smem(); }

void kernel_assert_fail(const char* expr, const char* file, int line, const char* func) {
  Worker& w = active_or_throw("DITTO_KERNEL_ASSERT");
  w.fail("kernel assertion `" + std::string(expr) + "` failed at " + site(file, line) + " in " +
         func + "(), " + w.where());
}

void kernel_trap(const char* file, int line) {
  Worker& w = active_or_throw("__trap()");
  w.fail("__trap() called at " + site(file, line) + " in " + w.where());
}

}  // namespace ditto::sim::detail
