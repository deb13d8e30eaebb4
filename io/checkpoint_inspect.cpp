// ditto — reading checkpoint files: load_checkpoint (parse + verify) and list_records (the
// per-record report behind `ditto ckpt inspect/verify`, which reports bad payload checksums
// instead of stopping at the first one).
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/checkpoint_detail.h"
#include "io/file_util.h"

namespace ditto::io {

namespace {

using namespace detail;

std::vector<std::uint8_t> read_checkpoint_file(const std::string& path) {
  try {
    return read_file(path);
  } catch (const Error& e) {
    throw Error(std::string("checkpoint: ") + e.what());
  }
}

/// One line summarising a decoded record (st.ck holds everything decoded so far).
std::string detail_of(const RecordView& r, const Checkpoint& one, std::uint64_t stored_fp) {
  std::ostringstream os;
  switch (static_cast<RecordType>(r.type)) {
    case RecordType::meta:
      os << "ditto " << escape_for_terminal(one.ditto_version) << ", mode " << mode_name(one.mode) << ", global step "
         << one.global_step << ", fingerprint " << fingerprint_hex(stored_fp);
      break;
    case RecordType::tensor: {
      const Tensor& t = one.model.back().second;
      os << dtype_name(t.dtype()) << " " << shape_str(t.shape());
      break;
    }
    case RecordType::optimizer_tensor: {
      const Tensor& t = one.optimizer->tensors.at(r.name);
      os << dtype_name(t.dtype()) << " " << shape_str(t.shape());
      break;
    }
    case RecordType::training: {
      std::size_t on = 0;
      for (const auto& [k, v] : one.training) on += v ? 1 : 0;
      os << one.training.size() << " modules, " << on << " in training mode";
      break;
    }
    case RecordType::optimizer: {
      const OptimizerRecord& o = *one.optimizer;
      os << o.kind;
      for (const auto& [k, v] : o.hyper) os << " " << escape_for_terminal(k) << "=" << v;
      if (!o.step.empty()) {
        os << " step=[";
        for (std::size_t i = 0; i < o.step.size(); ++i) os << (i ? "," : "") << o.step[i];
        os << "]";
      }
      break;
    }
    case RecordType::generators:
      for (std::size_t i = 0; i < one.generators.size(); ++i) {
        const GeneratorRecord& g = one.generators[i];
        os << (i ? ", " : "") << printable(g.name) << " (seed " << g.seed << ", offset "
           << g.offset << ")";
      }
      break;
    case RecordType::loader:
      os << "epoch " << one.loader->epoch << ", position " << one.loader->position << ", seed "
         << one.loader->seed;
      break;
    case RecordType::metadata: {
      bool first = true;
      for (const auto& [k, v] : one.metadata) {
        os << (first ? "" : ", ") << printable(k) << "=" << printable(v);
        first = false;
      }
      break;
    }
    case RecordType::end: os << "end of file"; break;
  }
  return os.str();
}


}  // namespace

std::string escape_for_terminal(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto esc = [&](unsigned char c) {
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
  };
  auto cont = [&](std::size_t i) {
    return i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\\') out += "\\\\";
      else if (c >= 0x20 && c < 0x7F) out += static_cast<char>(c);
      else esc(c);
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, then the continuation bytes and the
    // ranges that rule out overlong forms and surrogates (RFC 3629).
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    bool ok = n > 0 && i + n <= s.size();
    if (ok) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = c1 >= lo && c1 <= hi;
      for (std::size_t k = 2; ok && k < n; ++k) ok = cont(i + k);
      // C1 controls U+0080..U+009F (0xC2 0x80..0x9F) act as terminal controls too.
      if (ok && c == 0xC2 && c1 <= 0x9F) ok = false;
    }
    if (!ok) {
      esc(c);
      ++i;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  return out;
}

Checkpoint load_checkpoint(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_checkpoint_file(path);
  return parse_impl(bytes.data(), bytes.size(), "checkpoint '" + path + "'");
}

std::vector<RecordInfo> list_records(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_checkpoint_file(path);
  std::vector<RecordInfo> out;
  DecodeState st;  // accumulates, so optimizer tensors find their optimizer record
  walk_records(bytes.data(), bytes.size(), "checkpoint '" + path + "'", false,
               [&](const RecordView& r) {
    RecordInfo info;
    info.name = r.name;
    info.kind = type_name(r.type);
    info.offset = r.offset;
    info.length = r.payload_size;
    info.checksum = r.stored_crc;
    info.checksum_ok = r.stored_crc == r.computed_crc;
    if (info.checksum_ok) {
      decode_record(r, st);
      info.detail = detail_of(r, st.ck, st.stored_fp);
    } else {
      info.detail = "checksum mismatch (stored " + hex32(r.stored_crc) + ", computed " +
                    hex32(r.computed_crc) + ")";
      st.last_type = r.type;  // keep the order check going past the bad record
      if (static_cast<RecordType>(r.type) == RecordType::optimizer && !st.ck.optimizer)
        st.ck.optimizer = OptimizerRecord{r.name, {}, {}, {}};
    }
    out.push_back(std::move(info));
  });
  return out;
}

}  // namespace ditto::io
