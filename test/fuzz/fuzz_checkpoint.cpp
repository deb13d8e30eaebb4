// ditto — libFuzzer target for the checkpoint reader (io::parse_checkpoint).
//
// Every input is parsed twice: as given (exercises the header and record-structure checks; a
// random mutation almost always fails a CRC32C there), and after fix_checkpoint_checksums() has
// recomputed every checksum it can locate, so mutated payloads reach the record decoders (tensor
// shapes, counts, strings, optimizer/generator/loader records). Either parse must end in success
// or in ditto::Error; anything else (a crash, a sanitizer report, another exception type) is a bug.
//
// test/test_checkpoint.cpp includes this file with DITTO_FUZZ_NO_ENTRY defined to run the same
// logic as a normal test.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "io/checkpoint.h"

namespace ditto_fuzz {

/// Recomputes the header checksum and, walking the records by their stored lengths while they
/// stay in bounds, every record-header and payload checksum (layout: docs/checkpoint-format.md).
/// Never reads outside `b`; leaves the rest alone.
inline std::vector<std::uint8_t> fix_checkpoint_checksums(std::vector<std::uint8_t> b) {
  auto put32 = [&](std::size_t at, std::uint32_t v) { std::memcpy(b.data() + at, &v, 4); };
  if (b.size() < 64) return b;
  std::size_t pos = 64;
  while (b.size() - pos >= 24) {
    std::uint32_t name_len;
    std::uint64_t payload_len;
    std::memcpy(&name_len, b.data() + pos + 4, 4);
    std::memcpy(&payload_len, b.data() + pos + 8, 8);
    const std::size_t rest = b.size() - pos - 24;
    if (name_len > rest) break;
    const std::size_t head = 24 + name_len;
    const std::size_t payload_at = pos + head + ((8 - (head & 7)) & 7);
    if (payload_at > b.size() || payload_len > b.size() - payload_at) break;
    put32(pos + 16, ditto::io::crc32c(b.data() + payload_at, static_cast<std::size_t>(payload_len)));
    std::vector<std::uint8_t> covered(b.begin() + static_cast<std::ptrdiff_t>(pos),
                                      b.begin() + static_cast<std::ptrdiff_t>(pos + 20));
    covered.insert(covered.end(), b.begin() + static_cast<std::ptrdiff_t>(pos + 24),
                   b.begin() + static_cast<std::ptrdiff_t>(pos + 24 + name_len));
    put32(pos + 20, ditto::io::crc32c(covered.data(), covered.size()));
    const std::size_t end = payload_at + static_cast<std::size_t>(payload_len);
    pos = end + ((8 - (end & 7)) & 7);
    if (pos > b.size()) break;
  }
  put32(60, ditto::io::crc32c(b.data(), 60));
  return b;
}

/// Parses `data` as given and with its checksums fixed up. Returns how many parses succeeded
/// (0..2). ditto::Error is the only exception allowed out of the parser.
inline int fuzz_checkpoint_one(const std::uint8_t* data, std::size_t size) {
  int ok = 0;
  try {
    (void)ditto::io::parse_checkpoint(data, size);
    ++ok;
  } catch (const ditto::Error&) {
  }
  try {
    const std::vector<std::uint8_t> fixed =
        fix_checkpoint_checksums(std::vector<std::uint8_t>(data, data + size));
    (void)ditto::io::parse_checkpoint(fixed.data(), fixed.size());
    ++ok;
  } catch (const ditto::Error&) {
  }
  return ok;
}

}  // namespace ditto_fuzz

#ifndef DITTO_FUZZ_NO_ENTRY
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)ditto_fuzz::fuzz_checkpoint_one(data, size);
  return 0;
}
#endif
