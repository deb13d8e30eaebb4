// libFuzzer target for the IDX reader: ditto::data::parse_idx on arbitrary bytes must either
// return a u8 tensor whose size matches the input exactly or throw ditto::Error — never crash,
// over-read or leak (run under ASan/UBSan/LeakSanitizer).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/error.h"
#include "nn/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const ditto::Tensor t = ditto::data::parse_idx(data, size, "fuzz input");
    // A successful parse accounts for every byte: header (4 + 4 * ndims) + payload.
    const std::size_t header = 4 + 4 * std::size_t(t.dim());
    if (header + std::size_t(t.numel()) != size) __builtin_trap();
    // The payload must be copied verbatim.
    if (t.numel() > 0 &&
        std::memcmp(t.data_ptr<std::uint8_t>(), data + header, std::size_t(t.numel())) != 0)
      __builtin_trap();
  } catch (const ditto::Error&) {
    // Rejected input: the expected outcome for almost every random buffer.
  }
  return 0;
}
