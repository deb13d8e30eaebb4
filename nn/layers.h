// ditto — layers: Conv2d, BatchNorm1d/2d, Dropout, Linear, ReLU, MaxPool2d, AvgPool2d,
// AdaptiveAvgPool2d, AdaptiveMaxPool2d, Upsample, Flatten, Sequential, Embedding. PyTorch's names,
// defaults, parameter/buffer names and initialisation (reset_parameters, weight then bias, drawn
// from the ditto::Generator given at construction).
// Options are C++20 aggregates with PyTorch's argument names:
//   nn::Conv2d conv({.in_channels = 1, .out_channels = 16, .kernel_size = 3, .padding = 1}, gen);
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/generator.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "nn/module.h"

namespace ditto::nn {

// ---- Conv2d --------------------------------------------------------------------------------

/// torch.nn.Conv2d arguments (padding_mode is always 'zeros'). kernel_size is required.
struct Conv2dOptions {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  Size2 kernel_size = 0;
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
  DType dtype = DType::f32;
};

/// 2-D convolution. weight (out_channels, in_channels/groups, kH, kW) ~ kaiming_uniform_(a =
/// sqrt(5)); bias (out_channels) ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in =
/// in_channels/groups * kH * kW. Created on the default device.
class Conv2d : public Module {
 public:
  Conv2d(Conv2dOptions options, Generator& gen);
  /// x (N, C, H, W) or (C, H, W) -> (N, out_channels, OH, OW) / (out_channels, OH, OW).
  Tensor forward(const Tensor& x) override;
  /// Re-draws weight and bias from gen (PyTorch's reset_parameters).
  void reset_parameters(Generator& gen);

  const Conv2dOptions& options() const { return options_; }
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;

  Tensor weight;  // (out_channels, in_channels/groups, kH, kW)
  Tensor bias;    // (out_channels) or undefined when options.bias == false

 private:
  Conv2dOptions options_;
};

// ---- Linear --------------------------------------------------------------------------------

/// torch.nn.Linear arguments.
struct LinearOptions {
  std::int64_t in_features = 0;
  std::int64_t out_features = 0;
  bool bias = true;
  DType dtype = DType::f32;
};

/// y = x @ weight^T + bias. weight (out, in) ~ kaiming_uniform_(a = sqrt(5)); bias (out) ~
/// U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(LinearOptions options, Generator& gen);
  /// x (..., in_features) -> (..., out_features).
  Tensor forward(const Tensor& x) override;
  void reset_parameters(Generator& gen);

  const LinearOptions& options() const { return options_; }
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  Tensor weight;  // (out_features, in_features)
  Tensor bias;    // (out_features) or undefined

 private:
  LinearOptions options_;
};

// ---- BatchNorm -----------------------------------------------------------------------------

/// torch.nn.BatchNorm{1,2}d arguments. momentum = std::nullopt: cumulative moving average
/// (factor 1 / num_batches_tracked), as PyTorch's momentum=None.
struct BatchNormOptions {
  std::int64_t num_features = 0;
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
  DType dtype = DType::f32;
};

/// Shared implementation of BatchNorm1d/2d (PyTorch's _BatchNorm). Parameters weight (ones) and
/// bias (zeros) when affine; buffers running_mean (zeros), running_var (ones) and
/// num_batches_tracked (0-d i64, 0) when track_running_stats. Training: batch statistics; the
/// running statistics (if tracked) are updated and num_batches_tracked incremented. Eval:
/// running statistics if tracked, else batch statistics.
class BatchNormBase : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  /// Running statistics back to zeros/ones and the counter to 0.
  void reset_running_stats();
  /// reset_running_stats() and weight/bias back to ones/zeros.
  void reset_parameters();

  const BatchNormOptions& options() const { return options_; }
  std::string extra_repr() const override;

  Tensor weight;               // (C) or undefined (affine == false)
  Tensor bias;                 // (C) or undefined
  Tensor running_mean;         // (C) or undefined (track_running_stats == false)
  Tensor running_var;          // (C) or undefined
  Tensor num_batches_tracked;  // () i64 or undefined

 protected:
  explicit BatchNormBase(BatchNormOptions options);
  /// Throws when x's rank does not suit the layer.
  virtual void check_input_dim(const Tensor& x) const = 0;

 private:
  BatchNormOptions options_;
};

using BatchNorm1dOptions = BatchNormOptions;
using BatchNorm2dOptions = BatchNormOptions;

/// Batch normalisation over (N, C) or (N, C, L): statistics per channel C.
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(BatchNormOptions options) : BatchNormBase(options) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input_dim(const Tensor& x) const override;
};

/// Batch normalisation over (N, C, H, W): statistics per channel C.
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(BatchNormOptions options) : BatchNormBase(options) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input_dim(const Tensor& x) const override;
};

// ---- Dropout -------------------------------------------------------------------------------

/// torch.nn.Dropout arguments.
struct DropoutOptions {
  double p = 0.5;
};

/// In training, zeroes each element with probability p and scales the rest by 1/(1-p), with the
/// mask drawn from the Generator given at construction (which must outlive the layer); the
/// identity in eval mode.
class Dropout : public Module {
 public:
  Dropout(DropoutOptions options, Generator& gen);
  explicit Dropout(Generator& gen) : Dropout(DropoutOptions{}, gen) {}
  Tensor forward(const Tensor& x) override;

  const DropoutOptions& options() const { return options_; }
  Generator& generator() const { return *gen_; }
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;

 private:
  DropoutOptions options_;
  Generator* gen_;  // not owned
};

// ---- parameter-free layers -------------------------------------------------------------------

/// max(x, 0) elementwise.
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

/// torch.nn.MaxPool2d arguments (stride defaults to kernel_size).
struct MaxPool2dOptions {
  Size2 kernel_size = 0;
  OptionalSize2 stride = {};
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(MaxPool2dOptions options);
  Tensor forward(const Tensor& x) override;
  const MaxPool2dOptions& options() const { return options_; }
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

 private:
  MaxPool2dOptions options_;
};

/// torch.nn.AvgPool2d arguments (stride defaults to kernel_size; no divisor_override).
struct AvgPool2dOptions {
  Size2 kernel_size = 0;
  OptionalSize2 stride = {};
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(AvgPool2dOptions options);
  Tensor forward(const Tensor& x) override;
  const AvgPool2dOptions& options() const { return options_; }
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

 private:
  AvgPool2dOptions options_;
};

/// torch.nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d arguments (return_indices is not offered).
struct AdaptivePool2dOptions {
  Size2 output_size = 1;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(AdaptivePool2dOptions options);
  Tensor forward(const Tensor& x) override;
  const AdaptivePool2dOptions& options() const { return options_; }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;

 private:
  AdaptivePool2dOptions options_;
};

class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(AdaptivePool2dOptions options);
  Tensor forward(const Tensor& x) override;
  const AdaptivePool2dOptions& options() const { return options_; }
  std::string type_name() const override { return "AdaptiveMaxPool2d"; }
  std::string extra_repr() const override;

 private:
  AdaptivePool2dOptions options_;
};

/// torch.nn.Upsample arguments: interpolate's (exactly one of size and scale_factor;
/// align_corners for bilinear only).
using UpsampleOptions = ::ditto::InterpolateOptions;

/// Resamples (N, C, H, W) inputs with interpolate (no state).
///   nn::Upsample up({.scale_factor = 2.0, .mode = InterpolateMode::bilinear});
class Upsample : public Module {
 public:
  explicit Upsample(UpsampleOptions options);
  Tensor forward(const Tensor& x) override;
  const UpsampleOptions& options() const { return options_; }
  std::string type_name() const override { return "Upsample"; }
  /// PyTorch's: "scale_factor=2.0, mode='nearest'" or "size=(4, 6), mode='bilinear'".
  std::string extra_repr() const override;

 private:
  UpsampleOptions options_;
};

/// torch.nn.Flatten arguments.
struct FlattenOptions {
  std::int64_t start_dim = 1;
  std::int64_t end_dim = -1;
};

/// Flattens dims start_dim..end_dim into one (a view when the strides allow).
class Flatten : public Module {
 public:
  explicit Flatten(FlattenOptions options = {}) : options_(options) {}
  Tensor forward(const Tensor& x) override;
  const FlattenOptions& options() const { return options_; }
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;

 private:
  FlattenOptions options_;
};

// ---- Embedding -----------------------------------------------------------------------------

/// torch.nn.Embedding arguments (no padding_idx / max_norm / sparse).
struct EmbeddingOptions {
  std::int64_t num_embeddings = 0;
  std::int64_t embedding_dim = 0;
  DType dtype = DType::f32;
};

/// A lookup table: weight (num_embeddings, embedding_dim) ~ N(0, 1); forward(indices) picks rows.
class Embedding : public Module {
 public:
  Embedding(EmbeddingOptions options, Generator& gen);
  /// i64 indices of any shape -> (indices.shape..., embedding_dim).
  Tensor forward(const Tensor& indices) override;
  void reset_parameters(Generator& gen);

  const EmbeddingOptions& options() const { return options_; }
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  Tensor weight;  // (num_embeddings, embedding_dim)

 private:
  EmbeddingOptions options_;
};

// ---- Sequential ----------------------------------------------------------------------------

template <typename M>
concept ModuleValue =
    std::is_base_of_v<Module, std::remove_cvref_t<M>> && !std::is_lvalue_reference_v<M>;

/// Children named "0", "1", ... in order; forward chains them.
///   nn::Sequential seq{std::make_shared<nn::Linear>(...), std::make_shared<nn::ReLU>()};
///   nn::Sequential seq(nn::Linear({...}, gen), nn::ReLU());   // modules moved in
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  template <ModuleValue... Ms>
  requires(sizeof...(Ms) > 0) explicit Sequential(Ms&&... modules) {
    (push_back(std::forward<Ms>(modules)), ...);
  }

  /// Appends a module as child str(size()).
  void push_back(std::shared_ptr<Module> module);
  template <ModuleValue M>
  void push_back(M&& module) {
    push_back(
        std::shared_ptr<Module>(std::make_shared<std::remove_cvref_t<M>>(std::forward<M>(module))));
  }

  std::size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  /// The i-th module (bounds-checked).
  std::shared_ptr<Module> operator[](std::size_t i) const;
  /// The i-th module as M (throws when it is not an M).
  template <typename M>
  std::shared_ptr<M> at(std::size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    DITTO_CHECK(m != nullptr, "Sequential::at: module ", i, " is a ", (*this)[i]->type_name(),
                ", not the requested type");
    return m;
  }

  /// x through every module in order (the identity when empty).
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace ditto::nn
