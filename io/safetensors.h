// ditto — safetensors import/export (the format of the Hugging Face `safetensors` library).
//
// File layout: an 8-byte little-endian u64 header length N, then N bytes of UTF-8 JSON
//   {"__metadata__": {"k": "v", ...},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// (padded with spaces to a multiple of 8 bytes), then the data buffer. Offsets are relative to the
// start of the data buffer; tensor data is row-major (C order), little-endian.
// Tensor names are the map keys as given: PyTorch state_dict names ("fc.weight") round-trip as is.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ditto::io {

/// Writes tensors (f32, f64, i64, u8 -> "F32","F64","I64","U8"), keys sorted, data contiguous
/// little-endian, optional __metadata__ (string -> string). Atomic write like checkpoints
/// (temporary file in the same directory, fsync, rename, fsync the directory).
/// Tensors may live on any device and have any strides: they are copied to cpu and packed.
/// Throws ditto::Error for an undefined tensor, the name "__metadata__", or a name/metadata string
/// that is not valid UTF-8.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// Reads a safetensors file (validated exactly as parse_safetensors). Tensors come back on cpu,
/// contiguous, with requires_grad off. When `metadata` is non-null it receives __metadata__
/// (cleared first; empty when the file has none).
std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata = nullptr);

/// From memory (the fuzzer drives this). Strict: header length bounds, JSON syntax, known dtypes
/// only (F32, F64, I64, U8; also BF16/F16/I32... rejected with a clear "unsupported dtype"),
/// shape * itemsize == offsets span, offsets in range, no overlaps, no gaps, no trailing junk.
/// Every failure is a ditto::Error naming the problem (and the tensor when there is one); no
/// input makes it crash or read outside [data, data + size).
std::map<std::string, Tensor> parse_safetensors(const std::uint8_t* data, std::size_t size,
                                                std::map<std::string, std::string>* metadata = nullptr);

/// The bytes save_safetensors writes: header JSON with keys sorted, no whitespace except the
/// space padding to a multiple of 8 bytes, tensors laid out back to back in key order.
std::vector<std::uint8_t> serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                                const std::map<std::string, std::string>& metadata = {});

}  // namespace ditto::io
