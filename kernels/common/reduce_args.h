// ditto — host-side pieces of reduce() shared by the CPU kernel (kernels/cpu/reduce.cpp) and the
// GPU kernel (kernels/cuda/reduce.cuh): argument validation with its messages and the dim
// normalisation. Written once so the two devices accept the same calls, report the same errors
// and see the same logical order of reduced elements (which the canonical tree's bits depend on).
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/kernel_types.h"
#include "kernels/reduce.h"

namespace ditto::kernels::reduce_args {

using i64 = std::int64_t;

/// The op name used in error messages.
inline const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
    case ReduceOp::argmax: return "argmax";
    case ReduceOp::argmin: return "argmin";
  }
  return "?";
}

/// "[d0,d1,...]" for error messages.
inline std::string shape_str(const View& v) {
  std::string s = "[";
  for (int d = 0; d < v.ndim; ++d) s += (d ? "," : "") + std::to_string(v.shape[d]);
  return s + "]";
}

/// Validates reduce(op, ., in, n_kept, out): the kept dims and the dtype rule (sum: same dtype,
/// u8 -> i64; max/min: same dtype; argmax/argmin: i64 output). Throws ditto::Error naming the op.
inline void check_reduce(ReduceOp op, const View& in, int n_kept, const View& out) {
  const char* name = op_name(op);
  DITTO_CHECK(n_kept >= 0 && n_kept <= in.ndim, "reduce ", name, ": n_kept ", n_kept,
              " out of range for input ", shape_str(in));
  DITTO_CHECK(out.ndim == n_kept, "reduce ", name, ": output ", shape_str(out), " must have the ",
              n_kept, " kept dims of input ", shape_str(in));
  for (int d = 0; d < n_kept; ++d) {
    DITTO_CHECK(out.shape[d] == in.shape[d], "reduce ", name, ": output ", shape_str(out),
                " does not match the kept dims of input ", shape_str(in));
  }
  const DType it = in.dtype, ot = out.dtype;
  switch (op) {
    case ReduceOp::sum:
      DITTO_CHECK(it == DType::u8 ? ot == DType::i64 : ot == it, "reduce sum: ", dtype_name(it),
                  " input cannot write a ", dtype_name(ot), " output");
      break;
    case ReduceOp::max:
    case ReduceOp::min:
      DITTO_CHECK(ot == it, "reduce ", name, ": output dtype ", dtype_name(ot),
                  " must equal input dtype ", dtype_name(it));
      break;
    case ReduceOp::argmax:
    case ReduceOp::argmin:
      DITTO_CHECK(ot == DType::i64, "reduce ", name, ": output dtype must be i64, got ",
                  dtype_name(ot));
      break;
  }
}

/// An empty reduced range (n == 0 with outputs to write) is only defined for sum (its result
/// is 0); the others throw.
inline void check_empty_range(ReduceOp op, const View& in, int n_kept) {
  DITTO_CHECK(op == ReduceOp::sum, "reduce ", op_name(op), ": empty reduced range (input ",
              shape_str(in), ", ", n_kept, " kept dims)");
}

/// The dims of a reduction after normalisation: size-1 dims dropped and neighbours that step
/// exactly over each other merged, separately for the kept and the reduced dims. The logical
/// order is unchanged, so the bits are too. POD: GPU kernels take it (as part of their geometry)
/// by value.
struct Dims {
  i64 K = 1;                   // outputs
  i64 n = 1;                   // reduced elements per output
  int nk = 0;                  // kept dims
  i64 kshape[kMaxDims] = {};   // (nk,)
  i64 kin[kMaxDims] = {};      // (nk,) input strides
  i64 kout[kMaxDims] = {};     // (nk,) output strides
  int nr = 1;                  // reduced dims (>= 1), row-major logical order
  i64 rshape[kMaxDims] = {};   // (nr,)
  i64 rstride[kMaxDims] = {};  // (nr,) input strides
};

/// Normalises a validated (check_reduce) reduction; a range of one element (or none) becomes
/// one reduced dim of size 1 and stride 1.
inline Dims normalize(const View& in, int n_kept, const View& out) {
  Dims p;
  for (int d = 0; d < n_kept; ++d) {
    const i64 s = in.shape[d];
    p.K *= s;
    if (s == 1) continue;
    if (p.nk > 0 && p.kin[p.nk - 1] == in.strides[d] * s &&
        p.kout[p.nk - 1] == out.strides[d] * s) {
      p.kshape[p.nk - 1] *= s;  // the outer dim steps exactly over this one: merge
      p.kin[p.nk - 1] = in.strides[d];
      p.kout[p.nk - 1] = out.strides[d];
    } else {
      p.kshape[p.nk] = s;
      p.kin[p.nk] = in.strides[d];
      p.kout[p.nk] = out.strides[d];
      ++p.nk;
    }
  }
  p.nr = 0;
  for (int d = n_kept; d < in.ndim; ++d) {
    const i64 s = in.shape[d];
    p.n *= s;
    if (s == 1) continue;
    if (p.nr > 0 && p.rstride[p.nr - 1] == in.strides[d] * s) {
      p.rshape[p.nr - 1] *= s;
      p.rstride[p.nr - 1] = in.strides[d];
    } else {
      p.rshape[p.nr] = s;
      p.rstride[p.nr] = in.strides[d];
      ++p.nr;
    }
  }
  if (p.nr == 0) {  // one element per output (or none): trivially contiguous
    p.nr = 1;
    p.rshape[0] = 1;
    p.rstride[0] = 1;
  }
  return p;
}

}  // namespace ditto::kernels::reduce_args
