#include "core/ops/op_util.h"

#include "core/error.h"

namespace ditto::detail {

std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, const char* op, const Shape& shape) {
  std::int64_t d = dim < 0 ? dim + ndim : dim;
  DITTO_CHECK(d >= 0 && d < ndim, op, ": dim ", dim, " is out of range for a tensor of shape ",
              shape_str(shape), " (", ndim, " dims)");
  return d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DITTO_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
                shape_str(b), " cannot be broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

kernels::View make_view(const Tensor& t, const char* op) {
  DITTO_CHECK(t.dim() <= kernels::kMaxDims, op, ": tensors with more than ", kernels::kMaxDims,
              " dims are not supported, got shape ", shape_str(t.shape()));
  kernels::View v;
  v.data = t.raw_data();
  v.dtype = t.dtype();
  v.ndim = static_cast<int>(t.dim());
  for (int i = 0; i < v.ndim; ++i) {
    v.shape[i] = t.shape()[i];
    v.strides[i] = t.strides()[i];
  }
  return v;
}

kernels::View make_broadcast_view(const Tensor& t, const Shape& shape, const char* op) {
  DITTO_CHECK(static_cast<std::int64_t>(shape.size()) <= kernels::kMaxDims, op,
              ": tensors with more than ", kernels::kMaxDims,
              " dims are not supported, got shape ", shape_str(shape));
  kernels::View v;
  v.data = t.raw_data();
  v.dtype = t.dtype();
  v.ndim = static_cast<int>(shape.size());
  std::size_t lead = shape.size() - t.shape().size();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    v.shape[i] = shape[i];
    if (i < lead) {
      v.strides[i] = 0;
    } else {
      std::int64_t s = t.shape()[i - lead];
      DITTO_CHECK(s == shape[i] || s == 1, op, ": cannot broadcast ", shape_str(t.shape()),
                  " to ", shape_str(shape));
      v.strides[i] = (s == 1 && shape[i] != 1) ? 0 : t.strides()[i - lead];
    }
  }
  return v;
}

Device common_device(const std::vector<const Tensor*>& ts, const char* op) {
  for (const Tensor* t : ts) DITTO_CHECK(t->defined(), op, ": an input tensor is undefined");
  Device d = ts.front()->device();
  for (const Tensor* t : ts)
    DITTO_CHECK(t->device() == d, op, ": tensors on different devices: ", describe(*ts.front()),
                " and ", describe(*t));
  return d;
}

void require_kernels(Device d, const char* op) { check_device_available(d, op); }

std::string describe(const Tensor& t) {
  if (!t.defined()) return "<undefined>";
  std::string s = shape_str(t.shape()) + " " + std::string(dtype_name(t.dtype()));
  if (!t.device().is_cpu()) s += " on " + device_name(t.device());
  return s;
}

Tensor make_view_tensor(const Tensor& t, Shape shape, Shape strides, std::int64_t offset,
                        const char* op) {
  const std::int64_t n = check_shape(shape, op);
  if (n > 0) {
    // The highest element the view addresses must lie inside the storage. Strides are >= 0 in
    // ditto (no flip), so the lowest one is `offset`.
    const std::int64_t capacity =
        static_cast<std::int64_t>(t.impl().storage->nbytes() / dtype_size(t.dtype()));
    std::int64_t last = offset;
    bool overflow = offset < 0;
    for (std::size_t i = 0; i < shape.size() && !overflow; ++i) {
      std::int64_t span = 0;
      overflow = strides[i] < 0 || __builtin_mul_overflow(shape[i] - 1, strides[i], &span) ||
                 __builtin_add_overflow(last, span, &last);
    }
    DITTO_CHECK(!overflow && last < capacity, op, ": view of shape ", shape_str(shape),
                " with strides ", shape_str(strides), " at offset ", offset,
                " reaches outside its storage of ", capacity, " elements");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl().storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

std::int64_t check_shape(const Shape& shape, const char* op) {
  DITTO_CHECK(static_cast<std::int64_t>(shape.size()) <= kernels::kMaxDims, op, ": shape ",
              shape_str(shape), " has ", shape.size(), " dims; ditto tensors have at most ",
              kernels::kMaxDims);
  std::int64_t numel = 1, bound = 1;  // bound: prod(max(size, 1))
  for (std::int64_t s : shape) {
    DITTO_CHECK(s >= 0, op, ": negative size ", s, " in shape ", shape_str(shape));
    if (s == 0) {
      numel = 0;
      continue;
    }
    DITTO_CHECK(s <= kMaxNumel / bound, op, ": shape ", shape_str(shape),
                " has more than 2^60 elements (the limit; a size-0 dim counts as 1)");
    bound *= s;
  }
  return numel == 0 ? 0 : bound;
}

Shape contiguous_strides(const Shape& shape) {
  Shape s(shape.size());
  std::int64_t acc = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

}  // namespace ditto::detail
