// ditto — file helpers: whole-file reads and crash-safe (atomic) writes.
#include "io/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace ditto::io {

namespace {

std::string errno_str(int err) { return std::strerror(err); }

/// Closes a descriptor on scope exit unless released.
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

/// The directory holding `path` ("." when it has no slash, "/" for "/x").
std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::atomic<std::uint64_t> g_temp_counter{0};

}  // namespace

std::string atomic_temp_prefix(const std::string& path) { return path + ".tmp."; }

void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  DITTO_CHECK(!path.empty(), "write_file_atomic: empty path");
  DITTO_CHECK(path.back() != '/', "write_file_atomic: '", path, "' names a directory");
  // What is there now decides what may replace it: rename() would turn a device node or a FIFO
  // into a regular file (as root, /dev/null), so only regular files are ever replaced.
  struct stat old {};
  bool exists = false;
  if (::stat(path.c_str(), &old) == 0) {
    exists = true;
    if (S_ISDIR(old.st_mode)) DITTO_FAIL("write_file_atomic: '", path, "' is a directory");
    DITTO_CHECK(S_ISREG(old.st_mode), "write_file_atomic: '", path,
                "' exists and is not a regular file (a device, FIFO or socket); refusing to "
                "replace it");
  }
  // Same directory as the target, so rename() is atomic (same file system). pid + counter make
  // the name unique among concurrent writers in this and other processes.
  const std::string tmp = atomic_temp_prefix(path) + std::to_string(::getpid()) + "." +
                          std::to_string(g_temp_counter.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    DITTO_FAIL("write_file_atomic: cannot create temporary file '", tmp, "' for '", path,
               "': ", errno_str(err));
  }
  // On any failure below: close, remove the temporary, report. The target is untouched.
  auto fail = [&](const char* step, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    DITTO_FAIL("write_file_atomic: ", step, " '", tmp, "' (for '", path, "') failed: ",
               errno_str(err));
  };
  // The replacement keeps the permission bits of the file it replaces (a 0600 checkpoint stays
  // private).
  if (exists && ::fchmod(fd, old.st_mode & 07777) != 0) fail("fchmod of", errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write to", errno);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync of", errno);
  if (::close(fd) != 0) {
    fd = -1;
    fail("close of", errno);
  }
  fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    DITTO_FAIL("write_file_atomic: rename of '", tmp, "' over '", path, "' failed: ",
               errno_str(err));
  }
  // Make the rename itself durable: fsync the directory entry.
  const std::string dir = parent_dir(path);
  FdCloser dfd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dfd.fd < 0) {
    const int err = errno;
    DITTO_FAIL("write_file_atomic: wrote '", path, "' but cannot open its directory '", dir,
               "' to fsync it: ", errno_str(err));
  }
  if (::fsync(dfd.fd) != 0) {
    const int err = errno;
    // Some file systems refuse fsync on directories (EINVAL); the data itself is synced.
    if (err != EINVAL)
      DITTO_FAIL("write_file_atomic: wrote '", path, "' but fsync of directory '", dir,
                 "' failed: ", errno_str(err));
  }
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. The type is
  // checked right after; a regular file ignores the flag.
  FdCloser fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (fd.fd < 0) {
    const int err = errno;
    DITTO_FAIL("cannot open '", path, "': ", errno_str(err));
  }
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) {
    const int err = errno;
    DITTO_FAIL("cannot stat '", path, "': ", errno_str(err));
  }
  if (S_ISDIR(st.st_mode)) DITTO_FAIL("cannot read '", path, "': ", errno_str(EISDIR));
  DITTO_CHECK(S_ISREG(st.st_mode), "cannot read '", path,
              "': not a regular file (a FIFO, device or socket)");
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  std::uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      DITTO_FAIL("cannot read '", path, "': ", errno_str(err));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::vector<std::string> remove_stale_temps(const std::string& dir) {
  std::vector<std::string> removed;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return removed;
  const pid_t self = ::getpid();
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    // "<name>.tmp.<pid>.<n>": find ".tmp." followed by digits, '.', digits to the end.
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0) continue;
    const std::string rest = name.substr(at + 5);
    const auto dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size() || dot > 9) continue;
    const std::string pid_s = rest.substr(0, dot), n_s = rest.substr(dot + 1);
    if (pid_s.find_first_not_of("0123456789") != std::string::npos ||
        n_s.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const long pid = std::stol(pid_s);
    if (pid <= 0 || pid == self) continue;
    // Only a writer that no longer exists: kill(pid, 0) fails with ESRCH.
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(path.c_str()) == 0) removed.push_back(path);
  }
  ::closedir(d);
  return removed;
}

}  // namespace ditto::io
