// ditto — the training progress display (see progress.h).
#include "tools/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace ditto::tools {

namespace {
constexpr double kRedrawSeconds = 0.1;  // ~10 redraws a second: smooth without flooding the tty
constexpr int kBarWidth = 24;
}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  char buf[48];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

Progress::Progress(std::int64_t first_step, std::int64_t total, bool enabled, std::FILE* out)
    : first_(first_step),
      total_(total),
      enabled_(enabled),
      interactive_(enabled && isatty(fileno(out)) != 0),
      // Plain lines: about ten per run, at most every 100 steps, at least every step.
      every_(std::max<std::int64_t>(
          1, std::min<std::int64_t>(100, (total - first_step + 9) / 10))),
      out_(out),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string Progress::render(std::int64_t step, std::int64_t images, double loss_mean,
                             bool bar) const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t done = step - first_;
  const double ips = elapsed > 0 ? static_cast<double>(images) / elapsed : 0.0;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) *
                                    static_cast<double>(total_ - step)
                              : NAN;
  std::string line = "step " + std::to_string(step) + "/" + std::to_string(total_);
  if (bar) {
    const double frac = total_ > 0 ? static_cast<double>(step) / static_cast<double>(total_) : 1.0;
    const int fill = static_cast<int>(frac * kBarWidth);
    line += " [";
    for (int i = 0; i < kBarWidth; ++i) line += i < fill ? '=' : (i == fill ? '>' : ' ');
    line += "]";
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, " loss %.4f  %.0f img/s  %s %s", loss_mean, ips,
                step >= total_ ? "time" : "ETA",
                format_duration(step >= total_ ? elapsed : eta).c_str());
  return line + buf;
}

void Progress::update(std::int64_t step, std::int64_t images, double loss_mean) {
  if (!enabled_) return;
  last_step_ = step;
  last_images_ = images;
  last_loss_ = loss_mean;
  if (interactive_) {
    const auto now = std::chrono::steady_clock::now();
    if (step < total_ && drawn_ &&
        std::chrono::duration<double>(now - last_draw_).count() < kRedrawSeconds) {
      return;
    }
    last_draw_ = now;
    // \r back to column 0, ESC[K erases what a longer previous line left behind.
    std::fprintf(out_, "\r%s\033[K", render(step, images, loss_mean, true).c_str());
    std::fflush(out_);
    drawn_ = true;
  } else if ((step - first_) % every_ == 0 || step == total_) {
    std::fprintf(out_, "%s\n", render(step, images, loss_mean, false).c_str());
    std::fflush(out_);
  }
}

void Progress::finish() {
  if (!enabled_ || !interactive_ || !drawn_) return;
  // Redraw the final state (a throttled last update may not be on screen), then end the line.
  if (last_step_ >= 0) {
    std::fprintf(out_, "\r%s\033[K",
                 render(last_step_, last_images_, last_loss_, true).c_str());
  }
  std::fprintf(out_, "\n");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace ditto::tools
