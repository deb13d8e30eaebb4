#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/file_util.h"
#include "io/json.h"

namespace ditto::io {

// Tensor data is copied with memcpy: the file is little-endian, so is every host ditto supports.
static_assert(std::endian::native == std::endian::little,
              "safetensors: ditto's reader/writer assume a little-endian host");

namespace {

// Same limit as the Rust safetensors crate (MAX_HEADER_SIZE): a header longer than this is
// rejected before anything is allocated for it.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
  }
  return "?";
}

// dtype names of the safetensors format that ditto has no element type for.
bool is_known_unsupported_dtype(const std::string& s) {
  static const char* const kNames[] = {"BOOL",   "I8",     "I16",     "I32",      "U16",
                                       "U32",    "U64",    "F16",     "BF16",     "F8_E4M3",
                                       "F8_E5M2", "F8_E8M0", "F4",     "F6_E2M3",  "F6_E3M2",
                                       "C64"};
  for (const char* n : kNames)
    if (s == n) return true;
  return false;
}

// One entry of the header, validated on its own (dtype, shape, offsets inside the buffer).
struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
};

std::string quoted(const std::string& name) { return "'" + name + "'"; }

Entry parse_entry(const std::string& name, const json::Value& v, std::uint64_t buffer_bytes) {
  const std::string who = "safetensors: tensor " + quoted(name);
  DITTO_CHECK(v.kind == json::Value::Kind::object, who, ": expected an object, found a ",
              json::kind_name(v.kind));
  for (const std::string& k : v.keys)
    DITTO_CHECK(k == "dtype" || k == "shape" || k == "data_offsets", who, ": unknown field \"",
                k, "\" (expected dtype, shape, data_offsets)");
  const json::Value* dt = v.find("dtype");
  const json::Value* sh = v.find("shape");
  const json::Value* off = v.find("data_offsets");
  DITTO_CHECK(dt != nullptr, who, ": missing \"dtype\"");
  DITTO_CHECK(sh != nullptr, who, ": missing \"shape\"");
  DITTO_CHECK(off != nullptr, who, ": missing \"data_offsets\"");

  Entry e;
  e.name = name;
  DITTO_CHECK(dt->kind == json::Value::Kind::string, who, ": \"dtype\" must be a string, found a ",
              json::kind_name(dt->kind));
  if (dt->text == "F32") e.dtype = DType::f32;
  else if (dt->text == "F64") e.dtype = DType::f64;
  else if (dt->text == "I64") e.dtype = DType::i64;
  else if (dt->text == "U8") e.dtype = DType::u8;
  else if (is_known_unsupported_dtype(dt->text))
    DITTO_FAIL("safetensors: unsupported dtype ", dt->text, " for tensor ", quoted(name),
               " (ditto supports F32, F64, I64, U8)");
  else
    DITTO_FAIL("safetensors: unknown dtype \"", dt->text, "\" for tensor ", quoted(name));

  DITTO_CHECK(sh->kind == json::Value::Kind::array, who, ": \"shape\" must be an array, found a ",
              json::kind_name(sh->kind));
  // numel must not overflow (as the Rust crate checks); the product of the non-zero sizes must
  // fit in int64 too, so that strides of a zero-size tensor like [0, 2^62, 2^62] stay defined.
  std::uint64_t numel = 1, nonzero_product = 1;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (std::size_t d = 0; d < sh->items.size(); ++d) {
    const std::uint64_t s =
        json::to_u64(sh->items[d], who + ": shape[" + std::to_string(d) + "]");
    DITTO_CHECK(s <= kMax, who, ": shape[", d, "] = ", s, " is too large");
    if (s != 0) {
      DITTO_CHECK(nonzero_product <= kMax / s, who, ": the product of the shape overflows");
      nonzero_product *= s;
    }
    numel *= s;
    e.shape.push_back(static_cast<std::int64_t>(s));
  }
  const std::uint64_t item = dtype_size(e.dtype);
  DITTO_CHECK(numel <= kMax / item, who, ": shape ", shape_str(e.shape), " of ", dt->text,
              " is too large");
  const std::uint64_t nbytes = numel * item;

  DITTO_CHECK(off->kind == json::Value::Kind::array && off->items.size() == 2, who,
              ": \"data_offsets\" must be an array [begin, end]");
  e.begin = json::to_u64(off->items[0], who + ": data_offsets[0]");
  e.end = json::to_u64(off->items[1], who + ": data_offsets[1]");
  DITTO_CHECK(e.begin <= e.end, who, ": data_offsets [", e.begin, ", ", e.end,
              "] end before they begin");
  DITTO_CHECK(e.end <= buffer_bytes, who, ": data_offsets [", e.begin, ", ", e.end,
              "] out of range: the data buffer holds ", buffer_bytes, " bytes");
  DITTO_CHECK(e.end - e.begin == nbytes, who, ": data_offsets [", e.begin, ", ", e.end,
              "] span ", e.end - e.begin, " bytes, but shape ", shape_str(e.shape), " of ",
              dt->text, " needs ", nbytes);
  return e;
}

}  // namespace

std::map<std::string, Tensor> parse_safetensors(const std::uint8_t* data, std::size_t size,
                                                std::map<std::string, std::string>* metadata) {
  DITTO_CHECK(data != nullptr || size == 0, "safetensors: null data pointer");
  DITTO_CHECK(size >= 8, "safetensors: file of ", size,
              " bytes is too small to hold the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  DITTO_CHECK(n <= kMaxHeaderBytes, "safetensors: header length ", n,
              " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  DITTO_CHECK(n <= size - 8, "safetensors: header length ", n, " exceeds the file size (",
              size, " bytes, ", size - 8, " after the length field)");
  DITTO_CHECK(n > 0 && data[8] == '{', "safetensors: the header does not start with '{'");
  const std::string_view header(reinterpret_cast<const char*>(data + 8), n);
  const std::uint8_t* buffer = data + 8 + n;
  const std::uint64_t buffer_bytes = size - 8 - n;

  const json::Value root = json::parse(header, "safetensors header");
  DITTO_CHECK(root.kind == json::Value::Kind::object,
              "safetensors: the header must be a JSON object");

  std::map<std::string, std::string> meta;
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < root.keys.size(); ++i) {
    const std::string& key = root.keys[i];
    const json::Value& v = root.items[i];
    if (key == "__metadata__") {
      DITTO_CHECK(v.kind == json::Value::Kind::object,
                  "safetensors: __metadata__ must be an object of strings, found a ",
                  json::kind_name(v.kind));
      for (std::size_t j = 0; j < v.keys.size(); ++j) {
        DITTO_CHECK(v.items[j].kind == json::Value::Kind::string, "safetensors: __metadata__ \"",
                    v.keys[j], "\" must be a string, found a ", json::kind_name(v.items[j].kind));
        meta.emplace(v.keys[j], v.items[j].text);
      }
      continue;
    }
    entries.push_back(parse_entry(key, v, buffer_bytes));
  }

  // Layout: sorted by offsets, the tensors must tile the buffer exactly — each begins where the
  // previous one ends (no overlap, no gap) and the last ends at the end of the file.
  std::vector<const Entry*> order;
  order.reserve(entries.size());
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    DITTO_CHECK(e->begin >= covered, "safetensors: tensor ", quoted(e->name), " (data_offsets [",
                e->begin, ", ", e->end, "]) overlaps tensor ", quoted(prev->name),
                " (data_offsets [", prev->begin, ", ", prev->end, "])");
    DITTO_CHECK(e->begin == covered, "safetensors: gap of ", e->begin - covered,
                " bytes in the data buffer before tensor ", quoted(e->name), " (data_offsets [",
                e->begin, ", ", e->end, "])");
    covered = e->end;
    if (e->end > e->begin || prev == nullptr) prev = e;
  }
  DITTO_CHECK(covered == buffer_bytes, "safetensors: ", buffer_bytes - covered,
              " trailing bytes after the last tensor (tensors cover ", covered,
              " bytes of a data buffer of ", buffer_bytes, ")");

  std::map<std::string, Tensor> out;
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype, Device::cpu());
    const std::uint64_t nbytes = e.end - e.begin;
    if (nbytes > 0) std::memcpy(t.raw_data(), buffer + e.begin, nbytes);
    out.emplace(e.name, std::move(t));
  }
  if (metadata != nullptr) *metadata = std::move(meta);
  return out;
}

std::vector<std::uint8_t> serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                                const std::map<std::string, std::string>& metadata) {
  // Pack every tensor first (cpu, contiguous) so offsets are known before the header is written.
  std::vector<Tensor> packed;
  packed.reserve(tensors.size());
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) header += ',';
      first = false;
      json::append_string(header, k, "safetensors: __metadata__ key");
      header += ':';
      json::append_string(header, v, "safetensors: __metadata__ value of \"" + k + "\"");
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    DITTO_CHECK(name != "__metadata__",
                "safetensors: a tensor may not be named __metadata__ (reserved by the format)");
    DITTO_CHECK(tensor.defined(), "safetensors: tensor ", quoted(name), " is undefined");
    Tensor t = tensor.detach().to(Device::cpu()).contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    if (header.size() > 1) header += ',';
    json::append_string(header, name, "safetensors: tensor name " + quoted(name));
    header += ":{\"dtype\":\"";
    header += safetensors_dtype(t.dtype());
    header += "\",\"shape\":[";
    for (std::size_t d = 0; d < t.shape().size(); ++d) {
      if (d > 0) header += ',';
      header += std::to_string(t.shape()[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
    packed.push_back(std::move(t));
  }
  header += '}';
  // Pad with spaces to a multiple of 8, as the Python library does (keeps the data 8-aligned).
  header.append((8 - header.size() % 8) % 8, ' ');
  DITTO_CHECK(header.size() <= kMaxHeaderBytes, "safetensors: header of ", header.size(),
              " bytes exceeds the limit of ", kMaxHeaderBytes, " bytes");

  std::vector<std::uint8_t> out;
  out.reserve(8 + header.size() + offset);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  for (const Tensor& t : packed) {
    const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
    if (nbytes == 0) continue;
    const auto* p = static_cast<const std::uint8_t*>(t.raw_data());
    out.insert(out.end(), p, p + nbytes);
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  try {
    return parse_safetensors(bytes.data(), bytes.size(), metadata);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace ditto::io
