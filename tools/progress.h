// ditto — the training progress display of `ditto train`.
//
// On a terminal (isatty of the stream) it redraws one line in place about ten times a second:
//   step 312/938 [=========>           ] loss 0.6121  2410 img/s  ETA 0:16
// Elsewhere (a pipe, a log file, CI) it prints a plain line every `every` steps and at the end,
// so logs stay readable and short.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ditto::tools {

class Progress {
 public:
  /// first_step: the global step the run starts from (0, or a resumed checkpoint's step);
  /// total: the step the run ends at. enabled == false prints nothing at all.
  Progress(std::int64_t first_step, std::int64_t total, bool enabled, std::FILE* out = stderr);

  /// Reports that global step `step` finished, with `images` images processed in this process
  /// so far and the running mean of the loss.
  void update(std::int64_t step, std::int64_t images, double loss_mean);
  /// Ends the display (a newline after an in-place bar). Safe to call more than once.
  void finish();
  /// Whether the in-place terminal display is used.
  bool interactive() const { return interactive_; }
  /// The interval of plain lines (steps) when not interactive.
  std::int64_t every() const { return every_; }

 private:
  std::string render(std::int64_t step, std::int64_t images, double loss_mean, bool bar) const;

  std::int64_t first_, total_;
  bool enabled_, interactive_;
  std::int64_t every_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;     // an in-place line is on screen
  std::int64_t last_step_ = -1;
  std::int64_t last_images_ = 0;
  double last_loss_ = 0.0;
};

/// "1:05", "12:00:03": a duration in whole seconds for humans.
std::string format_duration(double seconds);

}  // namespace ditto::tools
