// ditto — CPU direct conv kernels (interface and orders: kernels/conv.h): the per-element chains
// of kernels/common/conv_args.h run one output (or pixel, or weight element) at a time, the split
// across threads along whole items so it never changes a bit. conv2d on the cpu runs im2col +
// the vectorised GEMM instead (core/ops/conv.cpp: faster here); these are the same bits by
// another route, tested against it (test/test_conv_kernel.cpp).
#include "kernels/conv.h"

#include <cstdint>

#include "kernels/common/conv_args.h"
#include "kernels/common/dtype_visit.h"
#include "kernels/cpu/canonical_sum.h"
#include "kernels/cpu/level.h"
#include "kernels/cpu/parallel.h"

namespace ditto::kernels::cpu::DITTO_CPU_NS {
namespace {

using i64 = std::int64_t;
using conv_args::ConvArgs;
static_assert(conv_args::kMaxBatch == kCanonSerialMax);

// Runs fn(i) for every i in [0, total), split across threads; `per_item` = work per item.
template <class F>
void for_items(i64 total, i64 per_item, F&& fn) {
  parallel_ranges(total, threads_for(total * per_item), [&](i64 lo, i64 hi) {
    for (i64 i = lo; i < hi; ++i) fn(i);
  });
}

}  // namespace

void conv_forward(const ConvGeom& g, const View& x, const View& weight, const View& bias,
                  const View& out) {
  conv_args::check_forward(g, x, weight, bias, out);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args::conv_args_of<T>(g, x, weight, &bias, nullptr);
    T* o = static_cast<T*>(out.data);
    for_items(out.numel(), g.w.C / g.G * g.w.kH * g.w.kW, [&](i64 k) { o[k] = a.forward_flat(k); });
  });
}

void conv_backward_data(const ConvGeom& g, const View& grad, const View& weight, const View& dx) {
  conv_args::check_backward_data(g, grad, weight, dx);
  visit_float(grad.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args::conv_args_of<T>(g, dx, weight, nullptr, &grad);
    T* d = static_cast<T*>(dx.data);
    for_items(dx.numel(), g.O / g.G * g.w.kH * g.w.kW,
              [&](i64 i) { d[i] = a.backward_data_flat(i); });
  });
}

void conv_backward_weight(Mode mode, const ConvGeom& g, const View& x, const View& grad,
                          const View& dw) {
  conv_args::check_backward_weight(g, x, grad, dw);
  visit_float(x.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvArgs<T> a = conv_args::conv_args_of<T>(g, x, dw, nullptr, &grad);
    T* d = static_cast<T*>(dw.data);
    const i64 Q = g.w.OH * g.w.OW;
    for_items(dw.numel(), g.w.N * Q, [&](i64 e) {
      i64 o, cg, kh, kw;
      a.weight_element(e, o, cg, kh, kw);
      if (mode == Mode::Deterministic) {
        d[e] = canonical_serial<T, CanonSum>(
            g.w.N, T(0), [&](i64 n) { return a.weight_chain(o, cg, kh, kw, n, 0, Q, T(0)); });
      } else {
        T p = T(0);  // Fast: one chain over the whole (n, oh, ow) range
        for (i64 n = 0; n < g.w.N; ++n) p = a.weight_chain(o, cg, kh, kw, n, 0, Q, p);
        d[e] = p;
      }
    });
  });
}

const ConvKernels conv_table = {.forward = &conv_forward,
                                .backward_data = &conv_backward_data,
                                .backward_weight = &conv_backward_weight};

}  // namespace ditto::kernels::cpu::DITTO_CPU_NS
