// libFuzzer target: io::parse_safetensors on arbitrary bytes. Any input must either load or raise
// ditto::Error — never crash, leak, overflow or read out of bounds (ASan + UBSan watch). What does
// load must survive a round trip: serialise it and parse again -> the same tensors (bits) and
// metadata; anything else is a bug and aborts so libFuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "io/safetensors.h"

namespace {

bool same_bits(const ditto::Tensor& a, const ditto::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape() || !a.is_contiguous() ||
      !b.is_contiguous() || !a.device().is_cpu() || !b.device().is_cpu())
    return false;
  const std::size_t n = static_cast<std::size_t>(a.numel()) * ditto::dtype_size(a.dtype());
  return n == 0 || std::memcmp(a.raw_data(), b.raw_data(), n) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::string> meta;
  std::map<std::string, ditto::Tensor> tensors;
  try {
    tensors = ditto::io::parse_safetensors(data, size, &meta);
  } catch (const ditto::Error&) {
    return 0;  // rejected with a message: the expected outcome for almost every input
  }
  // Accepted: the writer must take it back, and the reader must read the writer's bytes.
  std::map<std::string, std::string> meta2;
  std::map<std::string, ditto::Tensor> again;
  try {
    const std::vector<std::uint8_t> bytes = ditto::io::serialize_safetensors(tensors, meta);
    again = ditto::io::parse_safetensors(bytes.data(), bytes.size(), &meta2);
  } catch (const ditto::Error&) {
    std::abort();  // a file ditto accepted but cannot round-trip
  }
  if (meta2 != meta || again.size() != tensors.size()) std::abort();
  for (const auto& [name, t] : tensors) {
    const auto it = again.find(name);
    if (it == again.end() || !same_bits(t, it->second)) std::abort();
  }
  return 0;
}
