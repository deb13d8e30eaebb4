// ditto — printing tensors.
#include <cstdio>
#include <string>

#include "core/autograd.h"
#include "core/ops/op_util.h"
#include "core/tensor.h"

namespace ditto {

namespace {

constexpr std::int64_t kSummariseAbove = 1000;  // elements; larger tensors print edge items
constexpr std::int64_t kEdgeItems = 3;

std::string format_value(const Tensor& flat, std::int64_t i) {
  char buf[64];
  switch (flat.dtype()) {
    case DType::f32: std::snprintf(buf, sizeof buf, "%.6g", flat.data_ptr<float>()[i]); break;
    case DType::f64: std::snprintf(buf, sizeof buf, "%.10g", flat.data_ptr<double>()[i]); break;
    case DType::i64:
      std::snprintf(buf, sizeof buf, "%lld",
                    static_cast<long long>(flat.data_ptr<std::int64_t>()[i]));
      break;
    case DType::u8: std::snprintf(buf, sizeof buf, "%u", flat.data_ptr<std::uint8_t>()[i]); break;
  }
  return buf;
}

// Prints dims [d, ndim) of the contiguous tensor `flat` starting at element `base`.
void print_dim(std::ostream& os, const Tensor& flat, const Shape& shape, std::size_t d,
               std::int64_t base, bool summarise, int indent) {
  if (d == shape.size()) {
    os << format_value(flat, base);
    return;
  }
  std::int64_t n = shape[d], inner = 1;
  for (std::size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
  os << '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarise && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << "...";
      i = n - kEdgeItems - 1;
      os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    print_dim(os, flat, shape, d + 1, base + i * inner, summarise, indent + 1);
    if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}

}  // namespace

std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(<undefined>)";
  Tensor flat;
  {
    NoGradGuard ng;
    flat = t.to(Device::cpu()).contiguous();
  }
  os << "tensor(";
  print_dim(os, flat, t.shape(), 0, 0, t.numel() > kSummariseAbove, 7);
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype())
     << ", device=" << device_name(t.device());
  if (t.requires_grad()) os << ", requires_grad";
  return os << ')';
}

}  // namespace ditto
