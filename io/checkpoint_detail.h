// ditto — internals shared by the checkpoint format sources (io/checkpoint_format.cpp: write,
// walk, decode; io/checkpoint_inspect.cpp: load, list_records). Not installed API.
// Layout reference: docs/checkpoint-format.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "io/checkpoint.h"

namespace ditto::io::detail {

constexpr char kMagic[8] = {'D', 'I', 'T', 'T', 'O', 'C', 'K', 'P'};
constexpr std::size_t kHeaderSize = 64;        // file header
constexpr std::size_t kRecordHeaderSize = 24;  // fixed part of a record header
constexpr std::uint32_t kMaxNameLength = 65536;
constexpr std::uint32_t kMaxRank = 8;  // = kernels::kMaxDims: ditto tensors have at most 8 dims
/// prod(max(dim, 1)) of a stored tensor, bounded so no stride or size computation can overflow.
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 50;

/// The reader's limits on a tensor's shape (rank <= kMaxRank, dims >= 0, prod(max(dim, 1)) <=
/// kMaxElements), checked by the writer too so ditto never writes a file it would refuse.
/// Throws "<where>: ..." naming the shape.
void check_tensor_shape(const Shape& shape, const std::string& where);

/// Record types, in the order they must appear (non-decreasing; only tensor and
/// optimizer_tensor repeat).
enum class RecordType : std::uint32_t {
  meta = 1,
  tensor = 2,
  training = 3,
  optimizer = 4,
  optimizer_tensor = 5,
  generators = 6,
  loader = 7,
  metadata = 8,
  end = 15,
};

/// "meta", "tensor", ...; nullptr for an unknown type.
const char* type_name(std::uint32_t t);
/// A string for error messages: printable ASCII kept, other bytes as \xNN, cut at 120 chars.
std::string printable(std::string_view s);
/// "0x1234abcd".
std::string hex32(std::uint32_t v);
/// Zero bytes needed after n bytes to reach a multiple of 8.
inline std::size_t pad8(std::size_t n) { return (8 - (n & 7)) & 7; }

/// One record as located by the structural walk (before its payload is decoded).
struct RecordView {
  std::uint64_t index = 0;
  std::uint32_t type = 0;
  std::string name;
  std::uint64_t offset = 0;  // of the record header in the file
  const std::uint8_t* payload = nullptr;
  std::size_t payload_size = 0;
  std::uint32_t stored_crc = 0, computed_crc = 0;
  std::string where;  // "checkpoint: record 7 'fc.weight'"
};

/// What decode_record accumulates across records.
struct DecodeState {
  Checkpoint ck;
  std::uint32_t last_type = 0;    // for the order check
  std::set<std::string> names;    // model tensor names seen
  std::uint64_t stored_fp = 0;    // fingerprint from the meta record
};

/// Checks the file header, then walks every record: bounds, record-header checksum, padding,
/// the end record's trailer (all errors throw, prefixed by `what`). With strict_payload the
/// payload checksum must match too; otherwise `fn` sees stored_crc / computed_crc.
void walk_records(const std::uint8_t* d, std::size_t size, const std::string& what,
                  bool strict_payload, const std::function<void(const RecordView&)>& fn);
/// Decodes one record's payload into st.ck (record order, names, payload layout checked).
void decode_record(const RecordView& r, DecodeState& st);
/// parse_checkpoint with `what` ("checkpoint" or "checkpoint '<path>'") as the error prefix.
Checkpoint parse_impl(const std::uint8_t* d, std::size_t size, const std::string& what);

}  // namespace ditto::io::detail
