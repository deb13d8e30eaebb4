#include "kernels/dispatch.h"

#include "core/error.h"

#ifndef DITTO_CUDA_COMPILED
#define DITTO_CUDA_COMPILED 0
#endif

namespace ditto::kernels {

// Calls NS::fn(args...) for the device's namespace NS. The cuda branch exists only when the CUDA
// kernels were compiled; otherwise (and for a cuda device that is absent) it raises an Error —
// never a silent fallback to another device.
#if DITTO_CUDA_COMPILED
#define DITTO_CUDA_CALL(fn, ...) cuda::fn(__VA_ARGS__)
#else
#define DITTO_CUDA_CALL(fn, ...) \
  DITTO_FAIL(#fn ": device ", device_name(d), " has no kernels in this build (CUDA not compiled)")
#endif

#define DITTO_DISPATCH(fn, ...)                                    \
  switch (d.type) {                                                \
    case Device::Type::cpu: cpu::fn(__VA_ARGS__); return;          \
    case Device::Type::sim: sim::fn(__VA_ARGS__); return;          \
    case Device::Type::cuda: DITTO_CUDA_CALL(fn, __VA_ARGS__); return; \
  }                                                                \
  DITTO_FAIL(#fn ": unknown device")

void unary(Device d, UnaryOp op, const View& in, const View& out, UnaryParams p) {
  DITTO_DISPATCH(unary, op, in, out, p);
}
void binary(Device d, BinaryOp op, const View& a, const View& b, const View& out) {
  DITTO_DISPATCH(binary, op, a, b, out);
}
void where(Device d, const View& cond, const View& a, const View& b, const View& out) {
  DITTO_DISPATCH(where, cond, a, b, out);
}
void copy(Device d, const View& in, const View& out) { DITTO_DISPATCH(copy, in, out); }
void fill(Device d, const View& out, double value) { DITTO_DISPATCH(fill, out, value); }
void reduce(Device d, ReduceOp op, Mode mode, const View& in, int n_kept, const View& out) {
  DITTO_DISPATCH(reduce, op, mode, in, n_kept, out);
}
void gemm(Device d, const GemmArgs& args, Mode mode) { DITTO_DISPATCH(gemm, args, mode); }
void random_fill(Device d, RandomDist dist, const View& out, std::uint64_t seed,
                 std::uint64_t offset, double a, double b) {
  DITTO_DISPATCH(random_fill, dist, out, seed, offset, a, b);
}
void random_uniform_by_thread(Device d, const View& out, std::uint64_t seed,
                              std::uint64_t offset) {
  DITTO_DISPATCH(random_uniform_by_thread, out, seed, offset);
}
void im2col(Device d, const WindowGeom& g, const View& in, const View& cols, double pad_value) {
  DITTO_DISPATCH(im2col, g, in, cols, pad_value);
}
void col2im(Device d, Mode mode, const WindowGeom& g, const View& cols, const View& img) {
  DITTO_DISPATCH(col2im, mode, g, cols, img);
}
void index_select(Device d, const View& in, const View& index, const View& out) {
  DITTO_DISPATCH(index_select, in, index, out);
}
void index_add(Device d, Mode mode, const View& out, const View& index, const View& src) {
  DITTO_DISPATCH(index_add, mode, out, index, src);
}

}  // namespace ditto::kernels
