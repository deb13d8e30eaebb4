// ditto — SIMT simulator internals: fiber stacks and the x86-64 context switch (kernels/sim/).
// Not a public header: only kernels/sim/runtime.cpp and kernels/sim/fiber.cpp include it.
#pragma once
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define DITTO_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DITTO_SIM_ASAN 1
#endif
#endif
#if defined(DITTO_SIM_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

// The context switch (kernels/sim/fiber.cpp): saves the callee-saved registers on the current
// stack, stores the stack pointer in *save, switches to `to` and returns into the context saved
// there.
extern "C" void ditto_sim_swap_context(void** save, void* to);

namespace ditto::sim::detail {

/// A fiber stack: `usable` bytes of read/write memory above one PROT_NONE guard page, so an
/// overflow faults at the guard instead of silently corrupting the neighbouring stack.
class Stack {
 public:
  /// Reserves the stack with mmap (only touched pages cost memory). Throws ditto::Error on failure.
  explicit Stack(std::size_t usable);
  ~Stack();
  Stack(Stack&& other) noexcept;
  Stack& operator=(Stack&&) = delete;
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  /// Lowest usable address (just above the guard page).
  void* lo() const { return static_cast<char*>(base_) + guard_; }
  /// Usable size in bytes.
  std::size_t size() const { return usable_; }
  /// One past the highest usable address (16-byte aligned).
  void* hi() const { return static_cast<char*>(base_) + guard_ + usable_; }

 private:
  void* base_ = nullptr;  // start of the mapping (the guard page)
  std::size_t guard_ = 0;
  std::size_t usable_ = 0;
};

/// A suspended execution context: the saved stack pointer (callee-saved registers and the resume
/// address sit on that stack) plus the stack bounds and fake-stack handle AddressSanitizer needs.
struct Context {
  void* sp = nullptr;
  const void* stack_lo = nullptr;  // for __sanitizer_start_switch_fiber
  std::size_t stack_size = 0;
  void* asan_fake_stack = nullptr;
};

/// Makes `ctx` start `entry` on `stack` when first switched to. `entry` must never return.
void prepare_context(Context& ctx, const Stack& stack, void (*entry)());
/// Describes the current OS thread's own stack in `ctx` (the context fibers return to).
void init_thread_context(Context& ctx);
/// Saves the running context into `from` and resumes `to`; returns when something switches back.
/// Inline: it sits on every yield path of the scheduler.
inline void switch_context(Context& from, Context& to) {
#if defined(DITTO_SIM_ASAN)
  __sanitizer_start_switch_fiber(&from.asan_fake_stack, to.stack_lo, to.stack_size);
#endif
  // The compiler barriers make sure nothing is cached in registers across the switch: other
  // fibers ran in between and may have changed any memory.
  __asm__ volatile("" ::: "memory");
  ditto_sim_swap_context(&from.sp, to.sp);
  __asm__ volatile("" ::: "memory");
#if defined(DITTO_SIM_ASAN)
  __sanitizer_finish_switch_fiber(from.asan_fake_stack, nullptr, nullptr);
#endif
}
/// Like switch_context, but `from` is finished and will never be resumed (its stack may be
/// reused only after re-preparing it).
[[noreturn]] void exit_context(Context& from, Context& to);
/// Must be the first call in every fiber entry function (finishes the sanitizer's fiber switch).
void on_fiber_start();

}  // namespace ditto::sim::detail
