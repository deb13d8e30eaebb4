// Hardening of files and formats (issue 9): the atomic writer's targets, FIFOs that would block
// open(), stale temporaries, step counts a crafted checkpoint can hold, the checkpoint writer
// enforcing the reader's limits, numbers echoed from files, terminal escapes in printed file data,
// and an IDX .gz whose header declares 10^6 images. Hang cases run in a child process
// (test/fixtures/child.h) with a timeout.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "ditto/ditto.h"
#include "io/file_util.h"
#include "test/fixtures/child.h"
#include "test/fixtures/errors.h"
#include "test/fixtures/temp_dir.h"

using namespace ditto;
using ditto::test_fixtures::error_of;
using ditto::test_fixtures::register_child;
using ditto::test_fixtures::run_child;
using ditto::test_fixtures::TempDir;
using ditto::test_fixtures::write_raw;
using Bytes = std::vector<std::uint8_t>;

namespace {


Bytes read_raw(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

// A safetensors file: 8-byte header length, the header padded to 8, the data.
Bytes safetensors_file(std::string header, const Bytes& data = {}) {
  header.append((8 - header.size() % 8) % 8, ' ');
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

io::Checkpoint tiny_checkpoint() {
  io::Checkpoint ck;
  ck.model.emplace_back("w", from_vector<float>({1, 2}));
  ck.global_step = 7;
  return ck;
}

// Rewrites the u64 global step of the meta record (the first record: payload at byte 96, the
// step after the u32 mode) and fixes both checksums, so only the value is wrong.
Bytes with_global_step(Bytes b, std::uint64_t step) {
  constexpr std::size_t rec = 64, payload = 96;
  std::memcpy(b.data() + payload + 4, &step, 8);
  std::uint64_t len = 0;
  std::memcpy(&len, b.data() + rec + 8, 8);
  const std::uint32_t pcrc = io::crc32c(b.data() + payload, static_cast<std::size_t>(len));
  std::memcpy(b.data() + rec + 16, &pcrc, 4);
  std::uint32_t name_len = 0;
  std::memcpy(&name_len, b.data() + rec + 4, 4);
  Bytes h(b.begin() + rec, b.begin() + rec + 20);
  h.insert(h.end(), b.begin() + rec + 24, b.begin() + rec + 24 + name_len);
  const std::uint32_t hcrc = io::crc32c(h.data(), h.size());
  std::memcpy(b.data() + rec + 20, &hcrc, 4);
  return b;
}

// 10. Every reader given a FIFO returns an error at once (before: open() blocked forever).
void fifo_readers() {
  TempDir dir("ditto_fifo");
  const std::string fifo = dir.file("pipe");
  if (::mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
  std::printf("read_file: %s\n", error_of([&] { io::read_file(fifo); }).c_str());
  std::printf("load_checkpoint: %s\n", error_of([&] { io::load_checkpoint(fifo); }).c_str());
  std::printf("list_records: %s\n", error_of([&] { io::list_records(fifo); }).c_str());
  std::printf("load_safetensors: %s\n", error_of([&] { io::load_safetensors(fifo); }).c_str());
}
const int reg_fifo = register_child("fifo_readers", fifo_readers);

// 11. Writes <dir>/train-{images-idx3,labels-idx1}-ubyte.gz whose headers declare n samples that
// are all really there (zeros compress ~1000:1: 10^6 images are 784 MB in under 1 MB).
void write_bomb(const std::string& dir, std::uint32_t n) {
  auto be = [](std::uint32_t v) {
    return Bytes{std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8),
                 std::uint8_t(v)};
  };
  auto write_gz = [&](const std::string& path, Bytes header, std::uint64_t payload) {
    gzFile f = gzopen(path.c_str(), "wb1");
    REQUIRE(f != nullptr);
    gzwrite(f, header.data(), unsigned(header.size()));
    const Bytes zero(1 << 20, 0);
    for (std::uint64_t done = 0; done < payload;) {
      const auto k = static_cast<unsigned>(std::min<std::uint64_t>(zero.size(), payload - done));
      REQUIRE(gzwrite(f, zero.data(), k) == int(k));
      done += k;
    }
    gzclose(f);
  };
  Bytes img = {0, 0, 8, 3};
  for (std::uint32_t v : {n, 28u, 28u})
    for (std::uint8_t c : be(v)) img.push_back(c);
  write_gz(dir + "/train-images-idx3-ubyte.gz", img, std::uint64_t(n) * 784);
  Bytes lbl = {0, 0, 8, 1};
  for (std::uint8_t c : be(n)) lbl.push_back(c);
  write_gz(dir + "/train-labels-idx1-ubyte.gz", lbl, n);
}

// Loads 64 of the 10^6 declared images with the address space limited to +512 MiB (the whole
// file would take 784 MB of bytes plus 3.1 GB of floats).
void idx_limit_child() {
  const char* dir = std::getenv("DITTO_TEST_BOMB_DIR");
  ditto::test_fixtures::limit_address_space(std::size_t{512} << 20);
  const data::Dataset ds = data::load_fashion_mnist("train", dir, 64);
  std::printf("images %s labels %s\n", shape_str(ds.images.shape()).c_str(),
              shape_str(ds.labels.shape()).c_str());
}
const int reg_idx = register_child("idx_limit", idx_limit_child);

}  // namespace

TEST_SUITE("hardening") {
  TEST_CASE("atomic writer: refuses non-regular targets, keeps the mode of the file it replaces") {
    TempDir dir("ditto_atomic");
    const Bytes data = {1, 2, 3};
    const std::string fifo = dir.file("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_ERROR(io::write_file_atomic(fifo, data), "write_file_atomic", "not a regular file",
                "refusing to replace");
    struct stat st {};
    REQUIRE(::stat(fifo.c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));  // still the FIFO, not a regular file
    CHECK_ERROR(io::write_file_atomic(dir.path.string(), data), "is a directory");

    const std::string priv = dir.file("private.ditto");
    write_raw(priv, {9});
    REQUIRE(::chmod(priv.c_str(), 0600) == 0);
    io::write_file_atomic(priv, data);
    REQUIRE(::stat(priv.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(read_raw(priv) == data);
    // No temporary is left behind by a refused write.
    int entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) entries += e.exists();
    CHECK(entries == 2);
  }

  TEST_CASE("same_file and remove_stale_temps") {
    TempDir dir("ditto_stale");
    const std::string a = dir.file("a.ditto");
    write_raw(a, {1});
    CHECK(io::same_file(a, dir.path.string() + "/./a.ditto"));
    CHECK_FALSE(io::same_file(a, dir.file("missing")));
    // A pid that certainly exited: a child we waited for.
    pid_t dead = 0;
    {
      const pid_t p = ::fork();
      if (p == 0) ::_exit(0);
      ::waitpid(p, nullptr, 0);
      dead = p;
    }
    const std::string stale = dir.file("a.ditto.tmp." + std::to_string(dead) + ".0");
    const std::string live = dir.file("a.ditto.tmp." + std::to_string(::getpid()) + ".3");
    const std::string init = dir.file("b.ditto.tmp.1.0");  // pid 1 is alive
    const std::string other = dir.file("notes.tmp.txt");
    for (const std::string& p : {stale, live, init, other}) write_raw(p, {0});
    const std::vector<std::string> removed = io::remove_stale_temps(dir.path.string());
    REQUIRE(removed.size() == 1);
    CHECK(removed[0] == stale);
    CHECK_FALSE(std::filesystem::exists(stale));
    CHECK(std::filesystem::exists(live));
    CHECK(std::filesystem::exists(init));
    CHECK(std::filesystem::exists(other));
  }

  TEST_CASE("FIFOs: every reader fails at once instead of blocking in open() (child process)") {
    const auto r = run_child("fifo_readers", 30);
    INFO(r.describe());
    REQUIRE(r.ok());
    for (const char* what :
         {"read_file: ", "load_checkpoint: ", "list_records: ", "load_safetensors: "}) {
      const auto at = r.output.find(what);
      REQUIRE(at != std::string::npos);
      const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
      CHECK(line.find("cannot read '") != std::string::npos);
      CHECK(line.find("not a regular file (a FIFO") != std::string::npos);
    }
  }

  TEST_CASE(
      "step counts: a crafted global step or Adam step >= 2^53 fails verify; the writer refuses") {
    TempDir dir("ditto_steps");
    const Bytes good = io::serialize_checkpoint(tiny_checkpoint());
    write_raw(dir.file("ok.ditto"), with_global_step(good, 12345));
    CHECK(io::load_checkpoint(dir.file("ok.ditto")).global_step == 12345);  // the patch is valid
    write_raw(dir.file("big.ditto"), with_global_step(good, std::uint64_t{1} << 63));
    CHECK_ERROR(io::load_checkpoint(dir.file("big.ditto")), "global step 9223372036854775808",
                "exceeds the limit 2^53");
    CHECK_THROWS_AS(io::list_records(dir.file("big.ditto")), Error);

    io::Checkpoint ck = tiny_checkpoint();
    ck.global_step = (std::uint64_t{1} << 53) + 1;
    CHECK_ERROR(io::serialize_checkpoint(ck), "global step", "2^53");
    ck = tiny_checkpoint();
    ck.optimizer =
        io::OptimizerRecord{"adam", {{"lr", 0.1}}, {std::numeric_limits<std::int64_t>::max()}, {}};
    CHECK_ERROR(io::serialize_checkpoint(ck), "optimizer step[0]", "2^53");
  }

  TEST_CASE("the checkpoint writer enforces the reader's limits (2^50 elements)") {
    io::Checkpoint ck;
    ck.model.emplace_back("huge", zeros({0, std::int64_t{1} << 51}));  // legal tensor, 0 bytes
    CHECK_ERROR(io::serialize_checkpoint(ck), "tensor 'huge'", "more than 2^50 elements");
    // And so import-safetensors cannot write what the reader would refuse: rank 9 is refused
    // when the safetensors file is read.
    TempDir dir("ditto_st");
    write_raw(dir.file("r9.safetensors"),
              safetensors_file(
                  R"({"x":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", {7}));
    CHECK_ERROR(io::load_safetensors(dir.file("r9.safetensors")), "at most 8");
  }

  TEST_CASE("a 100,000-digit number in a file is not echoed whole") {
    const std::string digits(100000, '9');
    const Bytes f = safetensors_file(
        R"({"x":{"dtype":"U8","shape":[)" + digits + R"(],"data_offsets":[0,1]}})", {7});
    const std::string msg = error_of([&] { io::parse_safetensors(f.data(), f.size()); });
    CHECK(msg.find("(100000 characters)") != std::string::npos);
    CHECK(msg.size() < 400);
  }

  TEST_CASE("escape_for_terminal: control bytes and invalid UTF-8 escaped, text kept") {
    CHECK(io::escape_for_terminal("plain name.weight") == "plain name.weight");
    CHECK(io::escape_for_terminal("a\x1b[2Jb") == "a\\x1b[2Jb");
    CHECK(io::escape_for_terminal("bell\a cr\r nl\n del\x7f") ==
          "bell\\x07 cr\\x0d nl\\x0a del\\x7f");
    CHECK(io::escape_for_terminal("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
    CHECK(io::escape_for_terminal("c1 \xc2\x9b"
                                  "31m") == "c1 \\xc2\\x9b31m");  // CSI as C1
    CHECK(io::escape_for_terminal("bad \xff \xc3") == "bad \\xff \\xc3");
    CHECK(io::escape_for_terminal("over \xc0\xaf") == "over \\xc0\\xaf");
    CHECK(io::escape_for_terminal("back\\slash") == "back\\\\slash");
    CHECK(io::escape_for_terminal(std::string("nul\0x", 5)) == "nul\\x00x");
  }

  TEST_CASE("IDX: a .gz declaring 10^6 images costs what the limit asks for (child process)") {
    TempDir dir("ditto_bomb");
    write_bomb(dir.path.string(), 1000000);
    CHECK(std::filesystem::file_size(dir.file("train-images-idx3-ubyte.gz")) < (4u << 20));
    ::setenv("DITTO_TEST_BOMB_DIR", dir.path.c_str(), 1);
    const auto r = run_child("idx_limit", 120);
    ::unsetenv("DITTO_TEST_BOMB_DIR");
    INFO(r.describe());
    REQUIRE(r.ok());
    CHECK(r.output.find("images [64,1,28,28] labels [64]") != std::string::npos);
    // The limit reads only what it needs: a truncated tail is not even looked at, a short head is.
    const Tensor t = data::read_idx_file(dir.file("train-labels-idx1-ubyte.gz"), 10);
    CHECK(t.shape() == Shape{10});
    CHECK_ERROR(data::load_fashion_mnist("train", ""), "empty string");
  }
}
