// ditto — Tensor: a cheap handle to a shared TensorImpl (shape, strides, offset, dtype, device)
// over a shared Storage. Copying a Tensor copies the handle; views share storage.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/mode.h"
#include "core/storage.h"

namespace ditto {

using Shape = std::vector<std::int64_t>;

/// "[2,3,7,5]" — the shape format used in every error message.
std::string shape_str(const Shape& s);

class Tensor;
struct Node;

/// The state behind a Tensor handle.
/// Invariants: shape.size() == strides.size(); every addressable element
/// offset + sum(i_d * strides[d]) lies inside storage (checked when views are made);
/// strides are in elements and may be 0 (expanded dims); grad_fn != null implies
/// requires_grad (non-leaf); a leaf with requires_grad accumulates into `grad`.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  std::int64_t offset = 0;  // in elements, into storage
  DType dtype = DType::f32;

  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves only); null until backward
  std::shared_ptr<Node> grad_fn;     // producer node (non-leaves only)
};

/// A tensor handle. A default-constructed Tensor is "undefined" (defined() == false).
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }

  // ---- metadata -------------------------------------------------------------------------
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  std::int64_t offset() const { return impl().offset; }
  std::int64_t dim() const { return static_cast<std::int64_t>(impl().shape.size()); }
  /// Size of dimension d (negative d counts from the end).
  std::int64_t size(std::int64_t d) const;
  std::int64_t numel() const;
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_contiguous() const;
  /// The version counter of the storage (bumped by copy_ and fill_; see Storage::version).
  std::uint64_t version() const { return impl().storage->version(); }
  /// True when both handles view the same storage.
  bool shares_storage(const Tensor& o) const { return impl().storage == o.impl().storage; }

  // ---- data access (cpu tensors) -----------------------------------------------------------
  /// Pointer to element [0,...,0]. Requires a cpu tensor of dtype matching T.
  template <typename T>
  T* data_ptr() const;
  /// Raw pointer to element [0,...,0] (any device, any dtype).
  void* raw_data() const;
  /// All elements in row-major logical order, converted to T (float, double, int64_t, uint8_t).
  template <typename T>
  std::vector<T> to_vector() const;
  /// The single element of a one-element tensor, converted to T.
  template <typename T>
  T item() const;

  // ---- conversion --------------------------------------------------------------------------
  /// Copy to another device (returns *this when already there). Differentiable.
  Tensor to(Device d) const;
  /// Convert to another dtype (returns *this when already that dtype). Differentiable between
  /// floating types.
  Tensor to(DType t) const;
  /// A contiguous tensor with the same values (returns *this when already contiguous).
  Tensor contiguous() const;
  /// A fresh contiguous copy. Differentiable.
  Tensor clone() const;

  // ---- autograd ----------------------------------------------------------------------------
  /// Marks a leaf tensor as requiring a gradient (floating dtypes only).
  Tensor& requires_grad_(bool on = true);
  bool requires_grad() const { return impl().requires_grad; }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  /// The accumulated gradient (undefined until a backward pass reaches this leaf).
  Tensor grad() const;
  /// Replaces (or, with an undefined tensor, clears) the accumulated gradient.
  void set_grad(const Tensor& g);
  /// Reverse-mode backward from this tensor. Without `gradient`, the tensor must hold one
  /// element (the seed is 1). Gradients accumulate into the leaves' grad() in a fixed order.
  void backward(const Tensor& gradient = Tensor()) const;
  /// Same storage, cut from the graph (requires_grad == false).
  Tensor detach() const;

  // ---- in-place (no autograd; refused on tensors that take part in autograd) ------------
  /// Copies src (broadcast to this shape, converted to this dtype) into this tensor's elements.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // ---- views (share storage; differentiable) -----------------------------------------------
  /// Same elements in a new shape; one dim may be -1. A view when strides allow, else a copy.
  Tensor reshape(const Shape& shape) const;
  /// Like reshape but never copies: throws when the strides do not allow a view.
  Tensor view(const Shape& shape) const;
  Tensor transpose(std::int64_t d0, std::int64_t d1) const;
  Tensor permute(const Shape& dims) const;
  /// Transpose of a 2-D tensor.
  Tensor t() const;
  /// Elements [start, start + length) along dim.
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  /// Python-style slice [start:end:step] along dim (step >= 1; start/end clamped; negatives
  /// count from the end).
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end,
               std::int64_t step = 1) const;
  /// Index `index` along dim, removing that dim.
  Tensor select(std::int64_t dim, std::int64_t index) const;
  /// Broadcast to `shape` (numpy rules; -1 keeps a size) without copying (stride 0).
  Tensor expand(const Shape& shape) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;

  // ---- op methods (see core/ops.h for the free functions and their docs) -------------------
  Tensor sum(const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
             std::optional<Mode> mode = std::nullopt) const;
  Tensor mean(const std::vector<std::int64_t>& dims = {}, bool keepdim = false,
              std::optional<Mode> mode = std::nullopt) const;
  Tensor var(const std::vector<std::int64_t>& dims = {}, bool unbiased = true,
             bool keepdim = false, std::optional<Mode> mode = std::nullopt) const;
  Tensor max(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  Tensor min(const std::vector<std::int64_t>& dims = {}, bool keepdim = false) const;
  Tensor argmax(std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor neg() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor sqrt() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor pow(double exponent) const;
  Tensor clamp(double lo, double hi) const;
  Tensor matmul(const Tensor& other) const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  TensorImpl& impl() const {
    DITTO_CHECK(impl_ != nullptr, "tensor: operation on an undefined tensor");
    return *impl_;
  }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

/// Readable printing: values (summarised when large), shape, dtype, device, grad flag.
std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, DType t);

// ---- creation --------------------------------------------------------------------------------
/// A new contiguous tensor with uninitialised contents.
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = default_device());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
/// 0-d tensor holding `value`.
Tensor scalar_tensor(double value, DType dtype = DType::f32, Device device = default_device());
/// [start, start+step, ...) below end (above end for negative step). Element i is
/// start + i*step computed in double, then converted.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32,
              Device device = default_device());
Tensor arange(double end, DType dtype = DType::f32, Device device = default_device());
/// A tensor holding `values` (row-major) with `shape` (empty shape = 1-D of values.size());
/// dtype follows T: float→f32, double→f64, int64_t→i64, uint8_t→u8.
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape = {},
                   Device device = default_device());

// Explicit instantiations live in core/tensor.cpp.
extern template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
extern template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
extern template Tensor from_vector<std::int64_t>(const std::vector<std::int64_t>&, const Shape&,
                                                 Device);
extern template Tensor from_vector<std::uint8_t>(const std::vector<std::uint8_t>&, const Shape&,
                                                 Device);

/// Maps a C++ element type to its DType (compile error for others).
template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else {
    static_assert(std::is_same_v<T, std::uint8_t>, "ditto: unsupported element type");
    return DType::u8;
  }
}

template <typename T>
T* Tensor::data_ptr() const {
  DITTO_CHECK(dtype() == dtype_of<T>(), "data_ptr: tensor has dtype ", dtype_name(dtype()),
              ", requested ", dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}

}  // namespace ditto
