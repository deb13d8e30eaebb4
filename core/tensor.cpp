// ditto — Tensor metadata, creation, conversion, data access and in-place fills.
// Views live in core/ops/views.cpp, printing in core/print.cpp.
#include "core/tensor.h"

#include <cmath>
#include <cstring>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"
#include "kernels/device_memory.h"
#include "kernels/elementwise.h"

namespace ditto {

using detail::describe;
using detail::make_view;

namespace {
// fill_'s checks of the value and its kernel, without the in-place checks (for fill_ and full).
void fill_values(const Tensor& t, double value);
}  // namespace

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::int64_t Tensor::size(std::int64_t d) const {
  return shape()[detail::wrap_dim(d, dim(), "size", shape())];
}

std::int64_t Tensor::numel() const { return detail::shape_numel(shape()); }

bool Tensor::is_contiguous() const {
  std::int64_t expect = 1;
  for (std::int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] != 1 && strides()[i] != expect) return false;
    expect *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  auto* base = static_cast<char*>(impl().storage->data());
  return base + impl().offset * static_cast<std::int64_t>(dtype_size(dtype()));
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor src = *this;
  {
    NoGradGuard ng;
    if (!device().is_cpu()) src = src.to(Device::cpu());
    src = src.to(dtype_of<T>()).contiguous();
  }
  const T* p = static_cast<const T*>(src.raw_data());
  return std::vector<T>(p, p + src.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<std::uint8_t> Tensor::to_vector<std::uint8_t>() const;

template <typename T>
T Tensor::item() const {
  DITTO_CHECK(numel() == 1, "item: tensor must hold exactly one element, got shape ",
              shape_str(shape()));
  return to_vector<T>()[0];
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template std::uint8_t Tensor::item<std::uint8_t>() const;

// ---- creation --------------------------------------------------------------------------------

Tensor empty(const Shape& shape, DType dtype, Device device) {
  // check_shape bounds n by 2^60, so n * itemsize (<= 8) cannot overflow.
  const std::int64_t n = detail::check_shape(shape, "empty");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(n) * dtype_size(dtype),
                                            device);
  impl->shape = shape;
  impl->strides = detail::contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  profile::OpScope scope("full");  // also zeros, ones, *_like, scalar_tensor
  Tensor t = empty(shape, dtype, device);
  fill_values(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor scalar_tensor(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  profile::OpScope scope("arange");
  DITTO_CHECK(step != 0 && std::isfinite(step) && std::isfinite(start) && std::isfinite(end),
              "arange: start, end and step must be finite and step nonzero, got [", start, ", ",
              end, ") step ", step);
  DITTO_CHECK((end - start) / step < 1e15, "arange: too many elements for [", start, ", ", end,
              ") step ", step);
  // n = ceil((end - start) / step), without libm
  double count = (end - start) / step;
  std::int64_t n = 0;
  if (count > 0) {
    n = static_cast<std::int64_t>(count);
    if (static_cast<double>(n) < count) ++n;
  }
  // Written straight into a tensor: a failed allocation is a ditto::Error naming the size (a
  // std::vector would throw std::bad_alloc).
  Tensor v = empty({n}, DType::f64, Device::cpu());
  double* p = v.data_ptr<double>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = start + static_cast<double>(i) * step;
  return v.to(dtype).to(device);
}
Tensor arange(double end, DType dtype, Device device) {
  return arange(0.0, end, 1.0, dtype, device);
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  profile::OpScope scope("from_vector");
  Shape s = shape.empty() ? Shape{static_cast<std::int64_t>(values.size())} : shape;
  DITTO_CHECK(detail::check_shape(s, "from_vector") == static_cast<std::int64_t>(values.size()),
              "from_vector: ", values.size(), " values do not fill shape ", shape_str(s));
  Tensor t = empty(s, dtype_of<T>(), Device::cpu());
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t.to(device);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<std::int64_t>(const std::vector<std::int64_t>&, const Shape&, Device);
template Tensor from_vector<std::uint8_t>(const std::vector<std::uint8_t>&, const Shape&, Device);

// ---- conversion ----------------------------------------------------------------------------

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  profile::OpScope scope("to");
  check_device_available(d, "to");
  Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), d);
  kernels::device_copy(out.raw_data(), d, src.raw_data(), device(),
                       static_cast<std::size_t>(numel()) * dtype_size(dtype()));
  if (autograd::needs_grad({this})) {
    Device from = device();
    autograd::record("to", out, {*this}, [from](const Tensor& g) {
      return std::vector<Tensor>{g.to(from)};
    });
  }
  return out;
}

Tensor Tensor::to(DType t) const {
  if (dtype() == t) return *this;
  profile::OpScope scope("to");
  detail::require_kernels(device(), "to");
  Tensor out = empty(shape(), t, device());
  kernels::elementwise_kernels(device()).copy(make_view(*this, "to"), make_view(out, "to"));
  if (is_floating(t) && is_floating(dtype()) && autograd::needs_grad({this})) {
    DType src = dtype();
    autograd::record("to", out, {*this}, [src](const Tensor& g) {
      return std::vector<Tensor>{g.to(src)};
    });
  }
  return out;
}

Tensor Tensor::clone() const {
  profile::OpScope scope("clone");  // also contiguous() and reshape() when they copy
  detail::require_kernels(device(), "clone");
  Tensor out = empty(shape(), dtype(), device());
  kernels::elementwise_kernels(device()).copy(make_view(*this, "clone"), make_view(out, "clone"));
  if (autograd::needs_grad({this}))
    autograd::record("clone", out, {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

// ---- in-place ----------------------------------------------------------------------------

namespace {
void check_inplace(const Tensor& t, const char* op) {
  DITTO_CHECK(!(grad_mode_enabled() && t.requires_grad()), op,
              ": in-place modification of a tensor that requires grad ", describe(t),
              " (wrap it in NoGradGuard, or use detach())");
}

// Refuses to write into a tensor where several elements share one memory location (an expand()ed
// view, stride 0 on a dim of size > 1): the result would depend on the write order.
void check_no_internal_overlap(const Tensor& t, const char* op) {
  for (std::int64_t d = 0; d < t.dim(); ++d)
    DITTO_CHECK(!(t.strides()[d] == 0 && t.shape()[d] > 1), op, ": cannot write into ",
                describe(t), ": dim ", d, " has stride 0 (an expand()ed view: several elements "
                "share one memory location); write into a contiguous() copy instead");
}

// The range of values a dtype holds exactly enough for fill_: integers must fit, f32 must not
// overflow to inf (NaN and the infinities themselves are allowed for floating dtypes).
void check_fill_value(double v, DType t, const Tensor& dst) {
  bool ok = true;
  switch (t) {
    case DType::f64: break;
    // below FLT_MAX + half an ulp: rounds to a finite float
    case DType::f32: ok = !std::isfinite(v) || std::fabs(v) < 0x1.ffffffp127; break;
    case DType::i64: ok = std::isfinite(v) && v >= -0x1p63 && v < 0x1p63; break;
    case DType::u8: ok = std::isfinite(v) && v > -1.0 && v < 256.0; break;
  }
  DITTO_CHECK(ok, "fill_: value ", v, " cannot be converted to ", dtype_name(t),
              " without overflow (tensor ", describe(dst), ")");
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  profile::OpScope scope("copy_");
  check_inplace(*this, "copy_");
  check_no_internal_overlap(*this, "copy_");
  detail::common_device({this, &src}, "copy_");
  detail::require_kernels(device(), "copy_");
  Shape b = detail::broadcast_shapes(src.shape(), shape(), "copy_");
  DITTO_CHECK(b == shape(), "copy_: source ", describe(src), " cannot be broadcast to ",
              describe(*this));
  kernels::View s = detail::make_broadcast_view(src, shape(), "copy_");
  kernels::View d = make_view(*this, "copy_");
  // Copying from a tensor that overlaps this one's storage would read partly updated values.
  if (shares_storage(src) && !(src.offset() == offset() && src.strides() == strides())) {
    Tensor tmp = src.clone().detach();
    s = detail::make_broadcast_view(tmp, shape(), "copy_");
    kernels::elementwise_kernels(device()).copy(s, d);
    impl().storage->bump_version();
    return *this;
  }
  kernels::elementwise_kernels(device()).copy(s, d);
  impl().storage->bump_version();
  return *this;
}

namespace {
void fill_values(const Tensor& t, double value) {
  detail::require_kernels(t.device(), "fill_");
  check_fill_value(value, t.dtype(), t);
  kernels::elementwise_kernels(t.device()).fill(make_view(t, "fill_"), value);
  t.impl().storage->bump_version();
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  profile::OpScope scope("fill_");
  check_inplace(*this, "fill_");
  fill_values(*this, value);
  return *this;
}

// ---- autograd handles --------------------------------------------------------------------

Tensor& Tensor::requires_grad_(bool on) {
  DITTO_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating tensors can require "
              "grad, got ", describe(*this));
  DITTO_CHECK(is_leaf(), "requires_grad_: can only be set on leaf tensors, got the output of ",
              impl().grad_fn->name);
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    DITTO_CHECK(g.shape() == shape() && g.dtype() == dtype(), "set_grad: gradient ", describe(g),
                " does not match tensor ", describe(*this));
  impl().grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::backward(const Tensor& gradient) const {
  DITTO_CHECK(requires_grad(), "backward: tensor ", describe(*this),
              " does not require grad (no input of its graph called requires_grad_())");
  Tensor seed = gradient;
  if (!seed.defined()) {
    DITTO_CHECK(numel() == 1, "backward: tensor ", describe(*this),
                " is not a scalar; pass a gradient of the same shape");
    seed = ones(shape(), dtype(), device());
  }
  DITTO_CHECK(seed.shape() == shape(), "backward: gradient shape ", shape_str(seed.shape()),
              " does not match tensor shape ", shape_str(shape()));
  DITTO_CHECK(seed.device() == device(), "backward: gradient on ", device_name(seed.device()),
              ", tensor on ", device_name(device()));
  autograd::run_backward(*this, seed.to(dtype()).detach());
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->shape = shape();
  impl->strides = strides();
  impl->offset = offset();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

}  // namespace ditto
