// ditto — file helpers: whole-file reads and crash-safe (atomic) writes.
#include "io/file_util.h"

#include <fcntl.h>
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
  FdCloser fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
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
  DITTO_CHECK(S_ISREG(st.st_mode), "cannot read '", path, "': not a regular file");
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

}  // namespace ditto::io
