// ditto — view ops (share storage) and their backward rules.
#include <algorithm>
#include <numeric>
#include <optional>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"

namespace ditto {

using detail::make_view_tensor;
using detail::wrap_dim;

namespace {

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides), or nullopt when
// no such strides exist. Walks both shapes from the innermost dim, matching runs of old dims that
// are contiguous with each other ("chunks") against runs of new dims with the same element count.
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides,
                                  const Shape& new_shape) {
  std::int64_t numel = detail::shape_numel(old_shape);
  if (numel == 0 || old_shape.empty()) return detail::contiguous_strides(new_shape);
  Shape out(new_shape.size(), 1);
  std::int64_t view_d = static_cast<std::int64_t>(new_shape.size()) - 1;
  std::int64_t chunk_base = old_strides.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (std::int64_t d = static_cast<std::int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    bool chunk_ends =
        d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
      out[view_d] = view_numel * chunk_base;
      view_numel *= new_shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_base = old_strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Resolves a single -1 in `shape` against numel, validating the product.
Shape infer_shape(const Shape& shape, std::int64_t numel, const char* op, const Shape& from) {
  Shape s = shape;
  std::int64_t infer = -1;
  Shape known_dims;  // the sizes other than the -1
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      DITTO_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape_str(shape));
      infer = static_cast<std::int64_t>(i);
    } else {
      DITTO_CHECK(s[i] >= 0, op, ": invalid size in shape ", shape_str(shape));
      known_dims.push_back(s[i]);
    }
  }
  // Checked before any product is formed: [2^32, 2^32] must not wrap to 0 elements.
  const std::int64_t known = detail::check_shape(known_dims, op);
  if (infer >= 0) {
    DITTO_CHECK(known != 0 && numel % known == 0, op, ": cannot reshape ", shape_str(from),
                " into ", shape_str(shape));
    s[infer] = numel / known;
  }
  DITTO_CHECK(detail::check_shape(s, op) == numel, op, ": cannot reshape ", shape_str(from), " (",
              numel, " elements) into ", shape_str(shape));
  return s;
}

// Records `out` as a view of `in` whose gradient maps back through `back`.
Tensor finish_view(const char* name, const Tensor& in, Tensor out,
                   std::function<Tensor(const Tensor&)> back) {
  if (autograd::needs_grad({&in}))
    autograd::record(name, out, {in}, [back = std::move(back)](const Tensor& g) {
      return std::vector<Tensor>{back(g)};
    });
  return out;
}

// Gradient of a strided sub-view: zeros of the input shape with g written into the same view.
Tensor scatter_into_zeros(const Tensor& g, const Shape& in_shape,
                          const std::function<Tensor(const Tensor&)>& same_view) {
  Tensor z = zeros(in_shape, g.dtype(), g.device());
  same_view(z).copy_(g);
  return z;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "view", this->shape());
  auto strides = view_strides(this->shape(), this->strides(), s);
  DITTO_CHECK(strides.has_value(), "view: shape ", shape_str(this->shape()), " with strides ",
              shape_str(this->strides()), " cannot be viewed as ", shape_str(s),
              " (use reshape, which copies)");
  Shape in_shape = this->shape();
  return finish_view("view", *this, make_view_tensor(*this, s, *strides, offset(), "view"),
                     [in_shape](const Tensor& g) { return g.reshape(in_shape); });
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "reshape", this->shape());
  if (view_strides(this->shape(), this->strides(), s)) return view(s);
  return clone().view(s);
}

Tensor Tensor::permute(const Shape& dims) const {
  DITTO_CHECK(static_cast<std::int64_t>(dims.size()) == dim(), "permute: ", dims.size(),
              " dims given for a tensor of shape ", shape_str(shape()));
  Shape perm(dims.size()), s(dims.size()), st(dims.size());
  std::vector<bool> used(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim(dims[i], dim(), "permute", shape());
    DITTO_CHECK(!used[perm[i]], "permute: dim ", dims[i], " repeated in ", shape_str(dims),
                " for a tensor of shape ", shape_str(shape()));
    used[perm[i]] = true;
    s[i] = shape()[perm[i]];
    st[i] = strides()[perm[i]];
  }
  Shape inverse(dims.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<std::int64_t>(i);
  return finish_view("permute", *this, make_view_tensor(*this, s, st, offset(), "permute"),
                     [inverse](const Tensor& g) { return g.permute(inverse); });
}

Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const {
  std::int64_t a = wrap_dim(d0, dim(), "transpose", shape());
  std::int64_t b = wrap_dim(d1, dim(), "transpose", shape());
  Shape perm(dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[a], perm[b]);
  return permute(perm);
}

Tensor Tensor::t() const {
  DITTO_CHECK(dim() == 2, "t: expects a 2-D tensor, got shape ", shape_str(shape()));
  return transpose(0, 1);
}

Tensor Tensor::slice(std::int64_t dim_, std::int64_t start, std::int64_t end,
                     std::int64_t step) const {
  std::int64_t d = wrap_dim(dim_, dim(), "slice", shape());
  DITTO_CHECK(step >= 1, "slice: step must be >= 1, got ", step);
  std::int64_t n = shape()[d];
  auto clampi = [n](std::int64_t i) {
    if (i < 0) i += n;
    return std::clamp<std::int64_t>(i, 0, n);
  };
  std::int64_t s0 = clampi(start), e0 = std::max(clampi(end), clampi(start));
  // (e0 - s0 + step - 1) / step without overflow for a huge step; a stride times a step beyond
  // the dim is never formed (one element or none: the stride is irrelevant then).
  std::int64_t len = e0 > s0 ? (e0 - s0 - 1) / step + 1 : 0;
  Shape s = shape(), st = strides();
  s[d] = len;
  st[d] = len > 1 ? strides()[d] * step : strides()[d];
  Shape in_shape = shape();
  std::int64_t off = offset() + s0 * strides()[d];
  return finish_view("slice", *this, make_view_tensor(*this, s, st, off, "slice"),
                     [in_shape, d, s0, e0, step](const Tensor& g) {
                       return scatter_into_zeros(g, in_shape, [&](const Tensor& z) {
                         return z.slice(d, s0, e0, step);
                       });
                     });
}

Tensor Tensor::narrow(std::int64_t dim_, std::int64_t start, std::int64_t length) const {
  std::int64_t d = wrap_dim(dim_, dim(), "narrow", shape());
  // length <= size - start, not start + length <= size: the sum could overflow (and is not
  // printed when it does).
  if (!(start >= 0 && length >= 0 && start <= shape()[d] && length <= shape()[d] - start)) {
    std::int64_t end = 0;
    const std::string end_s = __builtin_add_overflow(start, length, &end)
                                  ? std::to_string(start) + " + " + std::to_string(length)
                                  : std::to_string(end);
    DITTO_FAIL("narrow: range [", start, ", ", end_s, ") is out of bounds for dim ", dim_,
               " of shape ", shape_str(shape()));
  }
  return slice(d, start, start + length, 1);
}

Tensor Tensor::select(std::int64_t dim_, std::int64_t index) const {
  std::int64_t d = wrap_dim(dim_, dim(), "select", shape());
  std::int64_t n = shape()[d];
  DITTO_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ",
              dim_, " of shape ", shape_str(shape()));
  if (index < 0) index += n;
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape_) const {
  DITTO_CHECK(shape_.size() >= shape().size(), "expand: cannot expand ", shape_str(shape()),
              " to fewer dims ", shape_str(shape_));
  Shape s = shape_, st(shape_.size(), 0);
  std::size_t lead = shape_.size() - shape().size();
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    if (i < lead) {
      DITTO_CHECK(s[i] >= 0, "expand: invalid size in ", shape_str(shape_));
      continue;
    }
    std::int64_t cur = shape()[i - lead];
    if (s[i] == -1) s[i] = cur;
    DITTO_CHECK(cur == s[i] || cur == 1, "expand: cannot expand ", shape_str(shape()), " to ",
                shape_str(shape_), " (dim ", i, ": ", cur, " vs ", s[i], ")");
    st[i] = (cur == s[i]) ? strides()[i - lead] : 0;
  }
  Shape in_shape = shape();
  return finish_view("expand", *this, make_view_tensor(*this, s, st, offset(), "expand"),
                     [in_shape](const Tensor& g) { return sum_to(g, in_shape); });
}

Tensor Tensor::squeeze() const {
  Shape s;
  for (auto v : shape())
    if (v != 1) s.push_back(v);
  return reshape(s);
}

Tensor Tensor::squeeze(std::int64_t dim_) const {
  std::int64_t d = wrap_dim(dim_, dim(), "squeeze", shape());
  if (shape()[d] != 1) return *this;
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Shape in_shape = shape();
  return finish_view("squeeze", *this, make_view_tensor(*this, s, st, offset(), "squeeze"),
                     [in_shape](const Tensor& g) { return g.reshape(in_shape); });
}

Tensor Tensor::unsqueeze(std::int64_t dim_) const {
  std::int64_t d = wrap_dim(dim_, dim() + 1, "unsqueeze", shape());
  Shape s = shape(), st = strides();
  std::int64_t inner = d < dim() ? shape()[d] * strides()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, inner);
  Shape in_shape = shape();
  return finish_view("unsqueeze", *this, make_view_tensor(*this, s, st, offset(), "unsqueeze"),
                     [in_shape](const Tensor& g) { return g.reshape(in_shape); });
}

Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  std::int64_t a = wrap_dim(start_dim, dim(), "flatten", shape());
  std::int64_t b = wrap_dim(end_dim, dim(), "flatten", shape());
  DITTO_CHECK(a <= b, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape s(shape().begin(), shape().begin() + a);
  std::int64_t n = 1;
  for (std::int64_t i = a; i <= b; ++i) n *= shape()[i];
  s.push_back(n);
  s.insert(s.end(), shape().begin() + b + 1, shape().end());
  return reshape(s);
}

}  // namespace ditto
