// ditto — data: IDX reader (zlib), Fashion-MNIST loader, DataLoader, transforms (nn/data.h).
#include "nn/data.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <utility>

#include "core/profile_scope.h"
#include "kernels/common/philox.h"

namespace ditto::data {

namespace {

// ---- IDX header -------------------------------------------------------------------------------

struct IdxHeader {
  std::size_t header_bytes = 0;  // 4 + 4 * ndims
  Shape dims;
  std::uint64_t payload = 0;  // prod(dims) bytes (u8 elements)
};

std::string hex2(unsigned v) {
  static const char* digits = "0123456789ABCDEF";
  std::string s = "0x";
  s += digits[(v >> 4) & 15];
  s += digits[v & 15];
  return s;
}

// The name of a valid-but-unsupported IDX type, "" for bytes that are no IDX type at all.
const char* idx_type_name(unsigned t) {
  switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
  }
  return "";
}

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         std::uint32_t(p[3]);
}

// Parses and checks the header in data[0, size). Reads only bytes proven to exist; throws when
// the buffer is shorter than the header it announces. Does not look at the payload.
IdxHeader parse_header(const std::uint8_t* data, std::size_t size, const std::string& what) {
  DITTO_CHECK(data != nullptr || size == 0, "IDX ", what, ": null data pointer with size ", size);
  DITTO_CHECK(size >= 4, "IDX ", what, ": truncated header: expected at least 4 bytes, found ",
              size);
  DITTO_CHECK(data[0] == 0 && data[1] == 0, "IDX ", what,
              ": bad magic: expected 0x00 0x00 at bytes 0-1, found ", hex2(data[0]), " ",
              hex2(data[1]), " (not an IDX file)");
  const unsigned type = data[2];
  if (type != 0x08) {
    const char* name = idx_type_name(type);
    if (*name) {
      DITTO_FAIL("IDX ", what, ": unsupported IDX type ", hex2(type), " (", name,
                 "); only 0x08 (unsigned byte) is supported");
    }
    DITTO_FAIL("IDX ", what, ": unknown IDX type ", hex2(type),
               " (valid types: 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)");
  }
  const unsigned ndims = data[3];
  DITTO_CHECK(ndims >= 1 && ndims <= 4, "IDX ", what, ": ", ndims,
              " dimensions; supported are 1 to 4");
  IdxHeader h;
  h.header_bytes = 4 + 4 * std::size_t(ndims);
  DITTO_CHECK(size >= h.header_bytes, "IDX ", what, ": truncated header: expected ", h.header_bytes,
              " bytes for ", ndims, " dimensions, found ", size);
  for (unsigned d = 0; d < ndims; ++d) h.dims.push_back(std::int64_t(be32(data + 4 + 4 * d)));
  std::uint64_t prod = 1;
  for (unsigned d = 0; d < ndims; ++d) {
    DITTO_CHECK(h.dims[d] != 0, "IDX ", what, ": dimension ", d, " of shape ", shape_str(h.dims),
                " has size 0");
    // Four u32 factors can overflow 64 bits: check each product.
    const bool overflow = __builtin_mul_overflow(prod, std::uint64_t(h.dims[d]), &prod);
    DITTO_CHECK(!overflow && prod <= std::uint64_t(INT64_MAX), "IDX ", what, ": shape ",
                shape_str(h.dims), " has more elements than fit in 63 bits");
  }
  h.payload = prod;
  return h;
}

// Exact-length check: header + payload must be exactly `size` bytes.
void check_length(const IdxHeader& h, std::uint64_t size, bool size_is_lower_bound,
                  const std::string& what) {
  const std::uint64_t header = h.header_bytes;
  // payload <= INT64_MAX and header <= 20, so the sum cannot wrap.
  const std::uint64_t expected = header + h.payload;
  if (size < expected) {
    DITTO_FAIL("IDX ", what, ": truncated: shape ", shape_str(h.dims), " needs ", expected,
               " bytes (", header, " header + ", h.payload, " payload), found ", size);
  }
  if (size > expected) {
    DITTO_FAIL("IDX ", what, ": trailing bytes: shape ", shape_str(h.dims), " needs ", expected,
               " bytes (", header, " header + ", h.payload, " payload), found ",
               size_is_lower_bound ? "more than " : "", size_is_lower_bound ? size - 1 : size);
  }
}

Tensor to_u8_tensor(const IdxHeader& h, const std::uint8_t* payload) {
  Tensor t = empty(h.dims, DType::u8, Device::cpu());
  if (h.payload > 0) std::memcpy(t.data_ptr<std::uint8_t>(), payload, std::size_t(h.payload));
  return t;
}

// ---- file reading -------------------------------------------------------------------------------

// A byte source: a gzFile (for .gz) or a FILE*. read() returns the bytes read (0 at the end) and
// throws on an I/O or decompression error.
class Source {
 public:
  explicit Source(const std::string& path) : path_(path) {
    gz_ = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    if (gz_) {
      gzf_ = gzopen(path.c_str(), "rb");
      DITTO_CHECK(gzf_ != nullptr, "IDX ", path, ": cannot open: ", std::strerror(errno));
      gzbuffer(gzf_, 1 << 18);
    } else {
      f_ = std::fopen(path.c_str(), "rb");
      DITTO_CHECK(f_ != nullptr, "IDX ", path, ": cannot open: ", std::strerror(errno));
    }
  }
  ~Source() {
    if (gzf_) gzclose(gzf_);
    if (f_) std::fclose(f_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  std::size_t read(std::uint8_t* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const std::size_t want = std::min<std::size_t>(n - got, std::size_t(1) << 30);
      if (gz_) {
        const int r = gzread(gzf_, dst + got, unsigned(want));
        if (r < 0) {
          int code = 0;
          const char* msg = gzerror(gzf_, &code);
          DITTO_FAIL("IDX ", path_, ": gzip decompression failed: ", msg ? msg : "?");
        }
        if (r == 0) {
          int code = 0;
          const char* msg = gzerror(gzf_, &code);
          // A stream that ends mid-member is corrupt, not merely short.
          DITTO_CHECK(code == Z_OK, "IDX ", path_, ": gzip decompression failed: ", msg ? msg : "?",
                      " after ", total_, " decompressed bytes");
          break;
        }
        got += std::size_t(r);
        total_ += std::uint64_t(r);
      } else {
        const std::size_t r = std::fread(dst + got, 1, want, f_);
        DITTO_CHECK(!std::ferror(f_), "IDX ", path_, ": read error: ", std::strerror(errno));
        if (r == 0) break;
        got += r;
      }
    }
    return got;
  }

 private:
  std::string path_;
  bool gz_ = false;
  gzFile gzf_ = nullptr;
  std::FILE* f_ = nullptr;
  std::uint64_t total_ = 0;  // decompressed bytes delivered so far
};

// Appends up to n bytes from src to buf, growing buf only as data actually arrives (chunks of at
// most 16 MiB), so a header that claims a huge payload costs no memory unless the data exists.
std::size_t append(Source& src, std::vector<std::uint8_t>& buf, std::uint64_t n) {
  constexpr std::uint64_t kChunk = std::uint64_t(16) << 20;
  std::uint64_t total = 0;
  while (total < n) {
    const std::size_t step = std::size_t(std::min(n - total, kChunk));
    const std::size_t old = buf.size();
    buf.resize(old + step);
    const std::size_t got = src.read(buf.data() + old, step);
    buf.resize(old + got);
    total += got;
    if (got < step) break;
  }
  return std::size_t(total);
}

// ---- Fashion-MNIST ------------------------------------------------------------------------------

constexpr const char* kInstallHint =
    "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)";

std::string find_idx(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path gz = fs::path(dir) / (stem + ".gz");
  const fs::path raw = fs::path(dir) / stem;
  if (fs::is_regular_file(gz, ec)) return gz.string();
  if (fs::is_regular_file(raw, ec)) return raw.string();
  if (!fs::is_directory(fs::path(dir), ec)) {
    DITTO_FAIL("load_fashion_mnist: missing file ", gz.string(), " (directory ", dir,
               " does not exist): ", kInstallHint);
  }
  DITTO_FAIL("load_fashion_mnist: missing file ", gz.string(), " (nor ", raw.string(),
             "): ", kInstallHint);
}

}  // namespace

// ---- public: IDX ------------------------------------------------------------------------------

Tensor parse_idx(const std::uint8_t* data, std::size_t size, const std::string& what) {
  const IdxHeader h = parse_header(data, size, what);
  check_length(h, size, /*size_is_lower_bound=*/false, what);
  return to_u8_tensor(h, data + h.header_bytes);
}

Tensor read_idx_file(const std::string& path, std::int64_t max_items) {
  DITTO_CHECK(max_items >= 0, "IDX ", path, ": max_items must be >= 0, got ", max_items);
  Source src(path);
  std::vector<std::uint8_t> buf;
  // Header in two steps: 4 bytes give ndims, then 4 * ndims sizes. parse_header reports any
  // shortfall as a truncated header.
  append(src, buf, 4);
  if (buf.size() == 4 && buf[0] == 0 && buf[1] == 0 && buf[3] >= 1 && buf[3] <= 4) {
    append(src, buf, 4 * std::uint64_t(buf[3]));
  }
  IdxHeader h = parse_header(buf.data(), buf.size(), path);
  if (max_items > 0 && max_items < h.dims[0]) {
    // Only the first max_items entries: the payload shrinks before anything is read (dims[0]
    // >= 1, so the division is exact).
    h.payload = h.payload / static_cast<std::uint64_t>(h.dims[0]) *
                static_cast<std::uint64_t>(max_items);
    h.dims[0] = max_items;
    append(src, buf, h.payload);  // grows only as data arrives (no reserve of a declared size)
    check_length(h, buf.size(), /*size_is_lower_bound=*/false, path);
    return to_u8_tensor(h, buf.data() + h.header_bytes);
  }
  // Read at most payload + 1 bytes: the extra byte detects trailing data without reading (or
  // decompressing) an arbitrarily long tail.
  // Reserving at most 64 MiB up front (Fashion-MNIST's largest file is 47 MB) avoids regrowth
  // copies; beyond that the buffer grows only as decompressed data actually arrives.
  buf.reserve(std::size_t(std::min<std::uint64_t>(h.header_bytes + h.payload + 1, 64u << 20)));
  append(src, buf, h.payload + 1);
  const std::uint64_t found = buf.size();
  check_length(h, found, /*size_is_lower_bound=*/found > h.header_bytes + h.payload, path);
  return to_u8_tensor(h, buf.data() + h.header_bytes);
}

// ---- public: Fashion-MNIST ----------------------------------------------------------------------

std::int64_t Dataset::size() const { return labels.defined() ? labels.size(0) : 0; }

Dataset load_fashion_mnist(const std::string& split, const std::string& dir, std::int64_t limit) {
  DITTO_CHECK(split == "train" || split == "test", "load_fashion_mnist: split must be \"train\" ",
              "or \"test\", got \"", split, "\"");
  DITTO_CHECK(!dir.empty(), "load_fashion_mnist: the data directory is an empty string");
  DITTO_CHECK(limit >= 0, "load_fashion_mnist: limit must be >= 0, got ", limit);
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string img_path = find_idx(dir, prefix + "-images-idx3-ubyte");
  const std::string lbl_path = find_idx(dir, prefix + "-labels-idx1-ubyte");
  const Tensor img = read_idx_file(img_path, limit);
  const Tensor lbl = read_idx_file(lbl_path, limit);
  DITTO_CHECK(img.dim() == 3 && img.size(1) == 28 && img.size(2) == 28,
              "load_fashion_mnist: ", img_path, " has shape ", shape_str(img.shape()),
              ", expected [N,28,28]");
  DITTO_CHECK(lbl.dim() == 1, "load_fashion_mnist: ", lbl_path, " has shape ",
              shape_str(lbl.shape()), ", expected [N]");
  const std::int64_t n = img.size(0);
  DITTO_CHECK(lbl.size(0) == n, "load_fashion_mnist: ", img_path, " holds ", n, " images but ",
              lbl_path, " holds ", lbl.size(0), " labels");

  Dataset ds;
  // pixel / 255: float(p) / 255.0f is one correctly rounded f32 division (a table of 256 values).
  float lut[256];
  for (int p = 0; p < 256; ++p) lut[p] = float(p) / 255.0f;
  ds.images = empty({n, 1, 28, 28}, DType::f32, Device::cpu());
  const std::uint8_t* src = img.data_ptr<std::uint8_t>();
  float* dst = ds.images.data_ptr<float>();
  const std::int64_t total = n * 28 * 28;
  for (std::int64_t i = 0; i < total; ++i) dst[i] = lut[src[i]];

  ds.labels = empty({n}, DType::i64, Device::cpu());
  const std::uint8_t* ls = lbl.data_ptr<std::uint8_t>();
  std::int64_t* ld = ds.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    DITTO_CHECK(ls[i] < 10, "load_fashion_mnist: ", lbl_path, ": label ", unsigned(ls[i]),
                " at index ", i, " is not a class in [0, 10)");
    ld[i] = ls[i];
  }
  return ds;
}

// ---- public: DataLoader -------------------------------------------------------------------------

std::vector<std::int64_t> shuffle_order(std::uint64_t seed, std::uint64_t epoch, std::int64_t n) {
  DITTO_CHECK(n >= 0, "shuffle_order: negative size ", n);
  std::vector<std::pair<std::uint64_t, std::int64_t>> keyed(static_cast<std::size_t>(n));
  const std::uint64_t base = epoch * std::uint64_t(n);  // modulo 2^64 by design
  for (std::int64_t i = 0; i < n; ++i) {
    const philox::Words w = philox::draw(seed, base + std::uint64_t(i));
    keyed[std::size_t(i)] = {(std::uint64_t(w.w[0]) << 32) | w.w[1], i};
  }
  // (key, index) pairs are distinct, so this total order makes std::sort's result unique (equal
  // to a stable sort by key with ties broken by index).
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[std::size_t(i)] = keyed[std::size_t(i)].second;
  return order;
}

DataLoader::DataLoader(const Dataset& ds, LoaderOptions opt) : opt_(opt) {
  DITTO_CHECK(ds.images.defined() && ds.labels.defined(),
              "DataLoader: dataset images and labels must be defined");
  DITTO_CHECK(ds.images.device().is_cpu() && ds.labels.device().is_cpu(),
              "DataLoader: dataset must live on cpu (images on ", device_name(ds.images.device()),
              ", labels on ", device_name(ds.labels.device()), ")");
  DITTO_CHECK(
      ds.images.dim() >= 1 && ds.labels.dim() == 1 && ds.images.size(0) == ds.labels.size(0),
      "DataLoader: images ", shape_str(ds.images.shape()), " and labels ",
      shape_str(ds.labels.shape()), " must have the same first dimension N (labels (N))");
  DITTO_CHECK(ds.labels.dtype() == DType::i64, "DataLoader: labels must be i64, got ",
              dtype_name(ds.labels.dtype()));
  DITTO_CHECK(opt.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", opt.batch_size);
  ds_.images = ds.images.contiguous();
  ds_.labels = ds.labels.contiguous();
  build_order();
}

void DataLoader::build_order() {
  const std::int64_t n = ds_.size();
  if (opt_.shuffle) {
    order_ = shuffle_order(opt_.seed, epoch_, n);
  } else {
    order_.resize(static_cast<std::size_t>(n));
    std::iota(order_.begin(), order_.end(), std::int64_t(0));
  }
}

std::int64_t DataLoader::batches_per_epoch() const {
  const std::int64_t n = ds_.size(), b = opt_.batch_size;
  // n / b rounded up without forming n + b - 1 (which overflows for a batch size near 2^63).
  return opt_.drop_last ? n / b : n / b + (n % b != 0 ? 1 : 0);
}

bool DataLoader::next(Tensor& images, Tensor& labels) {
  if (position_ >= std::uint64_t(batches_per_epoch())) return false;
  profile::OpScope scope("data.next");  // for the profiler (core/profiler.h)
  const std::int64_t n = ds_.size();
  const std::int64_t start = std::int64_t(position_) * opt_.batch_size;
  const std::int64_t count = std::min(opt_.batch_size, n - start);
  Shape img_shape = ds_.images.shape();
  img_shape[0] = count;
  images = empty(img_shape, ds_.images.dtype(), Device::cpu());
  labels = empty({count}, DType::i64, Device::cpu());
  // Row gather (index_select on dim 0): one memcpy per sample.
  const std::size_t row_bytes =
      std::size_t(n > 0 ? ds_.images.numel() / n : 0) * dtype_size(ds_.images.dtype());
  const auto* src = static_cast<const std::uint8_t*>(ds_.images.raw_data());
  auto* dst = static_cast<std::uint8_t*>(images.raw_data());
  const std::int64_t* lsrc = ds_.labels.data_ptr<std::int64_t>();
  std::int64_t* ldst = labels.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t i = order_[std::size_t(start + k)];
    if (row_bytes)
      std::memcpy(dst + std::size_t(k) * row_bytes, src + std::size_t(i) * row_bytes, row_bytes);
    ldst[k] = lsrc[i];
  }
  ++position_;
  return true;
}

void DataLoader::next_epoch() {
  ++epoch_;
  position_ = 0;
  build_order();
}

LoaderState DataLoader::state() const { return {epoch_, position_, opt_.seed}; }

void DataLoader::set_state(const LoaderState& s) {
  DITTO_CHECK(s.seed == opt_.seed, "DataLoader::set_state: state has shuffle seed ", s.seed,
              " but this loader was built with seed ", opt_.seed,
              " (construct the loader with the checkpoint's seed)");
  DITTO_CHECK(s.position <= std::uint64_t(batches_per_epoch()), "DataLoader::set_state: position ",
              s.position, " exceeds the ", batches_per_epoch(),
              " batches per epoch (N = ", ds_.size(), ", batch_size = ", opt_.batch_size,
              ", drop_last = ", opt_.drop_last ? "true" : "false", ")");
  const bool rebuild = s.epoch != epoch_;
  epoch_ = s.epoch;
  position_ = s.position;
  if (rebuild) build_order();
}

// ---- public: transforms -------------------------------------------------------------------------

namespace {

Tensor check_bchw(const Tensor& x, const char* op) {
  DITTO_CHECK(x.defined(), op, ": undefined input");
  DITTO_CHECK(x.device().is_cpu(), op, ": input must be on cpu, got ", device_name(x.device()),
              " (shape ", shape_str(x.shape()), ")");
  DITTO_CHECK(x.dtype() == DType::f32, op, ": input must be f32, got ", dtype_name(x.dtype()),
              " (shape ", shape_str(x.shape()), ")");
  DITTO_CHECK(x.dim() == 4, op, ": input must be (B, C, H, W), got shape ", shape_str(x.shape()));
  return x.contiguous();
}

}  // namespace

Tensor normalize(const Tensor& x, double mean, double std) {
  profile::OpScope scope("data.normalize");
  DITTO_CHECK(x.defined(), "normalize: undefined input");
  DITTO_CHECK(x.device().is_cpu() && x.dtype() == DType::f32,
              "normalize: input must be f32 on cpu, got ", dtype_name(x.dtype()), " on ",
              device_name(x.device()), " (shape ", shape_str(x.shape()), ")");
  const float m = float(mean), s = float(std);
  DITTO_CHECK(std::isfinite(m) && std::isfinite(s) && s != 0.0f,
              "normalize: mean and std must be finite in f32 and std != 0, got mean ", mean,
              ", std ", std);
  const Tensor xc = x.contiguous();
  Tensor y = empty(x.shape(), DType::f32, Device::cpu());
  const float* src = xc.data_ptr<float>();
  float* dst = y.data_ptr<float>();
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    const float d = src[i] - m;  // separate roundings, no fma
    dst[i] = d / s;
  }
  return y;
}

Tensor random_crop(const Tensor& x, std::int64_t size, std::int64_t padding, Generator& gen) {
  profile::OpScope scope("data.random_crop");
  const Tensor xc = check_bchw(x, "random_crop");
  const std::int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  DITTO_CHECK(padding >= 0 && size >= 1 && padding <= (std::int64_t(1) << 30) &&
                  size <= H + 2 * padding && size <= W + 2 * padding,
              "random_crop: crop size ", size, " with padding ", padding,
              " does not fit input (shape ", shape_str(x.shape()),
              "); need size >= 1, padding >= 0, size <= H + 2*padding and W + 2*padding");
  const std::uint64_t ry = std::uint64_t(H + 2 * padding - size + 1);
  const std::uint64_t rx = std::uint64_t(W + 2 * padding - size + 1);
  const std::uint64_t first = gen.advance(std::uint64_t(B));
  Tensor y = empty({B, C, size, size}, DType::f32, Device::cpu());
  const float* src = xc.data_ptr<float>();
  float* dst = y.data_ptr<float>();
  for (std::int64_t b = 0; b < B; ++b) {
    const philox::Words w = philox::draw(gen.seed(), first + std::uint64_t(b));
    // Offsets into the padded image; subtract padding to get input coordinates.
    const std::int64_t oy = philox::randint_i64(w, 0, ry) - padding;
    const philox::Words w2 = {{w.w[2], w.w[3], 0u, 0u}};
    const std::int64_t ox = philox::randint_i64(w2, 0, rx) - padding;
    for (std::int64_t c = 0; c < C; ++c) {
      const float* plane = src + (b * C + c) * H * W;
      float* out = dst + (b * C + c) * size * size;
      for (std::int64_t i = 0; i < size; ++i) {
        const std::int64_t yy = oy + i;
        float* row = out + i * size;
        if (yy < 0 || yy >= H) {
          std::fill(row, row + size, 0.0f);
          continue;
        }
        for (std::int64_t j = 0; j < size; ++j) {
          const std::int64_t xx = ox + j;
          row[j] = (xx >= 0 && xx < W) ? plane[yy * W + xx] : 0.0f;
        }
      }
    }
  }
  return y;
}

Tensor random_hflip(const Tensor& x, double p, Generator& gen) {
  profile::OpScope scope("data.random_hflip");
  const Tensor xc = check_bchw(x, "random_hflip");
  DITTO_CHECK(p >= 0.0 && p <= 1.0, "random_hflip: p must be in [0, 1], got ", p, " (shape ",
              shape_str(x.shape()), ")");
  const std::int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const std::uint64_t first = gen.advance(std::uint64_t(B));
  Tensor y = empty(x.shape(), DType::f32, Device::cpu());
  const float* src = xc.data_ptr<float>();
  float* dst = y.data_ptr<float>();
  const std::int64_t per_sample = C * H * W;
  for (std::int64_t b = 0; b < B; ++b) {
    const philox::Words w = philox::draw(gen.seed(), first + std::uint64_t(b));
    const float u = philox::uniform01_f32(w.w[0]);
    const bool flip = double(u) < p;  // exact comparison in f64
    const float* s = src + b * per_sample;
    float* d = dst + b * per_sample;
    if (!flip) {
      std::memcpy(d, s, std::size_t(per_sample) * sizeof(float));
      continue;
    }
    for (std::int64_t r = 0; r < C * H; ++r) {
      for (std::int64_t j = 0; j < W; ++j) d[r * W + j] = s[r * W + (W - 1 - j)];
    }
  }
  return y;
}

}  // namespace ditto::data
