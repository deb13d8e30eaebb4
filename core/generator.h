// ditto — Generator: the state of a counter-based Philox4x32-10 stream.
#pragma once
#include <cstdint>

namespace ditto {

/// State = (seed, offset). A random op drawing n values uses counters offset .. offset+n-1 with
/// key = seed (element i uses counter offset + i) and then advances offset by n. So values depend
/// only on (seed, offset, shape) — the same on every device and thread count — and saving and
/// restoring (seed, offset) resumes the stream exactly. Not thread-safe: one generator per thread.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}

  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  /// Restarts the stream: seed = s, offset = 0.
  void manual_seed(std::uint64_t s) {
    seed_ = s;
    offset_ = 0;
  }
  /// Restores a saved state.
  void set_state(std::uint64_t seed, std::uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  /// Reserves n counters: returns the first and advances the offset by n.
  std::uint64_t advance(std::uint64_t n) {
    std::uint64_t first = offset_;
    offset_ += n;
    return first;
  }

 private:
  std::uint64_t seed_;       // Philox key
  std::uint64_t offset_ = 0;  // next unused counter
};

}  // namespace ditto
