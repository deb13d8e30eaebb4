#include "kernels/launch_config.h"

#include <algorithm>
#include <atomic>

namespace ditto::kernels {

namespace {
std::atomic<int> g_blocks{0};
std::atomic<int> g_threads{0};
}  // namespace

void set_launch_override(LaunchOverride o) {
  g_blocks.store(o.blocks);
  g_threads.store(o.threads);
}

LaunchOverride get_launch_override() { return {g_blocks.load(), g_threads.load()}; }

int pick_threads(int preferred) {
  int t = g_threads.load();
  return t > 0 ? t : preferred;
}

int pick_blocks(std::int64_t items, std::int64_t per_block, int max_blocks) {
  int b = g_blocks.load();
  if (b > 0) return b;
  std::int64_t need = per_block > 0 ? (items + per_block - 1) / per_block : 1;
  return static_cast<int>(std::clamp<std::int64_t>(need, 1, max_blocks));
}

}  // namespace ditto::kernels
