// ditto — the stop signals and the --out lock of `ditto train` (see run_guard.h).
#include "tools/run_guard.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace ditto::tools {

namespace {

// The first stop signal received (SIGINT or SIGTERM), 0 while none; and how many arrived.
volatile std::sig_atomic_t g_stop_signal = 0;
volatile std::sig_atomic_t g_signal_count = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal == 0) g_stop_signal = sig;
  g_signal_count = g_signal_count + 1;
  if (g_signal_count == 2) {
    // write(2) is async-signal-safe; its result does not matter (stderr may be a closed pipe).
    static const char kMsg[] =
        "ditto train: already stopping: finishing the step and saving; SIGKILL stops at once\n";
    [[maybe_unused]] const ssize_t n = ::write(2, kMsg, sizeof kMsg - 1);
  }
}

}  // namespace

StopSignalScope::StopSignalScope() {
  g_stop_signal = 0;
  g_signal_count = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignalScope::~StopSignalScope() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

bool stop_requested() { return g_stop_signal != 0; }
int stop_signal() { return g_stop_signal; }

OutDirLock::OutDirLock(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) DITTO_FAIL("cannot create the --out directory '", dir, "': ", ec.message());
  const std::string path = (fs::path(dir) / ".ditto-train.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    DITTO_FAIL("the --out directory '", dir, "' is not writable: cannot create ", path, ": ",
               std::strerror(err));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::string owner = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      DITTO_FAIL("the --out directory '", dir, "' is in use by another `ditto train`",
                 owner.empty() ? "" : " (pid " + owner + ")",
                 "; wait for it to finish or give this run its own --out");
    DITTO_FAIL("cannot lock ", path, ": ", std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    const int err = errno;
    ::close(fd_);  // a throwing constructor runs no destructor
    fd_ = -1;
    DITTO_FAIL("the --out directory '", dir, "' is not writable: ", path, ": ", std::strerror(err));
  }
}

OutDirLock::~OutDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace ditto::tools
