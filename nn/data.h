// ditto — data: the Fashion-MNIST IDX reader (.gz through zlib), a seeded shuffling DataLoader
// whose order is identical on every machine, and per-sample random transforms driven by a
// Generator (normalize, random_crop with padding, random_hflip).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"

namespace ditto::data {

/// Images (N, 1, 28, 28) f32 in [0, 1] (pixel / 255 in f32) on cpu; labels (N) i64 on cpu.
/// (Each pixel is float(p) / 255.0f: one correctly rounded f32 division, so the bits are the
/// same everywhere.)
struct Dataset {
  Tensor images;  // (N, 1, 28, 28) f32
  Tensor labels;  // (N) i64, values in [0, 10)
  std::int64_t size() const;
};

/// Default directory of the Debian package dataset-fashion-mnist.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// split "train" (60000) or "test" (10000); reads
/// <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Missing files -> ditto::Error naming
/// the path and "install the Debian package dataset-fashion-mnist".
/// limit > 0: only the first `limit` samples are decoded and kept (the rest of each file is not
/// read, so memory and time follow the limit, not the file's declared size).
Dataset load_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir,
                           std::int64_t limit = 0);

/// IDX parsing from memory (what the fuzzer drives): magic, dtype u8 only, dims, sizes checked
/// against the buffer length; -> u8 tensor of the stored shape. Throws ditto::Error, never crashes.
/// Format (big-endian): bytes 0x00 0x00, type (0x08 = u8; 0x09/0x0B/0x0C/0x0D/0x0E are valid IDX
/// types but unsupported here), ndims (1..4), ndims u32 sizes, then exactly prod(sizes) bytes.
/// `what` names the source (file path) in every error message.
Tensor parse_idx(const std::uint8_t* data, std::size_t size, const std::string& what);

/// Reads a file, gunzipping when it ends in .gz (zlib), then parse_idx.
/// The decompressed size is capped: the IDX header (read first) fixes the exact payload length,
/// so a .gz bomb never makes the reader allocate more than header + payload + 1 bytes, and
/// memory grows only as decompressed data actually arrives (a header that declares more than
/// the file holds costs nothing). max_items > 0: only the first max_items entries of dim 0 are
/// read and returned (shape [min(n, max_items), ...]); the rest of the file is not read, so its
/// length is not checked either.
Tensor read_idx_file(const std::string& path, std::int64_t max_items = 0);

/// Loader options. batch_size >= 1.
struct LoaderOptions {
  std::int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;
  std::uint64_t seed = 0;
};

/// Saved/restored by checkpoints.
struct LoaderState {
  std::uint64_t epoch = 0;
  std::uint64_t position = 0;  // batches consumed in this epoch
  std::uint64_t seed = 0;
};

/// Iterates a Dataset in batches. With shuffle, epoch e visits the samples in the order
/// shuffle_order(seed, e, N) (see below), which depends only on (seed, e, N): identical on every
/// machine, thread count and run, and reproducible from a LoaderState alone. Without shuffle the
/// order is 0..N-1. The last short batch is returned unless drop_last.
class DataLoader {
 public:
  DataLoader(const Dataset& ds, LoaderOptions opt);
  /// Next batch of the current epoch: images (B,1,28,28) f32, labels (B) i64, on cpu; false at
  /// the epoch's end (then call next_epoch()).
  bool next(Tensor& images, Tensor& labels);
  void next_epoch();  // epoch += 1, position = 0
  std::int64_t batches_per_epoch() const;
  LoaderState state() const;           // epoch, position (batches consumed this epoch), seed
  void set_state(const LoaderState&);  // validates (position <= batches_per_epoch, seed)

  const LoaderOptions& options() const { return opt_; }
  /// The sample order of the current epoch (a permutation of 0..N-1).
  const std::vector<std::int64_t>& order() const { return order_; }

 private:
  void build_order();

  Dataset ds_;
  LoaderOptions opt_;
  std::uint64_t epoch_ = 0;
  std::uint64_t position_ = 0;
  std::vector<std::int64_t> order_;  // (N) sample indices of the current epoch
};

/// The shuffle permutation of epoch `epoch` over n samples: indices 0..n-1 stably sorted by the
/// 64-bit key (w0 << 32 | w1) of philox::draw(seed, epoch * n + i) (modulo 2^64), ties by index.
std::vector<std::int64_t> shuffle_order(std::uint64_t seed, std::uint64_t epoch, std::int64_t n);

// ---- transforms: x (B, C, H, W) f32 on cpu; results are new contiguous cpu tensors ----------

/// (x - mean) / std elementwise, mean and std rounded to f32 first, two f32 roundings.
Tensor normalize(const Tensor& x, double mean, double std);

/// Zero-pads H and W by `padding` on each side, then crops size x size per sample at offsets
/// (dy, dx) in [0, H + 2*padding - size] x [0, W + 2*padding - size]. Counter use: reserves
/// exactly B counters from gen (gen.advance(B)); sample b uses draw(seed, first + b):
/// dy = randint from (w0 << 32 | w1), dx = randint from (w2 << 32 | w3). Requires
/// size <= H + 2*padding and size <= W + 2*padding, padding >= 0, size >= 1.
Tensor random_crop(const Tensor& x, std::int64_t size, std::int64_t padding, Generator& gen);

/// Flips sample b horizontally (along W) when its uniform f32 draw u = uniform01_f32(w0) of
/// draw(seed, first + b) is < p. Reserves exactly B counters (gen.advance(B)). p in [0, 1].
Tensor random_hflip(const Tensor& x, double p, Generator& gen);

}  // namespace ditto::data
