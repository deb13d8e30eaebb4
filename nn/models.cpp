// ditto — ready-made models (nn/models.h).
#include "nn/models.h"

#include "core/error.h"
#include "core/ops.h"

namespace ditto::nn {

FashionCnn::FashionCnn(FashionCnnOptions options, Generator& init, Generator& dropout)
    : options_(options) {
  DITTO_CHECK(options.channels >= 1 && options.image_size >= 2 && options.image_size % 2 == 0,
              "FashionCnn: channels must be >= 1 and image_size even and >= 2, got channels ",
              options.channels, ", image_size ", options.image_size);
  const std::int64_t half = options.image_size / 2;
  conv1 = register_module(
      "conv1", std::make_shared<Conv2d>(Conv2dOptions{.in_channels = 1,
                                                      .out_channels = options.channels,
                                                      .kernel_size = 3,
                                                      .padding = 1},
                                        init));
  bn1 = register_module(
      "bn1", std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = options.channels}));
  pool = register_module("pool",
                         std::make_shared<MaxPool2d>(MaxPool2dOptions{.kernel_size = 2}));
  drop = register_module(
      "drop", std::make_shared<Dropout>(DropoutOptions{.p = options.dropout}, dropout));
  fc = register_module(
      "fc", std::make_shared<Linear>(
                LinearOptions{.in_features = options.channels * half * half, .out_features = 10},
                init));
}

Tensor FashionCnn::forward(const Tensor& x) {
  Tensor h = relu((*bn1)((*conv1)(x)));  // (N, C, S, S)
  h = (*drop)((*pool)(h));               // (N, C, S/2, S/2)
  return (*fc)(h.flatten(1));            // (N, 10)
}

}  // namespace ditto::nn
