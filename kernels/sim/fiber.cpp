// ditto — SIMT simulator internals: fiber stacks and the x86-64 context switch.
//
// Why hand-written: `swapcontext` makes a sigprocmask system call on every switch (~250 ns); this
// switch saves six callee-saved registers and the stack pointer (~10 ns). It is a naked function
// rather than top-level asm because top-level asm in a header/inline context breaks -flto.
#include "kernels/sim/fiber.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/error.h"

#if !defined(__x86_64__)
#error "kernels/sim: the fiber context switch is written for x86-64 (System V ABI) only"
#endif

#if defined(DITTO_SIM_ASAN)  // (defined by fiber.h)
#include <sanitizer/asan_interface.h>
#endif

// ditto_sim_swap_context: saves rbp, rbx, r12-r15 on the current stack, stores rsp into *save,
// loads `to` as the new stack pointer, restores the same registers from it and returns into the
// resumed context. The System V ABI makes every other register caller-saved, so the C++ caller
// already spilled them. (MXCSR / x87 control words are not switched: kernels must not change the
// floating-point environment.)
extern "C" __attribute__((naked, noinline, used)) void ditto_sim_swap_context(void** /*save*/,
                                                                              void* /*to*/) {
  __asm__ volatile(
      "pushq %rbp\n\t"
      "pushq %rbx\n\t"
      "pushq %r12\n\t"
      "pushq %r13\n\t"
      "pushq %r14\n\t"
      "pushq %r15\n\t"
      "movq %rsp, (%rdi)\n\t"
      "movq %rsi, %rsp\n\t"
      "popq %r15\n\t"
      "popq %r14\n\t"
      "popq %r13\n\t"
      "popq %r12\n\t"
      "popq %rbx\n\t"
      "popq %rbp\n\t"
      "ret\n\t");
}

namespace ditto::sim::detail {

namespace {
std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

#if defined(DITTO_SIM_ASAN)
// Unpoisons [lo, hi): frames of a fiber that left through exit_context never returned, so their
// redzones would otherwise still be poisoned when the stack is reused or unmapped.
void unpoison(const void* lo, const void* hi) {
  if (hi > lo) {
    __asan_unpoison_memory_region(
        lo, static_cast<std::size_t>(static_cast<const char*>(hi) - static_cast<const char*>(lo)));
  }
}
#endif
}  // namespace

Stack::Stack(std::size_t usable) {
  const std::size_t page = page_size();
  guard_ = page;
  usable_ = (usable + page - 1) / page * page;
  const std::size_t total = guard_ + usable_;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  DITTO_CHECK(p != MAP_FAILED, "sim: cannot reserve a ", usable_,
              "-byte fiber stack: ", std::strerror(errno));
  if (mprotect(p, guard_, PROT_NONE) != 0) {
    const int err = errno;
    munmap(p, total);
    DITTO_FAIL("sim: cannot protect a fiber stack guard page: ", std::strerror(err));
  }
  base_ = p;
}

Stack::Stack(Stack&& other) noexcept
    : base_(other.base_), guard_(other.guard_), usable_(other.usable_) {
  other.base_ = nullptr;
}

Stack::~Stack() {
  if (base_ == nullptr) return;
#if defined(DITTO_SIM_ASAN)
  unpoison(lo(), hi());
#endif
  munmap(base_, guard_ + usable_);
}

void prepare_context(Context& ctx, const Stack& stack, void (*entry)()) {
#if defined(DITTO_SIM_ASAN)
  // A reused stack: everything above the point where its previous fiber left may hold poisoned
  // redzones of frames that never returned (the entry frame and the exit path).
  const char* old_sp = static_cast<const char*>(ctx.sp);
  const char* lo = static_cast<const char*>(stack.lo());
  const char* hi = static_cast<const char*>(stack.hi());
  const char* from = (old_sp > lo && old_sp < hi) ? old_sp : hi - 4096;
  from = from - 1024 > lo ? from - 1024 : lo;
  unpoison(from, hi);
#endif
  // Initial frame, from the top: a zero "return address" for `entry` (so backtraces end there),
  // the address the swap's `ret` jumps to, then the six registers the swap pops. At entry the
  // stack pointer is 8 mod 16, exactly as after a `call`.
  auto top = reinterpret_cast<std::uintptr_t>(stack.hi()) & ~std::uintptr_t{15};
  auto* sp = reinterpret_cast<std::uintptr_t*>(top);
  *--sp = 0;
  *--sp = reinterpret_cast<std::uintptr_t>(entry);
  for (int i = 0; i < 6; ++i) *--sp = 0;  // r15 r14 r13 r12 rbx rbp
  ctx.sp = sp;
  ctx.stack_lo = stack.lo();
  ctx.stack_size = stack.size();
  ctx.asan_fake_stack = nullptr;
}

void init_thread_context(Context& ctx) {
  ctx = Context{};
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      ctx.stack_lo = addr;
      ctx.stack_size = size;
    }
    pthread_attr_destroy(&attr);
  }
}

void exit_context(Context& from, Context& to) {
#if defined(DITTO_SIM_ASAN)
  // nullptr: the sanitizer may free this fiber's fake stack now.
  __sanitizer_start_switch_fiber(nullptr, to.stack_lo, to.stack_size);
#endif
  __asm__ volatile("" ::: "memory");
  ditto_sim_swap_context(&from.sp, to.sp);
  __builtin_unreachable();
}

void on_fiber_start() {
#if defined(DITTO_SIM_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

}  // namespace ditto::sim::detail
