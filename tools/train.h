// ditto — `ditto train`: trains a small CNN on Fashion-MNIST with checkpoints, bitwise resume and
// a fingerprint of the final weights. Usage and flags: `ditto train --help` (text in train.cpp)
// and README.md, section "The `ditto` program".
#pragma once
#include <memory>
#include <span>

#include "core/generator.h"
#include "core/tensor.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace ditto::tools {

/// The model `ditto train` trains (PyTorch names in brackets):
///   conv 1->16 3x3 pad 1 [conv1] -> BatchNorm2d(16) [bn1] -> ReLU -> MaxPool 2 [pool] ->
///   Dropout(p) [drop] -> flatten -> Linear(16*14*14 -> 10) [fc].
/// state_dict keys: conv1.weight, conv1.bias, bn1.weight, bn1.bias, bn1.running_mean,
/// bn1.running_var, bn1.num_batches_tracked, fc.weight, fc.bias. Built on the default device
/// (cpu); weights are drawn from `init` in PyTorch's order (conv1, then fc), dropout masks from
/// `dropout` (which must outlive the model).
class FashionCnn : public nn::Module {
 public:
  FashionCnn(Generator& init, Generator& dropout, double dropout_p = 0.25);
  /// x (N, 1, 28, 28) -> logits (N, 10).
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "FashionCnn"; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> pool;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> fc;
};

/// `ditto train [flags]` (args: the arguments after "train"). Returns the exit status: 0 done,
/// 1 error (ditto::Error: missing data, bad checkpoint, unavailable device), 2 bad flags,
/// 130 interrupted by SIGINT (after writing <out>/interrupted.ditto).
int train_main(std::span<char* const> args);

}  // namespace ditto::tools
