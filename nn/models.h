// ditto — ready-made models. FashionCnn is the model `ditto train`, the tests, the lab and the
// benchmarks train (one definition, with PyTorch's module names).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/generator.h"
#include "core/tensor.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace ditto::nn {

/// FashionCnn arguments: `channels` convolution channels on `image_size` x `image_size` single-
/// channel images (image_size even), dropout probability `dropout`.
struct FashionCnnOptions {
  std::int64_t channels = 16;
  std::int64_t image_size = 28;
  double dropout = 0.25;
};

/// conv 1->C 3x3 pad 1 [conv1] -> BatchNorm2d(C) [bn1] -> ReLU -> MaxPool 2 [pool] ->
/// Dropout(p) [drop] -> flatten -> Linear(C*(S/2)^2 -> 10) [fc]. state_dict keys: conv1.weight,
/// conv1.bias, bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var, bn1.num_batches_tracked,
/// fc.weight, fc.bias. Built on the default device; weights drawn from `init` in PyTorch's order
/// (conv1, then fc); dropout masks from `dropout`, which must outlive the model.
class FashionCnn : public Module {
 public:
  FashionCnn(FashionCnnOptions options, Generator& init, Generator& dropout);
  /// x (N, 1, S, S) -> logits (N, 10).
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FashionCnn"; }
  const FashionCnnOptions& options() const { return options_; }

  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<MaxPool2d> pool;
  std::shared_ptr<Dropout> drop;
  std::shared_ptr<Linear> fc;

 private:
  FashionCnnOptions options_;
};

}  // namespace ditto::nn
