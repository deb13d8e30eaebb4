// ditto — the benchmark suite's cases, written once: the shapes `bench_suite` (ditto, per mode)
// and `bench_torch` (libtorch, the same shapes) run, and the names `ditto bench` joins their
// results by. Plain C++ (no ditto or torch headers), so both programs include it.
//
// A benchmark's name is "<family>/<case>/<variant>/threads:<t>", variant one of "det", "fast"
// (ditto's two modes) or "torch"; `ditto bench` parses exactly that (tools/bench.cpp).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ditto_bench {

enum class Kind {
  sum,                // x.sum() over the flat shape
  mean,               // x.mean()
  var,                // x.var() (unbiased)
  sum_dims,           // x.sum(dims) over an (N, C, H, W) tensor; `dims` says which
  matmul,             // (n, n) @ (n, n), n = shape[0]
  conv_forward,       // conv2d(x, w), 3x3, padding 1, no bias; out channels = `param`
  conv_backward_data, // the same conv's input gradient alone (forward untimed)
  conv_backward_weight,  // the same conv's weight gradient alone (forward untimed)
  batch_norm,         // training-mode batch_norm forward + backward, affine, running stats
  dropout,            // dropout(p = 0.25) forward + backward
  max_pool_2x2,       // max_pool2d(2) forward + backward
  max_pool_3x3,       // max_pool2d(3, stride 2, padding 1) forward + backward
  avg_pool_3x3,       // avg_pool2d(3, stride 2, padding 1) forward + backward
  adaptive_avg_pool,  // adaptive_avg_pool2d(param x param) forward + backward
  index_add,          // out (shape[0], shape[1]) index_add of (shape[2], shape[1]) rows at
                      // indices drawn from `param` distinct values (param = shape[2]: a
                      // permutation, every target once)
  train_step,         // one step of the default model (FashionCnn, Adam), batch shape[0]
  train_epoch,        // one epoch of `ditto train`'s job (Fashion-MNIST, batch 64, Adam)
};

/// How a row's rate is reported: bytes read per second, or floating-point operations per second.
enum class Unit { bytes, flops, none };

struct Case {
  const char* family;  // the BENCH.md table it goes in
  const char* name;    // unique within the family
  Kind kind;
  std::array<std::int64_t, 4> shape;  // (N, C, H, W), or sizes as Kind says; unused trailing 1s
  std::int64_t param = 0;             // as Kind says
  std::vector<std::int64_t> dims = {};  // sum_dims only
  bool long_running = false;          // skipped by `ditto bench --quick`
};

inline std::int64_t numel(const Case& c) {
  return c.shape[0] * c.shape[1] * c.shape[2] * c.shape[3];
}

/// The shape of the case's main input: flat (n) for the full reductions, (n, n) for matmul,
/// else (N, C, H, W).
inline std::vector<std::int64_t> input_shape(const Case& c) {
  switch (c.kind) {
    case Kind::sum:
    case Kind::mean:
    case Kind::var: return {c.shape[0]};
    case Kind::matmul: return {c.shape[0], c.shape[0]};
    default: return {c.shape[0], c.shape[1], c.shape[2], c.shape[3]};
  }
}

/// Work per iteration: bytes of the input read once (memory-bound kinds) or FLOPs (2 per
/// multiply-add, for matmul and the convolution passes).
inline double work(const Case& c) {
  switch (c.kind) {
    case Kind::matmul: return 2.0 * double(c.shape[0]) * double(c.shape[0]) * double(c.shape[0]);
    case Kind::conv_forward:
    case Kind::conv_backward_data:
    case Kind::conv_backward_weight:  // N*OC*H*W outputs, each IC*9 multiply-adds (padding 1)
      return 2.0 * double(c.shape[0]) * double(c.param) * double(c.shape[2]) * double(c.shape[3]) *
             double(c.shape[1]) * 9.0;
    case Kind::index_add: return 4.0 * double(c.shape[2]) * double(c.shape[1]);
    case Kind::train_step:
    case Kind::train_epoch: return 0.0;
    default: return 4.0 * double(numel(c));
  }
}

inline Unit unit(const Case& c) {
  switch (c.kind) {
    case Kind::matmul:
    case Kind::conv_forward:
    case Kind::conv_backward_data:
    case Kind::conv_backward_weight: return Unit::flops;
    case Kind::train_step:
    case Kind::train_epoch: return Unit::none;
    default: return Unit::bytes;
  }
}

/// "family/name/variant/threads:t".
inline std::string bench_name(const Case& c, const char* variant, int threads) {
  return std::string(c.family) + "/" + c.name + "/" + variant + "/threads:" +
         std::to_string(threads);
}

/// The thread counts every case runs at.
inline constexpr std::array<int, 2> kThreads = {1, 2};

/// Every case, in report order. 2^24 f32 values = (64, 16, 128, 128).
inline const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"reduce", "sum 2^16", Kind::sum, {1 << 16, 1, 1, 1}},
      {"reduce", "sum 2^20", Kind::sum, {1 << 20, 1, 1, 1}},
      {"reduce", "sum 2^24", Kind::sum, {1 << 24, 1, 1, 1}},
      {"reduce", "mean 2^16", Kind::mean, {1 << 16, 1, 1, 1}},
      {"reduce", "mean 2^20", Kind::mean, {1 << 20, 1, 1, 1}},
      {"reduce", "mean 2^24", Kind::mean, {1 << 24, 1, 1, 1}},
      {"reduce", "var 2^16", Kind::var, {1 << 16, 1, 1, 1}},
      {"reduce", "var 2^20", Kind::var, {1 << 20, 1, 1, 1}},
      {"reduce", "var 2^24", Kind::var, {1 << 24, 1, 1, 1}},
      {"reduce", "sum (64,16,28,28) dims 0,2,3", Kind::sum_dims, {64, 16, 28, 28}, 0, {0, 2, 3}},
      {"reduce", "sum (64,16,28,28) dim 1", Kind::sum_dims, {64, 16, 28, 28}, 0, {1}},
      {"reduce", "sum (64,16,28,28) dims 2,3", Kind::sum_dims, {64, 16, 28, 28}, 0, {2, 3}},
      {"matmul", "256^3", Kind::matmul, {256, 1, 1, 1}},
      {"matmul", "1024^3", Kind::matmul, {1024, 1, 1, 1}},
      {"conv2d", "fwd (64,1,28,28) 1->16", Kind::conv_forward, {64, 1, 28, 28}, 16},
      {"conv2d", "bwd-data (64,1,28,28) 1->16", Kind::conv_backward_data, {64, 1, 28, 28}, 16},
      {"conv2d", "bwd-weight (64,1,28,28) 1->16", Kind::conv_backward_weight, {64, 1, 28, 28}, 16},
      {"conv2d", "fwd (64,16,28,28) 16->32", Kind::conv_forward, {64, 16, 28, 28}, 32},
      {"conv2d", "bwd-data (64,16,28,28) 16->32", Kind::conv_backward_data, {64, 16, 28, 28}, 32},
      {"conv2d", "bwd-weight (64,16,28,28) 16->32", Kind::conv_backward_weight, {64, 16, 28, 28},
       32},
      {"conv2d", "fwd (32,64,32,32) 64->64", Kind::conv_forward, {32, 64, 32, 32}, 64},
      {"conv2d", "bwd-data (32,64,32,32) 64->64", Kind::conv_backward_data, {32, 64, 32, 32}, 64},
      {"conv2d", "bwd-weight (32,64,32,32) 64->64", Kind::conv_backward_weight, {32, 64, 32, 32},
       64},
      {"batch_norm", "train fwd+bwd (64,16,28,28)", Kind::batch_norm, {64, 16, 28, 28}},
      {"batch_norm", "train fwd+bwd 2^24", Kind::batch_norm, {64, 16, 128, 128}},
      {"dropout", "p=0.25 fwd+bwd (64,16,28,28)", Kind::dropout, {64, 16, 28, 28}},
      {"dropout", "p=0.25 fwd+bwd 2^24", Kind::dropout, {64, 16, 128, 128}},
      {"pool", "max 2x2 fwd+bwd (64,16,28,28)", Kind::max_pool_2x2, {64, 16, 28, 28}},
      {"pool", "max 3x3/2 pad 1 fwd+bwd 2^24", Kind::max_pool_3x3, {64, 16, 128, 128}},
      {"pool", "avg 3x3/2 pad 1 fwd+bwd 2^24", Kind::avg_pool_3x3, {64, 16, 128, 128}},
      {"pool", "adaptive avg 128->48 fwd+bwd 2^24", Kind::adaptive_avg_pool, {64, 16, 128, 128},
       48},
      {"index_add", "heavy repetition: 65536 rows onto 100", Kind::index_add, {1000, 64, 65536, 1},
       100},
      {"index_add", "distinct: 65536 rows onto 65536", Kind::index_add, {65536, 64, 65536, 1},
       65536},
      {"train", "step, batch 64", Kind::train_step, {64, 1, 28, 28}},
      {"train", "epoch of Fashion-MNIST, batch 64", Kind::train_epoch, {64, 1, 28, 28}, 0, {},
       true},
  };
  return all;
}

/// The same model and optimizer on both sides: conv 1->16 3x3 pad 1, BatchNorm2d, ReLU,
/// max_pool 2, dropout 0.25, Linear(16*14*14 -> 10); Adam lr 1e-3; cross-entropy.
inline constexpr double kAdamLr = 1e-3;
inline constexpr double kDropout = 0.25;
/// Fashion-MNIST normalisation (ditto::TrainerConfig's defaults).
inline constexpr double kPixelMean = 0.2860, kPixelStd = 0.3530;

}  // namespace ditto_bench
