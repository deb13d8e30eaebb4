// ditto — the checkpoint file format (docs/checkpoint-format.md): CRC32C, serialization, the
// strict parser and list_records. Every length and count read from the file is checked against
// the bytes that remain before it is used (no pointer arithmetic can leave the buffer, no
// allocation is sized by an unchecked number), so malformed input of any kind ends in a
// ditto::Error that names the record and what was expected.
#include <bit>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/info.h"
#include "io/checkpoint.h"
#include "io/checkpoint_detail.h"

static_assert(std::endian::native == std::endian::little,
              "checkpoint: the format is little-endian and the reader copies raw bytes");

namespace ditto::io {

// ---- format constants ------------------------------------------------------------------------

namespace detail {

const char* type_name(std::uint32_t t) {
  switch (static_cast<RecordType>(t)) {
    case RecordType::meta: return "meta";
    case RecordType::tensor: return "tensor";
    case RecordType::training: return "training";
    case RecordType::optimizer: return "optimizer";
    case RecordType::optimizer_tensor: return "optimizer_tensor";
    case RecordType::generators: return "generators";
    case RecordType::loader: return "loader";
    case RecordType::metadata: return "metadata";
    case RecordType::end: return "end";
  }
  return nullptr;
}

std::uint32_t dtype_code(DType t) {
  switch (t) {
    case DType::f32: return 1;
    case DType::f64: return 2;
    case DType::i64: return 3;
    case DType::u8: return 4;
  }
  return 0;
}

/// A name for error messages: printable ASCII kept, everything else as \xNN, long names cut.
std::string printable(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 120; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\'') {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > 120) out += "...";
  return out;
}

std::string hex32(std::uint32_t v) {
  std::ostringstream os;
  os << "0x" << std::hex;
  os.width(8);
  os.fill('0');
  os << v;
  return os.str();
}

// ---- writer ----------------------------------------------------------------------------------

class Writer {
 public:
  std::vector<std::uint8_t> buf;

  void raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    buf.insert(buf.end(), b, b + n);
  }
  template <typename T>
  void put(T v) {
    raw(&v, sizeof v);
  }
  void str(const std::string& s) {
    DITTO_CHECK(s.size() <= 0xFFFFFFFFu, "checkpoint: string of ", s.size(), " bytes too long");
    put<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
};

/// Appends one record (header, name, padding, payload, padding) to `out`.
void append_record(std::vector<std::uint8_t>& out, RecordType type, const std::string& name,
                   const std::vector<std::uint8_t>& payload) {
  DITTO_CHECK(name.size() <= kMaxNameLength, "checkpoint: record name '", printable(name),
              "' is ", name.size(), " bytes, the limit is ", kMaxNameLength);
  Writer h;
  h.put<std::uint32_t>(static_cast<std::uint32_t>(type));
  h.put<std::uint32_t>(static_cast<std::uint32_t>(name.size()));
  h.put<std::uint64_t>(payload.size());
  h.put<std::uint32_t>(crc32c(payload.data(), payload.size()));
  h.raw(name.data(), name.size());
  const std::uint32_t hcrc = crc32c(h.buf.data(), h.buf.size());
  const std::size_t start = out.size();
  out.insert(out.end(), h.buf.begin(), h.buf.begin() + 20);
  const auto* hp = reinterpret_cast<const std::uint8_t*>(&hcrc);
  out.insert(out.end(), hp, hp + 4);
  out.insert(out.end(), name.begin(), name.end());
  out.resize(out.size() + pad8(out.size() - start), 0);
  out.insert(out.end(), payload.begin(), payload.end());
  out.resize(out.size() + pad8(out.size()), 0);
}

void check_tensor_shape(const Shape& shape, const std::string& where) {
  if (shape.size() > kMaxRank)
    DITTO_FAIL(where, ": rank ", shape.size(), " exceeds the limit ", kMaxRank);
  std::uint64_t prod = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] < 0) DITTO_FAIL(where, ": dimension ", k, " is negative (", shape[k], ")");
    const std::uint64_t m = shape[k] == 0 ? 1 : static_cast<std::uint64_t>(shape[k]);
    if (prod > kMaxElements / m)
      DITTO_FAIL(where, ": shape ", shape_str(shape), " has more than 2^50 elements");
    prod *= m;
  }
}

std::vector<std::uint8_t> tensor_payload(const Tensor& t, const std::string& name) {
  DITTO_CHECK(t.defined(), "checkpoint: tensor '", printable(name), "' is undefined");
  check_tensor_shape(t.shape(), "checkpoint: tensor '" + printable(name) + "'");
  Tensor c = t.detach().to(Device::cpu()).contiguous();
  Writer w;
  w.put<std::uint32_t>(dtype_code(c.dtype()));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.dim()));
  for (std::int64_t d : c.shape()) w.put<std::int64_t>(d);
  const std::size_t bytes = static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype());
  if (bytes > 0) w.raw(c.raw_data(), bytes);
  return std::move(w.buf);
}

}  // namespace detail

std::vector<std::uint8_t> serialize_checkpoint(const Checkpoint& ck) {
  using namespace detail;
  // Records in the canonical order (types non-decreasing); maps are already sorted by key.
  std::vector<std::uint8_t> recs;
  std::uint64_t count = 0;
  auto add = [&](RecordType type, const std::string& name, const std::vector<std::uint8_t>& p) {
    append_record(recs, type, name, p);
    ++count;
  };
  DITTO_CHECK(ck.global_step <= kMaxStep, "checkpoint: global step ", ck.global_step,
              " exceeds the limit 2^53");
  if (ck.optimizer)
    for (std::size_t i = 0; i < ck.optimizer->step.size(); ++i)
      DITTO_CHECK(ck.optimizer->step[i] >= 0 &&
                      static_cast<std::uint64_t>(ck.optimizer->step[i]) <= kMaxStep,
                  "checkpoint: optimizer step[", i, "] = ", ck.optimizer->step[i],
                  " is outside [0, 2^53]");
  {
    Writer w;
    w.put<std::uint32_t>(ck.mode == Mode::Fast ? 1u : 0u);
    w.put<std::uint64_t>(ck.global_step);
    w.put<std::uint64_t>(fingerprint(ck.model));
    w.str(std::string(version()));
    add(RecordType::meta, "meta", w.buf);
  }
  std::set<std::string> seen;
  for (const auto& [name, t] : ck.model) {
    DITTO_CHECK(!name.empty(), "checkpoint: model tensor with an empty name");
    DITTO_CHECK(seen.insert(name).second, "checkpoint: model tensor '", printable(name),
                "' appears twice");
    add(RecordType::tensor, name, tensor_payload(t, name));
  }
  if (!ck.training.empty()) {
    Writer w;
    w.put<std::uint64_t>(ck.training.size());
    for (const auto& [path, on] : ck.training) {
      w.str(path);
      w.put<std::uint8_t>(on ? 1 : 0);
    }
    add(RecordType::training, "training", w.buf);
  }
  if (ck.optimizer) {
    const OptimizerRecord& o = *ck.optimizer;
    DITTO_CHECK(o.kind == "sgd" || o.kind == "adam" || o.kind == "adamw",
                "checkpoint: optimizer kind '", printable(o.kind),
                "' is not one of sgd, adam, adamw");
    Writer w;
    w.put<std::uint64_t>(o.hyper.size());
    for (const auto& [k, v] : o.hyper) {
      w.str(k);
      w.put<double>(v);
    }
    w.put<std::uint64_t>(o.step.size());
    for (std::int64_t s : o.step) w.put<std::int64_t>(s);
    add(RecordType::optimizer, o.kind, w.buf);
    for (const auto& [name, t] : o.tensors) {
      DITTO_CHECK(!name.empty(), "checkpoint: optimizer tensor with an empty name");
      add(RecordType::optimizer_tensor, name, tensor_payload(t, name));
    }
  }
  if (!ck.generators.empty()) {
    Writer w;
    w.put<std::uint64_t>(ck.generators.size());
    std::set<std::string> names;
    for (const GeneratorRecord& g : ck.generators) {
      DITTO_CHECK(names.insert(g.name).second, "checkpoint: generator '", printable(g.name),
                  "' appears twice");
      w.str(g.name);
      w.put<std::uint64_t>(g.seed);
      w.put<std::uint64_t>(g.offset);
    }
    add(RecordType::generators, "generators", w.buf);
  }
  if (ck.loader) {
    Writer w;
    w.put<std::uint64_t>(ck.loader->epoch);
    w.put<std::uint64_t>(ck.loader->position);
    w.put<std::uint64_t>(ck.loader->seed);
    add(RecordType::loader, "loader", w.buf);
  }
  if (!ck.metadata.empty()) {
    Writer w;
    w.put<std::uint64_t>(ck.metadata.size());
    for (const auto& [k, v] : ck.metadata) {
      w.str(k);
      w.str(v);
    }
    add(RecordType::metadata, "metadata", w.buf);
  }
  {
    Writer w;
    w.put<std::uint64_t>(count + 1);
    w.put<std::uint64_t>(kHeaderSize + recs.size());  // the end record's own offset
    add(RecordType::end, "end", w.buf);
  }
  Writer h;
  h.raw(kMagic, 8);
  h.put<std::uint32_t>(kCheckpointFormatVersion);
  h.put<std::uint32_t>(0);  // flags
  h.put<std::uint64_t>(count);
  h.put<std::uint64_t>(kHeaderSize + recs.size());
  h.put<std::uint32_t>(static_cast<std::uint32_t>(kHeaderSize));
  h.buf.resize(60, 0);  // reserved
  h.put<std::uint32_t>(crc32c(h.buf.data(), 60));
  h.raw(recs.data(), recs.size());
  return std::move(h.buf);
}

// ---- reader ----------------------------------------------------------------------------------

namespace detail {

/// Bounds-checked little-endian reads from [p, p + n); `where` prefixes every error.
class Cursor {
 public:
  Cursor(const std::uint8_t* p, std::size_t n, std::string where)
      : p_(p), n_(n), where_(std::move(where)) {}

  std::size_t remaining() const { return n_ - pos_; }
  std::size_t pos() const { return pos_; }
  const std::string& where() const { return where_; }

  void need(std::size_t k, const char* what) const {
    if (k > remaining())
      DITTO_FAIL(where_, ": ", what, " needs ", k, " bytes, only ", remaining(), " remain");
  }
  const std::uint8_t* take(std::size_t k, const char* what) {
    need(k, what);
    const std::uint8_t* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  template <typename T>
  T get(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof v, what), sizeof v);
    return v;
  }
  std::string str(const char* what) {
    const auto len = get<std::uint32_t>(what);
    const std::uint8_t* q = take(len, what);
    return std::string(reinterpret_cast<const char*>(q), len);
  }
  /// A count of entries of at least `min_entry` bytes each: refused if they cannot fit.
  std::uint64_t count(const char* what, std::size_t min_entry) {
    const auto c = get<std::uint64_t>(what);
    if (c > remaining() / min_entry)
      DITTO_FAIL(where_, ": ", what, " is ", c, " but only ", remaining(),
                 " bytes remain (at least ", min_entry, " per entry)");
    return c;
  }
  void expect_end() const {
    if (remaining() != 0)
      DITTO_FAIL(where_, ": ", remaining(), " unexpected trailing bytes in the payload");
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
  std::string where_;
};

struct HeaderInfo {
  std::uint32_t version = 0;
  std::uint64_t record_count = 0;
};

HeaderInfo check_header(const std::uint8_t* d, std::size_t size, const std::string& what) {
  if (size == 0) DITTO_FAIL(what, ": empty file (0 bytes), not a ditto checkpoint");
  if (size < 8 || std::memcmp(d, kMagic, 8) != 0) {
    std::ostringstream os;
    for (std::size_t i = 0; i < size && i < 8; ++i) {
      static const char* hex = "0123456789abcdef";
      os << (i ? " " : "") << hex[d[i] >> 4] << hex[d[i] & 15];
    }
    DITTO_FAIL(what, ": not a ditto checkpoint (magic ", os.str(), " = '",
               printable(std::string_view(reinterpret_cast<const char*>(d), size < 8 ? size : 8)),
               "', expected 'DITTOCKP'", size < 8 ? ", file too short" : "", ")");
  }
  if (size < 12)
    DITTO_FAIL(what, ": truncated: ", size, " bytes, the header alone is ", kHeaderSize);
  std::uint32_t version;
  std::memcpy(&version, d + 8, 4);
  if (version == 0) DITTO_FAIL(what, ": format version 0 is invalid");
  if (version > kCheckpointFormatVersion)
    DITTO_FAIL(what, ": format version ", version, " is newer than this ditto supports (",
               kCheckpointFormatVersion, ")");
  if (size < kHeaderSize)
    DITTO_FAIL(what, ": truncated: ", size, " bytes, the header alone is ", kHeaderSize);
  Cursor c(d, kHeaderSize, what + ": header");
  c.take(12, "magic and version");
  const auto flags = c.get<std::uint32_t>("flags");
  const auto record_count = c.get<std::uint64_t>("record count");
  const auto file_size = c.get<std::uint64_t>("file size");
  const auto header_size = c.get<std::uint32_t>("header size");
  std::uint32_t stored;
  std::memcpy(&stored, d + 60, 4);
  const std::uint32_t computed = crc32c(d, 60);
  if (stored != computed)
    DITTO_FAIL(what, ": header checksum mismatch (stored ", hex32(stored), ", computed ",
               hex32(computed), ")");
  if (file_size > size)
    DITTO_FAIL(what, ": truncated: header says ", file_size, " bytes, file has ", size);
  if (file_size < size)
    DITTO_FAIL(what, ": ", size - file_size, " trailing bytes: header says ", file_size,
               " bytes, file has ", size);
  if (flags != 0) DITTO_FAIL(what, ": unknown header flags ", hex32(flags), " (version 1 has none)");
  if (header_size != kHeaderSize)
    DITTO_FAIL(what, ": header size is ", header_size, ", version 1 uses ", kHeaderSize);
  for (std::size_t i = 36; i < 60; ++i)
    if (d[i] != 0) DITTO_FAIL(what, ": reserved header byte ", i, " is not zero");
  const std::uint64_t max_records = (size - kHeaderSize) / kRecordHeaderSize;
  if (record_count < 2 || record_count > max_records)
    DITTO_FAIL(what, ": header claims ", record_count, " records; a file of ", size,
               " bytes holds between 2 and ", max_records);
  return {version, record_count};
}

/// Walks every record. For each one the record header checksum, the bounds and the padding are
/// verified (errors throw), then `fn` is called; with strict_payload the payload checksum is
/// verified too, else the caller looks at stored_crc / computed_crc.
void walk_records(const std::uint8_t* d, std::size_t size, const std::string& what,
                  bool strict_payload, const std::function<void(const RecordView&)>& fn) {
  const HeaderInfo h = check_header(d, size, what);
  Cursor c(d, size, what);
  c.take(kHeaderSize, "header");
  for (std::uint64_t i = 0; i < h.record_count; ++i) {
    RecordView r;
    r.index = i;
    r.offset = c.pos();
    const std::string at = what + ": record " + std::to_string(i);
    if (c.remaining() < kRecordHeaderSize)
      DITTO_FAIL(at, " (at byte ", c.pos(), "): record header needs ", kRecordHeaderSize,
                 " bytes, only ", c.remaining(), " remain");
    const std::uint8_t* hdr = d + c.pos();
    c.take(kRecordHeaderSize, "record header");
    std::uint32_t name_len, hcrc;
    std::uint64_t payload_len;
    std::memcpy(&r.type, hdr, 4);
    std::memcpy(&name_len, hdr + 4, 4);
    std::memcpy(&payload_len, hdr + 8, 8);
    std::memcpy(&r.stored_crc, hdr + 16, 4);
    std::memcpy(&hcrc, hdr + 20, 4);
    if (name_len > kMaxNameLength || name_len > c.remaining())
      DITTO_FAIL(at, " (at byte ", r.offset, "): name length ", name_len, " exceeds ",
                 name_len > kMaxNameLength ? "the limit" : "the remaining bytes", " (",
                 name_len > kMaxNameLength ? std::size_t{kMaxNameLength} : c.remaining(), ")");
    const std::uint8_t* name = c.take(name_len, "name");
    // Header checksum covers the 20 fixed bytes and the name.
    std::vector<std::uint8_t> covered(hdr, hdr + 20);
    covered.insert(covered.end(), name, name + name_len);
    const std::uint32_t computed = crc32c(covered.data(), covered.size());
    if (computed != hcrc)
      DITTO_FAIL(at, " (at byte ", r.offset, "): record header checksum mismatch (stored ",
                 hex32(hcrc), ", computed ", hex32(computed), ")");
    r.name.assign(reinterpret_cast<const char*>(name), name_len);
    r.where = at + " '" + printable(r.name) + "'";
    if (type_name(r.type) == nullptr) DITTO_FAIL(r.where, ": unknown record type ", r.type);
    const std::size_t pad1 = pad8(kRecordHeaderSize + name_len);
    const std::uint8_t* pad = c.take(pad1, "name padding");
    for (std::size_t k = 0; k < pad1; ++k)
      if (pad[k] != 0) DITTO_FAIL(r.where, ": padding byte after the name is not zero");
    if (payload_len > c.remaining())
      DITTO_FAIL(r.where, ": payload of ", payload_len, " bytes, only ", c.remaining(),
                 " remain in the file");
    r.payload_size = static_cast<std::size_t>(payload_len);
    r.payload = c.take(r.payload_size, "payload");
    r.computed_crc = crc32c(r.payload, r.payload_size);
    if (strict_payload && r.computed_crc != r.stored_crc)
      DITTO_FAIL(r.where, ": checksum mismatch (stored ", hex32(r.stored_crc), ", computed ",
                 hex32(r.computed_crc), ")");
    const std::size_t pad2 = pad8(c.pos());
    if (pad2 > c.remaining())
      DITTO_FAIL(r.where, ": payload padding needs ", pad2, " bytes, only ", c.remaining(),
                 " remain");
    pad = c.take(pad2, "payload padding");
    for (std::size_t k = 0; k < pad2; ++k)
      if (pad[k] != 0) DITTO_FAIL(r.where, ": padding byte after the payload is not zero");
    const bool last = i + 1 == h.record_count;
    const bool is_end = static_cast<RecordType>(r.type) == RecordType::end;
    if (last && !is_end)
      DITTO_FAIL(r.where, ": the last record (header claims ", h.record_count,
                 ") must be 'end', found type ", type_name(r.type));
    if (!last && is_end)
      DITTO_FAIL(r.where, ": 'end' record before the last record (header claims ",
                 h.record_count, " records)");
    if (static_cast<RecordType>(r.type) == RecordType::end) {
      Cursor e(r.payload, r.payload_size, r.where);
      const auto n = e.get<std::uint64_t>("record count");
      const auto off = e.get<std::uint64_t>("end offset");
      e.expect_end();
      if (n != h.record_count || off != r.offset)
        DITTO_FAIL(r.where, ": trailer says ", n, " records with the end at byte ", off,
                   ", found ", h.record_count, " records with the end at byte ", r.offset);
    }
    fn(r);
  }
  if (c.remaining() != 0)
    DITTO_FAIL(what, ": ", c.remaining(), " bytes after the end record");
}

Tensor decode_tensor(Cursor& c) {
  const auto code = c.get<std::uint32_t>("dtype");
  DType dt;
  switch (code) {
    case 1: dt = DType::f32; break;
    case 2: dt = DType::f64; break;
    case 3: dt = DType::i64; break;
    case 4: dt = DType::u8; break;
    default: DITTO_FAIL(c.where(), ": unknown dtype code ", code, " (1 f32, 2 f64, 3 i64, 4 u8)");
  }
  const auto rank = c.get<std::uint32_t>("rank");
  if (rank > kMaxRank) DITTO_FAIL(c.where(), ": rank ", rank, " exceeds the limit ", kMaxRank);
  c.need(std::size_t{rank} * 8, "shape");
  Shape shape(rank);
  for (std::uint32_t k = 0; k < rank; ++k) shape[k] = c.get<std::int64_t>("dim");
  check_tensor_shape(shape, c.where());
  std::uint64_t prod = 1;  // cannot overflow: bounded by kMaxElements
  bool zero = false;
  for (std::int64_t d : shape) {
    zero = zero || d == 0;
    prod *= d == 0 ? 1 : static_cast<std::uint64_t>(d);
  }
  const std::uint64_t bytes = zero ? 0 : prod * dtype_size(dt);
  if (bytes != c.remaining())
    DITTO_FAIL(c.where(), ": ", dtype_name(dt), " ", shape_str(shape), " needs ", bytes,
               " data bytes, the payload has ", c.remaining());
  Tensor t = empty(shape, dt, Device::cpu());
  const std::uint8_t* src = c.take(static_cast<std::size_t>(bytes), "tensor data");
  if (bytes > 0) std::memcpy(t.raw_data(), src, static_cast<std::size_t>(bytes));
  return t;
}

/// Checks that map keys arrive strictly increasing (the canonical order; rejects duplicates).
void check_key_order(const std::string& prev, const std::string& key, std::uint64_t i,
                     const std::string& where, const char* what) {
  if (i > 0 && !(prev < key))
    DITTO_FAIL(where, ": ", what, " '", printable(key), "' is out of order or repeated (after '",
               printable(prev), "')");
}

/// Parses "prefix<i>" with i a decimal without leading zeros; -1 if it does not match.
std::int64_t indexed_name(const std::string& name, std::string_view prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  std::string_view digits(name.data() + prefix.size(), name.size() - prefix.size());
  if (digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return -1;
  std::int64_t v = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return -1;
    v = v * 10 + (ch - '0');
  }
  return v;
}

/// Decodes one record's payload into `ck`; `order` tracks the canonical record order.
void decode_record(const RecordView& r, DecodeState& st) {
  Checkpoint& ck = st.ck;
  std::uint32_t& last_type = st.last_type;
  const auto type = static_cast<RecordType>(r.type);
  if (r.index == 0 && type != RecordType::meta)
    DITTO_FAIL(r.where, ": the first record must be 'meta', found type ", type_name(r.type));
  if (r.index > 0 && type == RecordType::meta)
    DITTO_FAIL(r.where, ": 'meta' record repeated");
  if (r.type < last_type || (r.type == last_type && type != RecordType::tensor &&
                             type != RecordType::optimizer_tensor))
    DITTO_FAIL(r.where, ": record type ", type_name(r.type), " out of order (after ",
               type_name(last_type), ")");
  last_type = r.type;
  auto expect_name = [&](const char* n) {
    if (r.name != n)
      DITTO_FAIL(r.where, ": a ", type_name(r.type), " record must be named '", n, "'");
  };
  Cursor c(r.payload, r.payload_size, r.where);
  switch (type) {
    case RecordType::meta: {
      expect_name("meta");
      const auto mode = c.get<std::uint32_t>("mode");
      if (mode > 1) DITTO_FAIL(r.where, ": mode ", mode, " is not 0 (deterministic) or 1 (fast)");
      ck.mode = mode == 1 ? Mode::Fast : Mode::Deterministic;
      ck.global_step = c.get<std::uint64_t>("global step");
      if (ck.global_step > kMaxStep)
        DITTO_FAIL(r.where, ": global step ", ck.global_step, " exceeds the limit 2^53");
      st.stored_fp = c.get<std::uint64_t>("fingerprint");
      ck.ditto_version = c.str("ditto version");
      break;
    }
    case RecordType::tensor: {
      if (r.name.empty()) DITTO_FAIL(r.where, ": model tensor with an empty name");
      if (!st.names.insert(r.name).second) DITTO_FAIL(r.where, ": model tensor name repeated");
      ck.model.emplace_back(r.name, decode_tensor(c));
      break;
    }
    case RecordType::training: {
      expect_name("training");
      const std::uint64_t n = c.count("module count", 5);
      std::string prev;
      for (std::uint64_t i = 0; i < n; ++i) {
        std::string path = c.str("module path");
        check_key_order(prev, path, i, r.where, "module path");
        const auto flag = c.get<std::uint8_t>("training flag");
        if (flag > 1) DITTO_FAIL(r.where, ": training flag of '", printable(path), "' is ", int(flag));
        ck.training.emplace(path, flag == 1);
        prev = std::move(path);
      }
      break;
    }
    case RecordType::optimizer: {
      if (r.name != "sgd" && r.name != "adam" && r.name != "adamw")
        DITTO_FAIL(r.where, ": optimizer kind must be sgd, adam or adamw");
      OptimizerRecord o;
      o.kind = r.name;
      const std::uint64_t nh = c.count("hyper-parameter count", 12);
      std::string prev;
      for (std::uint64_t i = 0; i < nh; ++i) {
        std::string k = c.str("hyper-parameter name");
        check_key_order(prev, k, i, r.where, "hyper-parameter");
        o.hyper.emplace(k, c.get<double>("hyper-parameter value"));
        prev = std::move(k);
      }
      const std::uint64_t ns = c.count("step count", 8);
      for (std::uint64_t i = 0; i < ns; ++i) {
        const auto s = c.get<std::int64_t>("step");
        if (s < 0) DITTO_FAIL(r.where, ": step[", i, "] is negative (", s, ")");
        if (static_cast<std::uint64_t>(s) > kMaxStep)
          DITTO_FAIL(r.where, ": step[", i, "] = ", s, " exceeds the limit 2^53");
        o.step.push_back(s);
      }
      ck.optimizer = std::move(o);
      break;
    }
    case RecordType::optimizer_tensor: {
      if (!ck.optimizer) DITTO_FAIL(r.where, ": optimizer tensor without an optimizer record");
      const std::string& kind = ck.optimizer->kind;
      const bool ok = kind == "sgd" ? indexed_name(r.name, "momentum_buffer.") >= 0
                                    : (indexed_name(r.name, "exp_avg.") >= 0 ||
                                       indexed_name(r.name, "exp_avg_sq.") >= 0);
      if (!ok)
        DITTO_FAIL(r.where, ": not a state tensor name of optimizer '", printable(kind),
                   "' (expected ", kind == "sgd" ? "momentum_buffer.<i>" : "exp_avg.<i> or exp_avg_sq.<i>", ")");
      if (!ck.optimizer->tensors.empty() && !(ck.optimizer->tensors.rbegin()->first < r.name))
        DITTO_FAIL(r.where, ": optimizer tensor out of order or repeated");
      ck.optimizer->tensors.emplace(r.name, decode_tensor(c));
      break;
    }
    case RecordType::generators: {
      expect_name("generators");
      const std::uint64_t n = c.count("generator count", 20);
      std::set<std::string> seen;
      for (std::uint64_t i = 0; i < n; ++i) {
        GeneratorRecord g;
        g.name = c.str("generator name");
        if (!seen.insert(g.name).second)
          DITTO_FAIL(r.where, ": generator '", printable(g.name), "' repeated");
        g.seed = c.get<std::uint64_t>("generator seed");
        g.offset = c.get<std::uint64_t>("generator offset");
        ck.generators.push_back(std::move(g));
      }
      break;
    }
    case RecordType::loader: {
      expect_name("loader");
      data::LoaderState s;
      s.epoch = c.get<std::uint64_t>("epoch");
      s.position = c.get<std::uint64_t>("position");
      s.seed = c.get<std::uint64_t>("seed");
      ck.loader = s;
      break;
    }
    case RecordType::metadata: {
      expect_name("metadata");
      const std::uint64_t n = c.count("metadata count", 8);
      std::string prev;
      for (std::uint64_t i = 0; i < n; ++i) {
        std::string k = c.str("metadata key");
        check_key_order(prev, k, i, r.where, "metadata key");
        ck.metadata.emplace(k, c.str("metadata value"));
        prev = std::move(k);
      }
      break;
    }
    case RecordType::end:
      expect_name("end");
      c.take(16, "trailer");  // checked by walk_records
      break;
  }
  c.expect_end();
}

Checkpoint parse_impl(const std::uint8_t* d, std::size_t size, const std::string& what) {
  if (d == nullptr && size != 0) DITTO_FAIL(what, ": null buffer of ", size, " bytes");
  DecodeState st;
  std::uint32_t version = 0;
  if (size >= 12) std::memcpy(&version, d + 8, 4);
  walk_records(d, size, what, true, [&](const RecordView& r) { decode_record(r, st); });
  Checkpoint ck = std::move(st.ck);
  const std::uint64_t stored_fp = st.stored_fp;
  ck.format_version = version;
  ck.fingerprint = stored_fp;
  const std::uint64_t computed = fingerprint(ck.model);
  if (computed != stored_fp)
    DITTO_FAIL(what, ": model fingerprint mismatch (stored ", fingerprint_hex(stored_fp),
               ", computed ", fingerprint_hex(computed), ")");
  return ck;
}

}  // namespace detail

Checkpoint parse_checkpoint(const std::uint8_t* data, std::size_t size) {
  return detail::parse_impl(data, size, "checkpoint");
}

}  // namespace ditto::io
