// safetensors import/export (io/safetensors.h): the exact bytes the Python library writes, round
// trips of every dtype, and strict rejection of every malformed header with a message that says
// what is wrong — never a crash.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "test/fixtures/bits.h"
#include "test/fixtures/errors.h"
#include "ditto/ditto.h"
#include "io/safetensors.h"

#include <unistd.h>  // getpid

using namespace ditto;
using Bytes = std::vector<std::uint8_t>;

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h

using ditto::test_fixtures::error_of;  // test/fixtures/errors.h

// A file from a header (padded with spaces to a multiple of 8 when `pad`) and a data buffer.
Bytes make_file(std::string header, const Bytes& data = {}, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  Bytes out;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <typename T>
void append_le(Bytes& out, T v) {
  std::uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian host (asserted by io/safetensors.cpp)
  out.insert(out.end(), b, b + sizeof(T));
}

std::map<std::string, Tensor> parse(const Bytes& b, std::map<std::string, std::string>* meta = nullptr) {
  return io::parse_safetensors(b.data(), b.size(), meta);
}


void check_same(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, t] : a) {
    INFO("tensor " << name);
    REQUIRE(b.count(name) == 1);
    CHECK(same_bits(t, b.at(name)));
  }
}

// The bytes Python's safetensors.torch.save_file writes for
//   {"fc.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
//    "fc.bias": torch.tensor([1., 2.], dtype=torch.float32)}, metadata={"format": "pt"}
// per the format spec and the reference writer: compact JSON (serde_json), "__metadata__" first,
// tensors sorted by dtype alignment (equal here) then name, header padded with spaces to a
// multiple of 8 (155 bytes of JSON + 5 spaces = 160 = 0xA0), then the data in that order.
Bytes python_fc_file() {
  const std::string json =
      R"({"__metadata__":{"format":"pt"},)"
      R"("fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}})";
  REQUIRE(json.size() == 155);
  Bytes b = {0xA0, 0, 0, 0, 0, 0, 0, 0};
  b.insert(b.end(), json.begin(), json.end());
  b.insert(b.end(), 5, ' ');
  // fc.bias = [1, 2]: f32 1.0 = 0x3F800000, 2.0 = 0x40000000, little-endian.
  for (std::uint8_t x : {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40}) b.push_back(x);
  for (int i = 0; i < 6; ++i) append_le(b, static_cast<float>(i));  // fc.weight = arange(6)
  REQUIRE(b.size() == 8 + 160 + 32);
  return b;
}

// A valid tensor entry for hand-written headers.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  std::uint64_t begin, std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

}  // namespace

/// CHECK_ST_ERROR(bytes, "part", ...): parsing throws ditto::Error whose message has every part.
#define CHECK_ST_ERROR(bytes, ...)                                                             \
  do {                                                                                         \
    const Bytes b_ = (bytes);                                                                  \
    const std::string msg_ = error_of([&] { (void)parse(b_); });                               \
    INFO("message: " << msg_);                                                                 \
    CHECK(msg_ != "<no error>");                                                               \
    for (const char* part_ : {__VA_ARGS__})                                                    \
      CHECK_MESSAGE(msg_.find(part_) != std::string::npos, "missing: " << std::string(part_)); \
  } while (0)

TEST_SUITE("safetensors") {

TEST_CASE("safetensors: a file laid out as Python's save_file writes it loads, and ditto writes "
          "the same bytes") {
  const Bytes py = python_fc_file();
  std::map<std::string, std::string> meta;
  auto t = parse(py, &meta);
  REQUIRE(t.size() == 2);
  CHECK(meta == std::map<std::string, std::string>{{"format", "pt"}});
  const Tensor& w = t.at("fc.weight");
  const Tensor& b = t.at("fc.bias");
  CHECK(w.dtype() == DType::f32);
  CHECK(w.shape() == Shape{2, 3});
  CHECK(w.device().is_cpu());
  CHECK(w.is_contiguous());
  CHECK(w.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(b.shape() == Shape{2});
  CHECK(b.to_vector<float>() == std::vector<float>{1, 2});

  // ditto -> bytes: identical to the Python layout (same dtype, so name order = Python's order).
  const Bytes again = io::serialize_safetensors(t, meta);
  CHECK(again == py);
  // ... and bytes -> ditto again.
  std::map<std::string, std::string> meta2;
  check_same(parse(again, &meta2), t);
  CHECK(meta2 == meta);

  // Built from fresh ditto tensors (PyTorch state_dict names as keys), the bytes are the same.
  std::map<std::string, Tensor> fresh = {
      {"fc.weight", arange(6.0, DType::f32, Device::cpu()).reshape({2, 3})},
      {"fc.bias", from_vector<float>({1.f, 2.f}, {}, Device::cpu())}};
  CHECK(io::serialize_safetensors(fresh, {{"format", "pt"}}) == py);
}

TEST_CASE("safetensors: round trip of every dtype, 0-d, zero-size and non-contiguous tensors") {
  const float nan_payload = std::bit_cast<float>(0x7FC12345u);
  std::map<std::string, Tensor> in = {
      {"f32", from_vector<float>({0.f, -0.f, 1.5f, std::numeric_limits<float>::infinity(),
                                  nan_payload, std::numeric_limits<float>::denorm_min()},
                                 {2, 3}, Device::cpu())},
      {"f64", from_vector<double>({-1e300, 3.25, std::numeric_limits<double>::quiet_NaN()}, {3, 1},
                                  Device::cpu())},
      {"i64", from_vector<std::int64_t>({std::numeric_limits<std::int64_t>::min(), -1, 0,
                                         std::numeric_limits<std::int64_t>::max()},
                                        {2, 2}, Device::cpu())},
      {"u8", from_vector<std::uint8_t>({0, 1, 127, 128, 255}, {5}, Device::cpu())},
      {"scalar", scalar_tensor(7.0, DType::f64, Device::cpu())},
      {"empty", empty({0}, DType::f32, Device::cpu())},
      {"empty3", empty({2, 0, 3}, DType::i64, Device::cpu())},
      {"transposed", arange(12.0, DType::f32, Device::cpu()).reshape({3, 4}).t()},
      {"model.layers.0.bn.running_mean", full({4}, 0.25, DType::f32, Device::cpu())},
  };
  const std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"note", "quote \" backslash \\ newline \n tab \t bell \x07"},
      {"unicode", "f\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"}, {"", "empty key"}};
  const Bytes bytes = io::serialize_safetensors(in, meta);
  // Header length is a multiple of 8 and the data starts right after it.
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  CHECK(n % 8 == 0);
  std::map<std::string, std::string> meta_out;
  auto out = parse(bytes, &meta_out);
  check_same(in, out);
  CHECK(meta_out == meta);
  CHECK(out.at("scalar").dim() == 0);
  CHECK(out.at("transposed").is_contiguous());
  CHECK(out.at("transposed").to_vector<float>() ==
        in.at("transposed").contiguous().to_vector<float>());
  // Serialising what was loaded gives the same bytes (the format is canonical for ditto).
  CHECK(io::serialize_safetensors(out, meta_out) == bytes);
  // Tensors on another device are copied to cpu first: same bytes.
  std::map<std::string, Tensor> on_sim;
  for (const auto& [name, t] : in) on_sim.emplace(name, t.to(Device::sim()));
  CHECK(io::serialize_safetensors(on_sim, meta) == bytes);

  // Empty map, with and without metadata.
  const Bytes none = io::serialize_safetensors({});
  CHECK(none == make_file("{}"));
  std::map<std::string, std::string> m{{"stale", "x"}};
  CHECK(parse(none, &m).empty());
  CHECK(m.empty());
  const Bytes only_meta = io::serialize_safetensors({}, {{"k", "v"}});
  CHECK(parse(only_meta, &m).empty());
  CHECK(m == std::map<std::string, std::string>{{"k", "v"}});
}

TEST_CASE("safetensors: save/load through a file, atomically replacing the target") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ditto_safetensors_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "w.safetensors").string();
  std::map<std::string, Tensor> a = {{"w", arange(5.0, DType::f64, Device::cpu())}};
  io::save_safetensors(path, a, {{"epoch", "3"}});
  std::map<std::string, Tensor> b = {{"v", from_vector<std::uint8_t>({9}, {}, Device::cpu())}};
  io::save_safetensors(path, b);  // over the old file
  std::map<std::string, std::string> meta{{"old", "x"}};
  check_same(io::load_safetensors(path, &meta), b);
  CHECK(meta.empty());
  io::save_safetensors(path, a, {{"epoch", "3"}});
  check_same(io::load_safetensors(path, &meta), a);
  CHECK(meta.at("epoch") == "3");
  // No temporary files left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  CHECK(files == 1);
  // A broken file: the error names the path and the problem.
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fputs("garbage", f);
    std::fclose(f);
  }
  const std::string msg = error_of([&] { (void)io::load_safetensors(path); });
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find("too small") != std::string::npos);
  CHECK(error_of([&] { (void)io::load_safetensors((dir / "missing").string()); })
            .find("missing") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors: the reader accepts any key order, whitespace and escapes") {
  Bytes data;
  for (int i = 0; i < 3; ++i) append_le(data, static_cast<std::int64_t>(10 + i));  // "b" [0,24)
  append_le(data, 2.5);                                                              // "a" [24,32)
  // "a" written first but stored second; the name of "b" spelled with a \u escape; JSON
  // whitespace everywhere; newline padding is JSON whitespace too.
  const std::string header = "{ \"a\" : {\"shape\": [ ], \"data_offsets\": [24, 32], "
                             "\"dtype\": \"F64\"},\n\t\"\\u0062\":{\"dtype\":\"I64\",\"shape\":[3],"
                             "\"data_offsets\":[0,24]} ,\"__metadata__\":{}}\r\n";
  std::map<std::string, std::string> meta{{"x", "y"}};
  auto t = parse(make_file(header, data, false), &meta);
  CHECK(meta.empty());
  REQUIRE(t.size() == 2);
  CHECK(t.at("a").dim() == 0);
  CHECK(t.at("a").item<double>() == 2.5);
  CHECK(t.at("b").to_vector<std::int64_t>() == std::vector<std::int64_t>{10, 11, 12});
  // Zero-size tensors may sit anywhere in the tiling, even at the same offset.
  const std::string zs = "{" + entry("z1", "F32", "[0]", 4, 4) + "," +
                         entry("z2", "U8", "[3,0]", 4, 4) + "," + entry("x", "F32", "[1]", 0, 4) +
                         "," + entry("z0", "F64", "[0,5]", 0, 0) + "}";
  auto z = parse(make_file(zs, Bytes(4, 0)));
  CHECK(z.size() == 4);
  CHECK(z.at("z2").shape() == Shape{3, 0});
}

TEST_CASE("safetensors: malformed headers are rejected with a message naming the problem") {
  const Bytes f32x2(8, 0);
  auto one = [&](const std::string& e, const Bytes& d) { return make_file("{" + e + "}", d); };

  CHECK_ST_ERROR(Bytes(7, 0), "too small");
  {  // header length above 100 MB (checked before the file size)
    Bytes b = make_file("{}");
    b[3] = 0x10;  // 0x10000000 = 268 MB
    CHECK_ST_ERROR(b, "exceeds the limit");
  }
  {
    Bytes b = make_file("{}");
    b[0] = 17;  // header longer than the file
    CHECK_ST_ERROR(b, "exceeds the file size");
    for (int i = 0; i < 8; ++i) b[i] = 0xFF;  // 2^64 - 1: no overflow in the bounds check
    CHECK_ST_ERROR(b, "header length");
  }
  CHECK_ST_ERROR(make_file("[]"), "does not start with '{'");
  CHECK_ST_ERROR(make_file(""), "does not start with '{'");
  CHECK_ST_ERROR(make_file("{\"a\":1,}"), "invalid JSON");
  CHECK_ST_ERROR(make_file("{\"a\" 1}"), "invalid JSON", "expected ':'");
  CHECK_ST_ERROR(make_file("{} x"), "unexpected data after the JSON value");
  CHECK_ST_ERROR(make_file("{\"a\":01}"), "leading zero");
  CHECK_ST_ERROR(make_file("{\"\xC3\x28\":1}"), "not valid UTF-8");
  CHECK_ST_ERROR(make_file("{\"\xED\xA0\x80\":1}"), "not valid UTF-8");  // encoded surrogate
  CHECK_ST_ERROR(make_file("{\"\\ud800\":1}"), "lone leading surrogate");
  CHECK_ST_ERROR(make_file("{\"a\tb\":1}"), "control character");
  CHECK_ST_ERROR(make_file("{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}"),
                 "nested deeper");
  CHECK_ST_ERROR(one(entry("x", "F32", "[2]", 0, 8) + "," + entry("x", "F32", "[2]", 0, 8),
                     f32x2),
                 "duplicate key \"x\"");
  CHECK_ST_ERROR(make_file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}"), "duplicate key");

  // dtypes
  CHECK_ST_ERROR(one(entry("x", "BF16", "[4]", 0, 8), f32x2),
                 "unsupported dtype BF16 for tensor 'x'");
  for (const char* dt : {"BOOL", "F16", "I8", "I16", "I32", "U16", "U32", "U64", "F8_E4M3",
                         "F8_E5M2"})
    CHECK_ST_ERROR(one(entry("w", dt, "[1]", 0, 8), f32x2), "unsupported dtype", dt, "'w'");
  CHECK_ST_ERROR(one(entry("w", "float32", "[2]", 0, 8), f32x2), "unknown dtype", "'w'");
  CHECK_ST_ERROR(one("\"w\":{\"dtype\":5,\"shape\":[2],\"data_offsets\":[0,8]}", f32x2),
                 "'w'", "\"dtype\" must be a string");

  // shapes
  CHECK_ST_ERROR(one(entry("w", "F32", "[-2]", 0, 8), f32x2), "'w'", "negative");
  CHECK_ST_ERROR(one(entry("w", "F32", "[2.0]", 0, 8), f32x2), "'w'", "integer");
  CHECK_ST_ERROR(one(entry("w", "F32", "[\"2\"]", 0, 8), f32x2), "'w'", "found a string");
  CHECK_ST_ERROR(one(entry("w", "F32", "2", 0, 8), f32x2), "'w'", "\"shape\" must be an array");
  CHECK_ST_ERROR(one(entry("w", "F32", "[4294967296,4294967296]", 0, 8), f32x2), "'w'",
                 "overflows");
  CHECK_ST_ERROR(one(entry("w", "F32", "[0,4611686018427387904,4]", 0, 0), {}), "'w'",
                 "overflows");
  CHECK_ST_ERROR(one(entry("w", "F64", "[2305843009213693952]", 0, 8), f32x2), "'w'",
                 "too large");
  CHECK_ST_ERROR(one(entry("w", "F32", "[18446744073709551616]", 0, 8), f32x2), "'w'",
                 "does not fit in 64 bits");

  // offsets
  CHECK_ST_ERROR(one(entry("w", "F32", "[3]", 0, 8), f32x2), "'w'", "span 8 bytes",
                 "needs 12");
  CHECK_ST_ERROR(one(entry("w", "F32", "[2]", 8, 16), f32x2), "'w'", "out of range");
  CHECK_ST_ERROR(one(entry("w", "F32", "[0]", 8, 4), f32x2), "'w'", "end before they begin");
  CHECK_ST_ERROR(one("\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}", f32x2),
                 "'w'", "[begin, end]");
  CHECK_ST_ERROR(one("\"w\":{\"dtype\":\"F32\",\"shape\":[2]}", f32x2), "'w'",
                 "missing \"data_offsets\"");
  CHECK_ST_ERROR(one("\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}",
                     f32x2),
                 "'w'", "unknown field \"x\"");
  CHECK_ST_ERROR(one("\"w\":[1]", f32x2), "'w'", "expected an object");
  CHECK_ST_ERROR(one(entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[1]", 4, 8),
                     f32x2),
                 "tensor 'b'", "overlaps tensor 'a'");
  CHECK_ST_ERROR(one(entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12),
                     Bytes(12, 0)),
                 "gap of 4 bytes", "'b'");
  CHECK_ST_ERROR(one(entry("a", "F32", "[1]", 4, 8), f32x2), "gap of 4 bytes", "'a'");
  CHECK_ST_ERROR(one(entry("a", "F32", "[1]", 0, 4), f32x2), "4 trailing bytes");
  CHECK_ST_ERROR(make_file("{}", Bytes(1, 0)), "1 trailing bytes");

  // metadata
  CHECK_ST_ERROR(make_file("{\"__metadata__\":{\"a\":1}}"), "__metadata__", "must be a string");
  CHECK_ST_ERROR(make_file("{\"__metadata__\":[]}"), "__metadata__", "must be an object");

  // The writer refuses what the format cannot hold.
  CHECK(error_of([] {
          (void)io::serialize_safetensors({{"__metadata__", zeros({1}, DType::f32, Device::cpu())}});
        }).find("reserved") != std::string::npos);
  CHECK(error_of([] { (void)io::serialize_safetensors({{"x", Tensor()}}); }).find("'x'") !=
        std::string::npos);
  CHECK(error_of([] {
          (void)io::serialize_safetensors({{"bad\xFF", zeros({1}, DType::f32, Device::cpu())}});
        }).find("UTF-8") != std::string::npos);
}

TEST_CASE("safetensors: every truncation of a file throws") {
  std::map<std::string, Tensor> in = {
      {"a", arange(3.0, DType::f32, Device::cpu())},
      {"b", from_vector<std::uint8_t>({1, 2}, {}, Device::cpu())},
      {"c", scalar_tensor(-4.0, DType::i64, Device::cpu())}};
  const Bytes full_file = io::serialize_safetensors(in, {{"format", "pt"}});
  for (std::size_t len = 0; len < full_file.size(); ++len) {
    const Bytes cut(full_file.begin(), full_file.begin() + static_cast<std::ptrdiff_t>(len));
    INFO("length " << len);
    CHECK_THROWS_AS((void)parse(cut), Error);
  }
  // One byte too many throws as well.
  Bytes longer = full_file;
  longer.push_back(0);
  CHECK_THROWS_AS((void)parse(longer), Error);
  CHECK(parse(full_file).size() == 3);
}

TEST_CASE("safetensors: flipped bytes throw (header) or change exactly that value (data)") {
  std::map<std::string, Tensor> in = {
      {"fc.weight", arange(6.0, DType::f32, Device::cpu()).reshape({2, 3})},
      {"fc.bias", from_vector<double>({1.0, 2.0}, {}, Device::cpu())},
      {"steps", from_vector<std::int64_t>({5}, {}, Device::cpu())}};
  const Bytes good = io::serialize_safetensors(in, {{"format", "pt"}});
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | good[i];
  const std::size_t data_start = 8 + static_cast<std::size_t>(n);
  // Data order = key order: fc.bias (f64), fc.weight (f32), steps (i64).
  int header_loaded = 0, header_thrown = 0;
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    for (std::uint8_t mask : {0x01, 0x20, 0x80, 0xFF}) {
      Bytes b = good;
      b[pos] ^= mask;
      INFO("byte " << pos << " ^ " << int(mask));
      if (pos < data_start) {
        try {
          auto t = parse(b);
          ++header_loaded;  // e.g. a letter of a name or of the metadata changed: still valid
          for (const auto& [name, x] : t) CHECK(x.numel() * dtype_size(x.dtype()) <= 48);
        } catch (const Error&) {
          ++header_thrown;
        }
      } else {
        std::map<std::string, Tensor> t;
        REQUIRE_NOTHROW(t = parse(b));
        Bytes data;
        for (const char* name : {"fc.bias", "fc.weight", "steps"}) {
          const Tensor& x = t.at(name);
          const auto* p = static_cast<const std::uint8_t*>(x.raw_data());
          data.insert(data.end(), p, p + x.numel() * dtype_size(x.dtype()));
        }
        CHECK(std::equal(data.begin(), data.end(), b.begin() + data_start, b.end()));
        CHECK(data.size() == good.size() - data_start);
      }
    }
  }
  CHECK(header_thrown > 0);
  CHECK(header_loaded > 0);
  MESSAGE("header flips: " << header_thrown << " rejected, " << header_loaded << " still valid");
}

}  // TEST_SUITE
