// ditto — indexing ops: index_select, index_add, gather, scatter_add, embedding; front ends and
// backward rules. Two kernels do all the work (kernels/index.h): index_select (a gather of rows)
// and index_add (a scatter-add of rows; sort-based in Deterministic mode, docs/determinism.md
// "Scatter-add"). gather and scatter_add are those kernels applied to the flattened tensor with
// linear indices computed by i64 elementwise ops, so every op here runs on every device and its
// backward is again one of the two kernels.
#include <algorithm>
#include <cstdint>
#include <sstream>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"
#include "kernels/index.h"

namespace ditto {

using detail::describe;

namespace detail {

/// Throws unless every element of the i64 tensor `index` lies in [0, size): one device-to-host
/// sync (a count of the bad elements); only on failure is the index copied to the host to name
/// the first bad value: "<op>: <noun> <value> is out of range <what> (...)", where `what` is
/// e.g. "for dim 1 of size 5 (input [3,5], index [4])".
void check_index_range(const Tensor& index, std::int64_t size, const char* op, const char* noun,
                       const std::string& what) {
  if (index.numel() == 0) return;
  NoGradGuard ng;
  Tensor lo = scalar_tensor(0.0, DType::i64, index.device());
  Tensor hi = scalar_tensor(static_cast<double>(size), DType::i64, index.device());
  // lt and ge are exclusive, so the u8 sum of the two masks is 0 or 1 per element.
  std::int64_t n_bad = sum(add(lt(index, lo), ge(index, hi))).item<std::int64_t>();
  if (n_bad == 0) return;
  std::vector<std::int64_t> v = index.to_vector<std::int64_t>();
  auto it = std::find_if(v.begin(), v.end(), [&](std::int64_t i) { return i < 0 || i >= size; });
  std::int64_t bad = it == v.end() ? -1 : *it;
  DITTO_FAIL(op, ": ", noun, " ", bad, " is out of range ", what, " (", n_bad,
             " bad index value(s) in all)");
}

}  // namespace detail

namespace {

// Geometry of "rows along dim": x viewed as (outer, K, inner).
struct Rows {
  std::int64_t outer = 1, K = 1, inner = 1;
};

Rows rows_of(const Shape& s, std::int64_t dim) {
  Rows r;
  if (s.empty()) return r;  // a 0-d tensor is one row of one element
  for (std::int64_t d = 0; d < dim; ++d) r.outer *= s[d];
  r.K = s[dim];
  for (std::size_t d = dim + 1; d < s.size(); ++d) r.inner *= s[d];
  return r;
}

// Normalises dim; a 0-d tensor accepts dim 0 and -1 (as PyTorch).
std::int64_t wrap(std::int64_t dim, const Tensor& x, const char* op) {
  return detail::wrap_dim(dim, std::max<std::int64_t>(x.dim(), 1), op, x.shape());
}

// The 1-D view of a 1-D or 0-d i64 index, after checking dtype, rank and device.
Tensor index_1d(const Tensor& index, const Tensor& x, const char* op) {
  DITTO_CHECK(index.defined(), op, ": index is undefined");
  DITTO_CHECK(index.dtype() == DType::i64 && index.dim() <= 1, op,
              ": index must be a 1-D (or 0-d) i64 tensor, got ", describe(index), " (input ",
              describe(x), ")");
  detail::common_device({&x, &index}, op);
  return index.detach().reshape({index.numel()});
}

std::string range_what(std::int64_t dim, std::int64_t size, const Tensor& x, const Tensor& idx) {
  std::ostringstream s;
  s << "for dim " << dim << " of size " << size << " (input " << shape_str(x.shape()) << ", index "
    << shape_str(idx.shape()) << ")";
  return s.str();
}

// index_select's forward without checks or autograd: x (any shape), idx 1-D i64 in range.
Tensor select_rows(const Tensor& x, std::int64_t dim, const Tensor& idx, const char* op) {
  Rows r = rows_of(x.shape(), dim);
  std::int64_t M = idx.numel();
  Shape out_shape = x.shape();
  if (out_shape.empty()) out_shape = {1};
  out_shape[dim] = M;
  Tensor out = empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  Tensor xc = x.detach().contiguous().view({r.outer, r.K, r.inner});
  kernels::index_kernels(x.device())
      .index_select(detail::make_view(xc, op), detail::make_view(idx, op),
                    detail::make_view(out.view({r.outer, M, r.inner}), op));
  return out;
}

// index_add's forward without checks or autograd: a fresh contiguous copy of x with src's rows
// added at idx along dim. src has x's shape with dim replaced by idx.numel().
Tensor add_rows(const Tensor& x, std::int64_t dim, const Tensor& idx, const Tensor& src, Mode mode,
                const char* op) {
  Tensor out = x.detach().clone();
  Rows r = rows_of(x.shape(), dim);
  std::int64_t M = idx.numel();
  if (out.numel() == 0 || M == 0 || r.outer * r.inner == 0) return out;
  Tensor sc = src.detach().contiguous().view({r.outer, M, r.inner});
  kernels::index_kernels(x.device())
      .index_add(mode, detail::make_view(out.view({r.outer, r.K, r.inner}), op),
                 detail::make_view(idx, op), detail::make_view(sc, op));
  return out;
}

Tensor index_select_node(const Tensor& x, std::int64_t dim, const Tensor& idx, Mode mode,
                         const char* op);

// index_add with autograd (gx = g, gsrc = index_select(g, dim, idx)); inputs already checked.
Tensor index_add_node(const Tensor& x, std::int64_t dim, const Tensor& idx, const Tensor& src,
                      Mode mode, const char* op) {
  Tensor out = add_rows(x, dim, idx, src, mode, op);
  if (x.dim() == 0) out = out.view({});
  if (autograd::needs_grad({&x, &src})) {
    Shape src_shape = src.shape();
    autograd::record(op, out, {x, src}, [idx, dim, mode, src_shape, op](const Tensor& g) {
      return std::vector<Tensor>{g, index_select_node(g, dim, idx, mode, op).reshape(src_shape)};
    }, {idx});
  }
  return out;
}

// index_select with autograd (gx = index_add(zeros_like(x), dim, idx, g)); inputs checked.
Tensor index_select_node(const Tensor& x, std::int64_t dim, const Tensor& idx, Mode mode,
                         const char* op) {
  Tensor out = select_rows(x, dim, idx, op);
  if (autograd::needs_grad({&x})) {
    Shape x_shape = x.shape();
    DType t = x.dtype();
    autograd::record(op, out, {x}, [idx, dim, mode, x_shape, t, op](const Tensor& g) {
      Tensor z = zeros(x_shape, t, g.device());
      return std::vector<Tensor>{index_add_node(z, dim, idx, g, mode, op)};
    }, {idx});
  }
  return out;
}

// Linear indices into the flattened contiguous x for gather/scatter_add:
// lin[j] = index[j] * xs[dim] + sum_{d != dim} j_d * xs[d], xs = x's contiguous strides. 1-D.
Tensor linear_index(const Tensor& index, const Shape& x_shape, std::int64_t dim) {
  NoGradGuard ng;
  if (x_shape.empty()) return index.detach().reshape({index.numel()});
  Shape xs = detail::contiguous_strides(x_shape);
  Device dev = index.device();
  Tensor lin = mul(index.detach(), scalar_tensor(static_cast<double>(xs[dim]), DType::i64, dev));
  for (std::int64_t d = 0; d < index.dim(); ++d) {
    if (d == dim || index.size(d) == 1) continue;  // j_d is 0 when the extent is 1
    Shape bshape(index.dim(), 1);
    bshape[d] = index.size(d);
    Tensor j = arange(0.0, static_cast<double>(index.size(d)), 1.0, DType::i64, dev);
    lin = add(lin, mul(j.view(bshape), scalar_tensor(static_cast<double>(xs[d]), DType::i64, dev)));
  }
  return lin.reshape({lin.numel()});
}

// Shared checks of gather / scatter_add: index i64 with x's rank, extents bounded by `bound`
// (x, and src for scatter_add) as PyTorch requires.
void check_gather_index(const Tensor& x, std::int64_t dim, const Tensor& index, const char* op) {
  DITTO_CHECK(index.defined(), op, ": index is undefined");
  DITTO_CHECK(index.dtype() == DType::i64, op, ": index must be i64, got ", describe(index),
              " (input ", describe(x), ")");
  DITTO_CHECK(index.dim() == x.dim(), op, ": index must have the input's rank, got index ",
              shape_str(index.shape()), " for input ", shape_str(x.shape()));
  for (std::int64_t d = 0; d < x.dim(); ++d)
    DITTO_CHECK(d == dim || index.size(d) <= x.size(d), op, ": index ", shape_str(index.shape()),
                " is larger than input ", shape_str(x.shape()), " in dim ", d, " (", index.size(d),
                " > ", x.size(d), ")");
}

}  // namespace

namespace detail {

/// gather without the index range check (the caller has checked): used by nll_loss, whose own
/// check names its targets. Declared in core/ops/op_util.h.
Tensor gather_prechecked(const Tensor& x, std::int64_t dim, const Tensor& index) {
  Mode mode = get_mode();
  Tensor lin = linear_index(index, x.shape(), dim);
  Tensor flat = x.contiguous().reshape({x.numel()});
  return index_select_node(flat, 0, lin, mode, "gather").reshape(index.shape());
}

}  // namespace detail

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  profile::OpScope scope("index_select");
  const char* op = "index_select";
  DITTO_CHECK(x.defined(), op, ": input is undefined");
  std::int64_t d = wrap(dim, x, op);
  Tensor idx = index_1d(index, x, op);
  detail::require_kernels(x.device(), op);
  std::int64_t K = x.dim() == 0 ? 1 : x.size(d);
  detail::check_index_range(idx, K, op, "index", range_what(dim, K, x, index));
  Tensor out = index_select_node(x, d, idx, get_mode(), op);
  // A 0-d input gives a 0-d result for a 0-d index (as PyTorch), else (M).
  if (x.dim() == 0 && index.dim() == 0) out = out.view({});
  return out;
}

Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& source,
                 std::optional<Mode> mode) {
  profile::OpScope scope("index_add", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "index_add";
  detail::common_device({&x, &source}, op);
  DITTO_CHECK(is_floating(x.dtype()), op, ": needs a floating input, got ", describe(x));
  DITTO_CHECK(source.dtype() == x.dtype(), op, ": source dtype differs from the input's: input ",
              describe(x), ", source ", describe(source));
  std::int64_t d = wrap(dim, x, op);
  Tensor idx = index_1d(index, x, op);
  detail::require_kernels(x.device(), op);
  Shape want = x.shape();
  if (!want.empty()) want[d] = idx.numel();
  bool ok = source.shape() == want ||
            (x.dim() == 0 && source.numel() == idx.numel() && source.dim() <= 1);
  DITTO_CHECK(ok, op, ": source ", shape_str(source.shape()), " does not fit input ",
              shape_str(x.shape()), " with index ", shape_str(index.shape()), " along dim ", dim,
              " (expected source ", shape_str(want), ")");
  std::int64_t K = x.dim() == 0 ? 1 : x.size(d);
  detail::check_index_range(idx, K, op, "index", range_what(dim, K, x, index));
  return index_add_node(x, d, idx, source, resolve_mode(mode), op);
}

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  profile::OpScope scope("gather");
  const char* op = "gather";
  detail::common_device({&x, &index}, op);
  std::int64_t d = wrap(dim, x, op);
  check_gather_index(x, d, index, op);
  detail::require_kernels(x.device(), op);
  std::int64_t K = x.dim() == 0 ? 1 : x.size(d);
  detail::check_index_range(index, K, op, "index", range_what(dim, K, x, index));
  return detail::gather_prechecked(x, d, index);
}

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                   std::optional<Mode> mode) {
  profile::OpScope scope("scatter_add", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "scatter_add";
  detail::common_device({&x, &index, &src}, op);
  DITTO_CHECK(is_floating(x.dtype()), op, ": needs a floating input, got ", describe(x));
  DITTO_CHECK(src.dtype() == x.dtype(), op, ": src dtype differs from the input's: input ",
              describe(x), ", src ", describe(src));
  std::int64_t d = wrap(dim, x, op);
  check_gather_index(x, d, index, op);
  DITTO_CHECK(src.dim() == index.dim(), op, ": src must have the index's rank, got src ",
              shape_str(src.shape()), " for index ", shape_str(index.shape()));
  for (std::int64_t k = 0; k < src.dim(); ++k)
    DITTO_CHECK(index.size(k) <= src.size(k), op, ": index ", shape_str(index.shape()),
                " is larger than src ", shape_str(src.shape()), " in dim ", k, " (", index.size(k),
                " > ", src.size(k), ")");
  detail::require_kernels(x.device(), op);
  std::int64_t K = x.dim() == 0 ? 1 : x.size(d);
  detail::check_index_range(index, K, op, "index", range_what(dim, K, x, index));
  // Only the part of src covered by index takes part (PyTorch); narrow keeps the graph, so src's
  // gradient is gather(g, dim, index) there and zero elsewhere.
  Tensor used = src;
  for (std::int64_t k = 0; k < src.dim(); ++k)
    if (used.size(k) != index.size(k)) used = used.narrow(k, 0, index.size(k));
  Tensor lin = linear_index(index, x.shape(), d);
  Tensor flat = x.contiguous().reshape({x.numel()});
  Tensor out = index_add_node(flat, 0, lin, used.reshape({used.numel()}), resolve_mode(mode), op);
  return out.reshape(x.shape());
}

Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<Mode> mode) {
  profile::OpScope scope("embedding", mode);
  ModeGuard mode_guard(resolve_mode(mode));  // nodes recorded here keep this mode
  const char* op = "embedding";
  detail::common_device({&weight, &indices}, op);
  DITTO_CHECK(weight.dim() == 2 && is_floating(weight.dtype()), op,
              ": weight must be a 2-D floating tensor (num_embeddings, embedding_dim), got ",
              describe(weight));
  DITTO_CHECK(indices.dtype() == DType::i64, op, ": indices must be i64, got ", describe(indices),
              " (weight ", describe(weight), ")");
  detail::require_kernels(weight.device(), op);
  std::int64_t V = weight.size(0), D = weight.size(1);
  Tensor flat = indices.detach().reshape({indices.numel()});
  {
    std::ostringstream what;
    what << "for weight " << shape_str(weight.shape()) << " (num_embeddings " << V << "; indices "
         << shape_str(indices.shape()) << ")";
    detail::check_index_range(flat, V, op, "index", what.str());
  }
  Mode m = resolve_mode(mode);
  Shape out_shape = indices.shape();
  out_shape.push_back(D);
  Tensor out = select_rows(weight, 0, flat, op).view(out_shape);
  if (autograd::needs_grad({&weight})) {
    DType t = weight.dtype();
    autograd::record(op, out, {weight}, [flat, V, D, t, m, op](const Tensor& g) {
      // The weight gradient: rows of g summed into the rows their indices name (sort-based,
      // fixed order per row in Deterministic mode).
      Tensor z = zeros({V, D}, t, g.device());
      return std::vector<Tensor>{index_add_node(z, 0, flat, g.reshape({-1, D}), m, op)};
    }, {flat});
  }
  return out;
}

}  // namespace ditto
