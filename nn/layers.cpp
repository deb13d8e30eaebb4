// ditto — layers (see nn/layers.h). Each layer validates its options at construction (naming
// the layer and the offending value), initialises like PyTorch's reset_parameters, and calls
// the matching op of core/ops.h in forward.
#include "nn/layers.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "nn/init.h"

namespace ditto::nn {
namespace {

const double kSqrt5 = std::sqrt(5.0);

// Python's repr of a 2-tuple, "(3, 3)".
std::string tuple_str(Size2 s) {
  return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}
// Pooling layers print sizes as given: an int when square, else a tuple.
std::string size_str(Size2 s) { return s.h == s.w ? std::to_string(s.h) : tuple_str(s); }
const char* py_bool(bool b) { return b ? "True" : "False"; }
std::string py_float(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_size(const char* layer, const char* what, Size2 s, std::int64_t min) {
  DITTO_CHECK(s.h >= min && s.w >= min, layer, ": ", what, " must be >= ", min, ", got ",
              tuple_str(s));
}

// PyTorch's bias bound for Conv2d/Linear: 1/sqrt(fan_in), 0 for fan_in == 0.
void init_bias(const Tensor& weight, const Tensor& bias, Generator& gen) {
  if (!bias.defined()) return;
  const std::int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
  const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  init::uniform_(bias, -bound, bound, gen);
}

}  // namespace

// ---- Conv2d ------------------------------------------------------------------------------------

Conv2d::Conv2d(Conv2dOptions options, Generator& gen) : options_(options) {
  const Conv2dOptions& o = options_;
  DITTO_CHECK(o.in_channels > 0 && o.out_channels > 0,
              "Conv2d: in_channels and out_channels must be positive, got ", o.in_channels, " and ",
              o.out_channels);
  DITTO_CHECK(o.groups > 0, "Conv2d: groups must be positive, got ", o.groups);
  DITTO_CHECK(o.in_channels % o.groups == 0, "Conv2d: in_channels (", o.in_channels,
              ") must be divisible by groups (", o.groups, ")");
  DITTO_CHECK(o.out_channels % o.groups == 0, "Conv2d: out_channels (", o.out_channels,
              ") must be divisible by groups (", o.groups, ")");
  check_size("Conv2d", "kernel_size", o.kernel_size, 1);
  check_size("Conv2d", "stride", o.stride, 1);
  check_size("Conv2d", "padding", o.padding, 0);
  check_size("Conv2d", "dilation", o.dilation, 1);
  weight = register_parameter(
      "weight",
      empty({o.out_channels, o.in_channels / o.groups, o.kernel_size.h, o.kernel_size.w}, o.dtype));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}, o.dtype));
  reset_parameters(gen);
}

void Conv2d::reset_parameters(Generator& gen) {
  init::kaiming_uniform_(weight, kSqrt5, gen);
  init_bias(weight, bias, gen);
}

Tensor Conv2d::forward(const Tensor& x) {
  const Conv2dOptions& o = options_;
  return conv2d(x, weight, bias, o.stride, o.padding, o.dilation, o.groups);
}

std::string Conv2d::extra_repr() const {
  const Conv2dOptions& o = options_;
  std::string s = std::to_string(o.in_channels) + ", " + std::to_string(o.out_channels) +
                  ", kernel_size=" + tuple_str(o.kernel_size) + ", stride=" + tuple_str(o.stride);
  if (o.padding.h != 0 || o.padding.w != 0) s += ", padding=" + tuple_str(o.padding);
  if (o.dilation.h != 1 || o.dilation.w != 1) s += ", dilation=" + tuple_str(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!o.bias) s += ", bias=False";
  return s;
}

// ---- Linear ------------------------------------------------------------------------------------

Linear::Linear(LinearOptions options, Generator& gen) : options_(options) {
  DITTO_CHECK(options_.in_features >= 0 && options_.out_features >= 0,
              "Linear: in_features and out_features must be >= 0, got ", options_.in_features,
              " and ", options_.out_features);
  weight = register_parameter("weight",
                              empty({options_.out_features, options_.in_features}, options_.dtype));
  if (options_.bias)
    bias = register_parameter("bias", empty({options_.out_features}, options_.dtype));
  reset_parameters(gen);
}

void Linear::reset_parameters(Generator& gen) {
  init::kaiming_uniform_(weight, kSqrt5, gen);
  init_bias(weight, bias, gen);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(options_.in_features) +
         ", out_features=" + std::to_string(options_.out_features) +
         ", bias=" + py_bool(options_.bias);
}

// ---- BatchNorm ---------------------------------------------------------------------------------

BatchNormBase::BatchNormBase(BatchNormOptions options) : options_(options) {
  const BatchNormOptions& o = options_;
  DITTO_CHECK(o.num_features > 0, "BatchNorm: num_features must be positive, got ", o.num_features);
  DITTO_CHECK(o.eps > 0, "BatchNorm: eps must be positive, got ", o.eps);
  DITTO_CHECK(!o.momentum || (*o.momentum >= 0 && *o.momentum <= 1),
              "BatchNorm: momentum must lie in [0, 1], got ", o.momentum.value_or(0));
  if (o.affine) {
    weight = register_parameter("weight", empty({o.num_features}, o.dtype));
    bias = register_parameter("bias", empty({o.num_features}, o.dtype));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", empty({o.num_features}, o.dtype));
    running_var = register_buffer("running_var", empty({o.num_features}, o.dtype));
    num_batches_tracked = register_buffer("num_batches_tracked", scalar_tensor(0.0, DType::i64));
  }
  reset_parameters();
}

void BatchNormBase::reset_running_stats() {
  if (!options_.track_running_stats) return;
  NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNormBase::reset_parameters() {
  reset_running_stats();
  if (options_.affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

// PyTorch's _BatchNorm.forward, except that num_batches_tracked is incremented only once the
// batch has been normalised successfully (the factor is computed from the incremented count, so
// the result is the same), so that a rejected input leaves the layer's state untouched.
Tensor BatchNormBase::forward(const Tensor& x) {
  check_input_dim(x);
  const BatchNormOptions& o = options_;
  DITTO_CHECK(x.size(1) == o.num_features, type_name(), ": input has ", x.size(1),
              " channels, expected num_features = ", o.num_features, " (input ",
              shape_str(x.shape()), ")");
  const bool update_stats = is_training() && o.track_running_stats;
  double factor = o.momentum.value_or(0.0);
  if (update_stats && !o.momentum) {
    // Cumulative moving average: batch k (1-based) gets weight 1/k.
    const auto next = num_batches_tracked.item<std::int64_t>() + 1;
    factor = 1.0 / static_cast<double>(next);
  }
  // Without tracked statistics the batch's own are used in eval too.
  const bool use_batch_stats = is_training() || !o.track_running_stats;
  Tensor y = batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, factor, o.eps);
  if (update_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.copy_(num_batches_tracked + 1.0);
  }
  return y;
}

std::string BatchNormBase::extra_repr() const {
  const BatchNormOptions& o = options_;
  return std::to_string(o.num_features) + ", eps=" + py_float(o.eps) +
         ", momentum=" + (o.momentum ? py_float(*o.momentum) : std::string("None")) +
         ", affine=" + py_bool(o.affine) +
         ", track_running_stats=" + py_bool(o.track_running_stats);
}

void BatchNorm1d::check_input_dim(const Tensor& x) const {
  DITTO_CHECK(x.dim() == 2 || x.dim() == 3,
              "BatchNorm1d: expected 2D (N, C) or 3D (N, C, L) "
              "input, got ",
              x.dim(), "D input ", shape_str(x.shape()));
}

void BatchNorm2d::check_input_dim(const Tensor& x) const {
  DITTO_CHECK(x.dim() == 4, "BatchNorm2d: expected 4D (N, C, H, W) input, got ", x.dim(),
              "D input ", shape_str(x.shape()));
}

// ---- Dropout -----------------------------------------------------------------------------------

Dropout::Dropout(DropoutOptions options, Generator& gen) : options_(options), gen_(&gen) {
  DITTO_CHECK(options_.p >= 0 && options_.p < 1, "Dropout: p must lie in [0, 1), got ", options_.p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, options_.p, is_training(), *gen_); }

std::string Dropout::extra_repr() const { return "p=" + py_float(options_.p) + ", inplace=False"; }

// ---- parameter-free layers ---------------------------------------------------------------------

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

MaxPool2d::MaxPool2d(MaxPool2dOptions options) : options_(options) {
  check_size("MaxPool2d", "kernel_size", options_.kernel_size, 1);
  if (options_.stride) check_size("MaxPool2d", "stride", *options_.stride, 1);
  check_size("MaxPool2d", "padding", options_.padding, 0);
  check_size("MaxPool2d", "dilation", options_.dilation, 1);
}

Tensor MaxPool2d::forward(const Tensor& x) {
  const MaxPool2dOptions& o = options_;
  return max_pool2d(x, o.kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  const MaxPool2dOptions& o = options_;
  return "kernel_size=" + size_str(o.kernel_size) +
         ", stride=" + size_str(o.stride.value_or(o.kernel_size)) +
         ", padding=" + size_str(o.padding) + ", dilation=" + size_str(o.dilation) +
         ", ceil_mode=" + py_bool(o.ceil_mode);
}

AvgPool2d::AvgPool2d(AvgPool2dOptions options) : options_(options) {
  check_size("AvgPool2d", "kernel_size", options_.kernel_size, 1);
  if (options_.stride) check_size("AvgPool2d", "stride", *options_.stride, 1);
  check_size("AvgPool2d", "padding", options_.padding, 0);
}

Tensor AvgPool2d::forward(const Tensor& x) {
  const AvgPool2dOptions& o = options_;
  return avg_pool2d(x, o.kernel_size, o.stride, o.padding, o.ceil_mode, o.count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  const AvgPool2dOptions& o = options_;
  return "kernel_size=" + size_str(o.kernel_size) +
         ", stride=" + size_str(o.stride.value_or(o.kernel_size)) +
         ", padding=" + size_str(o.padding);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(AdaptivePool2dOptions options) : options_(options) {
  check_size("AdaptiveAvgPool2d", "output_size", options_.output_size, 1);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return adaptive_avg_pool2d(x, options_.output_size);
}

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + size_str(options_.output_size);
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(AdaptivePool2dOptions options) : options_(options) {
  check_size("AdaptiveMaxPool2d", "output_size", options_.output_size, 1);
}

Tensor AdaptiveMaxPool2d::forward(const Tensor& x) {
  return adaptive_max_pool2d(x, options_.output_size);
}

std::string AdaptiveMaxPool2d::extra_repr() const {
  return "output_size=" + size_str(options_.output_size);
}

Upsample::Upsample(UpsampleOptions options) : options_(options) {
  DITTO_CHECK(options_.size.has_value() != options_.scale_factor.has_value(),
              "Upsample: exactly one of size and scale_factor must be given");
  DITTO_CHECK(options_.mode == InterpolateMode::bilinear || !options_.align_corners.has_value(),
              "Upsample: align_corners applies to bilinear only, as in PyTorch");
  if (options_.size.has_value()) check_size("Upsample", "size", *options_.size, 1);
}

Tensor Upsample::forward(const Tensor& x) { return interpolate(x, options_); }

std::string Upsample::extra_repr() const {
  // Python's repr of a float: "2.0", not C++'s "2".
  auto py_scale = [](double v) {
    std::string s = py_float(v);
    if (s.find_first_of(".eni") == std::string::npos) s += ".0";
    return s;
  };
  const UpsampleOptions& o = options_;
  std::string s;
  if (o.scale_factor.has_value()) {
    const Scale2& f = *o.scale_factor;
    s = "scale_factor=" +
        (f.h == f.w ? py_scale(f.h) : "(" + py_scale(f.h) + ", " + py_scale(f.w) + ")");
  } else {
    s = "size=" + size_str(*o.size);
  }
  return s + ", mode='" + (o.mode == InterpolateMode::bilinear ? "bilinear" : "nearest") + "'";
}

Tensor Flatten::forward(const Tensor& x) { return x.flatten(options_.start_dim, options_.end_dim); }

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(options_.start_dim) +
         ", end_dim=" + std::to_string(options_.end_dim);
}

// ---- Embedding ---------------------------------------------------------------------------------

Embedding::Embedding(EmbeddingOptions options, Generator& gen) : options_(options) {
  DITTO_CHECK(options_.num_embeddings >= 0 && options_.embedding_dim >= 0,
              "Embedding: num_embeddings and embedding_dim must be >= 0, got ",
              options_.num_embeddings, " and ", options_.embedding_dim);
  weight = register_parameter(
      "weight", empty({options_.num_embeddings, options_.embedding_dim}, options_.dtype));
  reset_parameters(gen);
}

void Embedding::reset_parameters(Generator& gen) { init::normal_(weight, 0.0, 1.0, gen); }

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

std::string Embedding::extra_repr() const {
  return std::to_string(options_.num_embeddings) + ", " + std::to_string(options_.embedding_dim);
}

// ---- Sequential --------------------------------------------------------------------------------

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  DITTO_CHECK(module != nullptr, "Sequential::push_back: null module at index ", size());
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

std::shared_ptr<Module> Sequential::operator[](std::size_t i) const {
  DITTO_CHECK(i < modules_.size(), "Sequential: index ", i, " out of range for ", modules_.size(),
              " modules");
  return modules_[i];
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = m->forward(y);
  return y;
}

}  // namespace ditto::nn
