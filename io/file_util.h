// ditto — small file helpers shared by the io/ readers and writers (checkpoints, safetensors).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ditto::io {

/// Writes `bytes` to `path` atomically: a temporary file in the same directory
/// (named "<basename>.tmp.<pid>.<counter>", see docs/checkpoint-format.md), all bytes written,
/// fsync, rename over the target, fsync of the directory. On any error the temporary is removed
/// and ditto::Error names the path and strerror; the target then still holds its old content.
/// A target that exists must be a regular file (a device, FIFO, socket or directory is refused,
/// never replaced); the new file keeps an existing target's permission bits (a new one gets
/// 0644 minus the umask). A crash (SIGKILL, power loss after the directory fsync) leaves either
/// the old or the new file; a crash before the rename may leave the temporary behind (see
/// remove_stale_temps).
void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes);

/// Reads a whole regular file. Errors (missing file, directory, FIFO or device, unreadable) name
/// the path and strerror. Never blocks on a FIFO: the file type is checked on a non-blocking
/// descriptor before anything is read.
std::vector<std::uint8_t> read_file(const std::string& path);

/// True when both paths name the same existing file (same device and inode: also through
/// symlinks, hard links or different spellings). False when either does not exist.
bool same_file(const std::string& a, const std::string& b);

/// Removes the temporaries write_file_atomic left in `dir` when its process was killed: files
/// named "<name>.tmp.<pid>.<n>" whose pid is not a running process. Returns the removed paths.
/// Temporaries of live processes (a writer still running) are left alone.
std::vector<std::string> remove_stale_temps(const std::string& dir);

/// The temporary-file name write_file_atomic uses for `path` in this process (for tests and
/// tools that clean up leftovers): "<path>.tmp.<pid>.<n>" — this returns the prefix "<path>.tmp.".
std::string atomic_temp_prefix(const std::string& path);

}  // namespace ditto::io
