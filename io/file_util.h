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
/// A crash (SIGKILL, power loss after the directory fsync) leaves either the old or the new file;
/// a crash before the rename may leave the temporary behind.
void write_file_atomic(const std::string& path, const std::vector<std::uint8_t>& bytes);

/// Reads a whole regular file. Errors (missing file, directory, unreadable) name the path and
/// strerror.
std::vector<std::uint8_t> read_file(const std::string& path);

/// The temporary-file name write_file_atomic uses for `path` in this process (for tests and
/// tools that clean up leftovers): "<path>.tmp.<pid>.<n>" — this returns the prefix "<path>.tmp.".
std::string atomic_temp_prefix(const std::string& path);

}  // namespace ditto::io
