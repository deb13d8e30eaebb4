// ditto — the one place that picks a kernel implementation by device. Op front ends call these;
// each forwards to kernels::cpu::, kernels::sim:: or kernels::cuda:: (same signatures, declared in
// kernels/<family>.h). A device without kernels in this build raises ditto::Error naming the op.
#pragma once
#include <cstdint>

#include "core/device.h"
#include "core/mode.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/index.h"
#include "kernels/random.h"
#include "kernels/reduce.h"
#include "kernels/window.h"

namespace ditto::kernels {

void unary(Device d, UnaryOp op, const View& in, const View& out, UnaryParams p);
void binary(Device d, BinaryOp op, const View& a, const View& b, const View& out);
void where(Device d, const View& cond, const View& a, const View& b, const View& out);
void copy(Device d, const View& in, const View& out);
void fill(Device d, const View& out, double value);
void reduce(Device d, ReduceOp op, Mode mode, const View& in, int n_kept, const View& out);
void gemm(Device d, const GemmArgs& args, Mode mode);
void random_fill(Device d, RandomDist dist, const View& out, std::uint64_t seed,
                 std::uint64_t offset, double a, double b);
void random_uniform_by_thread(Device d, const View& out, std::uint64_t seed,
                              std::uint64_t offset);
void im2col(Device d, const WindowGeom& g, const View& in, const View& cols, double pad_value);
void col2im(Device d, Mode mode, const WindowGeom& g, const View& cols, const View& img);
void index_select(Device d, const View& in, const View& index, const View& out);
void index_add(Device d, Mode mode, const View& out, const View& index, const View& src);

}  // namespace ditto::kernels
