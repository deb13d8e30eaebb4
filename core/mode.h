// ditto — determinism mode (see docs/determinism.md).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace ditto {

/// Deterministic (default): every reducing op uses its canonical order, so output bits depend
/// only on input bits, shapes and attributes. Fast: atomics / thread-dependent partials allowed.
enum class Mode : std::uint8_t { Deterministic, Fast };

constexpr std::string_view mode_name(Mode m) {
  return m == Mode::Deterministic ? "deterministic" : "fast";
}

/// Sets the process-wide default mode (threads without a ModeGuard use it).
void set_mode(Mode m);
/// The mode in effect on the calling thread (innermost ModeGuard, else the global mode).
Mode get_mode();
/// Resolves a per-call override: `m` when given, otherwise get_mode().
inline Mode resolve_mode(std::optional<Mode> m) { return m ? *m : get_mode(); }

/// Scoped, per-thread override of the mode; restores the previous state on destruction.
class ModeGuard {
 public:
  explicit ModeGuard(Mode m);
  ~ModeGuard();
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  std::optional<Mode> prev_;  // the thread's previous override (nullopt = none)
};

}  // namespace ditto
