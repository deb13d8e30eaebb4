// ditto — what guards a `ditto train` run: the stop signals (SIGINT, SIGTERM) and the lock on
// its --out directory. Used by tools/train.cpp; documented for users in README.md ("Signals",
// "The --out directory").
#pragma once
#include <signal.h>

#include <string>

namespace ditto::tools {

/// Installs one handler for SIGINT and SIGTERM for the whole run and restores the previous
/// handlers when destroyed. The handler only records the first signal: the training loop checks
/// stop_requested() between steps, saves, and exits with 128 + stop_signal(). It stays
/// installed (no SA_RESETHAND): a second signal -- `timeout -s INT` and supervisors send one to
/// the pid and one to the group microseconds apart -- must not kill the process while it saves.
/// SA_RESTART: a signal never makes a write of the checkpoint fail.
class StopSignalScope {
 public:
  StopSignalScope();
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

/// Whether a stop signal arrived since the StopSignalScope was installed.
bool stop_requested();
/// The first stop signal received (SIGINT or SIGTERM), 0 while none.
int stop_signal();

/// One `ditto train` at a time per --out directory: an exclusive flock on DIR/.ditto-train.lock
/// (DIR is created first), held for the object's life and released by the kernel when the
/// process ends, however it ends. The file holds the owner's pid for the message a second run
/// prints. Creating it is also the first proof that DIR is writable. Throws ditto::Error naming
/// the directory (cannot create, not writable, in use by pid N).
class OutDirLock {
 public:
  explicit OutDirLock(const std::string& dir);
  ~OutDirLock();
  OutDirLock(const OutDirLock&) = delete;
  OutDirLock& operator=(const OutDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace ditto::tools
