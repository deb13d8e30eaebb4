#include "core/mode.h"

#include <atomic>

namespace ditto {

namespace {
std::atomic<Mode> g_mode{Mode::Deterministic};
thread_local std::optional<Mode> t_override;  // set by ModeGuard on this thread
}  // namespace

void set_mode(Mode m) { g_mode.store(m); }
Mode get_mode() { return t_override ? *t_override : g_mode.load(); }

ModeGuard::ModeGuard(Mode m) : prev_(t_override) { t_override = m; }
ModeGuard::~ModeGuard() { t_override = prev_; }

}  // namespace ditto
