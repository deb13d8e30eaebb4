// ditto — internal helpers shared by the op front ends (not installed).
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/kernel_types.h"

namespace ditto::detail {

/// Normalises dim (negative counts from the end) for a tensor of rank `ndim`; throws naming op.
std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, const char* op, const Shape& shape);

/// numpy broadcast of two shapes; throws "op: shapes [..] and [..] cannot be broadcast".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

/// The kernel-side view of t (throws when t has more than kernels::kMaxDims dims).
kernels::View make_view(const Tensor& t, const char* op);
/// The view of t expanded to `shape` (stride 0 on broadcast dims), for kernels.
kernels::View make_broadcast_view(const Tensor& t, const Shape& shape, const char* op);

/// Throws unless all tensors are defined and on one device; returns that device.
Device common_device(const std::vector<const Tensor*>& ts, const char* op);

/// Throws unless the device has kernels for this op family in this build.
void require_kernels(Device d, const char* op);

/// "[2,3] f32" style description of a tensor for messages.
std::string describe(const Tensor& t);

/// New tensor impl sharing t's storage with the given geometry (no autograd). The single place
/// views are made: checks the shape (check_shape) and that every element the view can address
/// lies inside t's storage, so no later read or write can leave the buffer. `op` names the caller.
Tensor make_view_tensor(const Tensor& t, Shape shape, Shape strides, std::int64_t offset,
                        const char* op);

/// Throws unless every element of the i64 tensor `index` lies in [0, size): "<op>: <noun> v is
/// out of range <what> (...)". One device-to-host sync. Defined in core/ops/index.cpp.
void check_index_range(const Tensor& index, std::int64_t size, const char* op, const char* noun,
                       const std::string& what);
/// gather without its index range check (the caller checked, with its own message: nll_loss
/// names its targets). Defined in core/ops/index.cpp.
Tensor gather_prechecked(const Tensor& x, std::int64_t dim, const Tensor& index);

/// The most elements any tensor or view may have: 2^60, counting a size-0 dim as 1 (so that
/// every stride and byte offset of it fits in int64 with room for 8-byte elements).
constexpr std::int64_t kMaxNumel = std::int64_t{1} << 60;

/// Validates a shape a tensor or view is about to get and returns its element count: at most
/// kernels::kMaxDims dims, every size >= 0, and prod(max(size, 1)) <= kMaxNumel (checked without
/// overflowing). Throws "<op>: shape [..] ..." otherwise. Every creation and view path calls it.
std::int64_t check_shape(const Shape& shape, const char* op);

/// Row-major contiguous strides of a shape (the shape must have passed check_shape).
Shape contiguous_strides(const Shape& shape);
/// Product of the sizes (the shape must have passed check_shape, so it cannot overflow).
std::int64_t shape_numel(const Shape& shape);

}  // namespace ditto::detail
