// ditto — CRC32C (Castagnoli), the checkpoint record checksum: SSE4.2 crc32 instructions when
// compiled for them (the default -march=x86-64-v3 build), else a byte-wise table.
#include <cstring>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

#include "io/checkpoint.h"

namespace ditto::io {

namespace {

constexpr std::uint32_t kCrcPoly = 0x82F63B78u;  // Castagnoli, reflected

struct CrcTable {
  std::uint32_t t[256];
  constexpr CrcTable() : t() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kCrcPoly : c >> 1;
      t[i] = c;
    }
  }
};
constexpr CrcTable kCrcTable{};

}  // namespace

std::uint32_t crc32c_portable(const std::uint8_t* data, std::size_t size) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < size; ++i) c = kCrcTable.t[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t crc32c(const std::uint8_t* data, std::size_t size) {
#if defined(__SSE4_2__)
  // The crc32 instruction implements exactly this polynomial (reflected, no final xor).
  std::uint64_t c = 0xFFFFFFFFu;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);  // unaligned-safe load
    c = _mm_crc32_u64(c, w);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; i < size; ++i) c32 = _mm_crc32_u8(c32, data[i]);
  return c32 ^ 0xFFFFFFFFu;
#else
  return crc32c_portable(data, size);
#endif
}


}  // namespace ditto::io
