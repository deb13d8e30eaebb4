// ditto — host-side pieces of index_select / index_add shared by the CPU kernels
// (kernels/cpu/index.cpp) and the GPU kernels (kernels/cuda/index.cuh): argument validation with
// its messages, the index range check of the CPU kernels, and the POD geometry both devices use.
// Written once so that the devices accept the same calls and report the same errors.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/kernel_types.h"

namespace ditto::kernels::index_args {

using i64 = std::int64_t;

/// "[d0,d1,...]" for error messages.
inline std::string shape_str(const View& v) {
  std::string s = "[";
  for (int d = 0; d < v.ndim; ++d) {
    if (d > 0) s += ',';
    s += std::to_string(v.shape[d]);
  }
  s += ']';
  return s;
}

/// Whether no two logical elements of `v` share a memory location (an in-place scatter into an
/// overlapping view would race with itself). Sufficient test: with the dims of extent > 1 sorted
/// by |stride|, each stride steps over everything the smaller-stride dims can reach. An empty
/// view never overlaps.
inline bool non_overlapping(const View& v) {
  i64 ext[kMaxDims], st[kMaxDims];
  int n = 0;
  for (int d = 0; d < v.ndim; ++d) {
    if (v.shape[d] == 0) return true;
    if (v.shape[d] == 1) continue;
    ext[n] = v.shape[d];
    st[n] = v.strides[d] < 0 ? -v.strides[d] : v.strides[d];
    ++n;
  }
  // Insertion sort by |stride| (n <= 8).
  for (int a = 1; a < n; ++a) {
    for (int b = a; b > 0 && st[b] < st[b - 1]; --b) {
      std::swap(st[b], st[b - 1]);
      std::swap(ext[b], ext[b - 1]);
    }
  }
  i64 reach = 0;  // largest offset reachable by the dims before d
  for (int d = 0; d < n; ++d) {
    if (st[d] <= reach) return false;
    reach += st[d] * (ext[d] - 1);
  }
  return true;
}

/// The common shape rule: data (outer, K, inner), index (M) i64 1-d, rows (outer, M, inner).
/// `data_name`/`rows_name` are the names the messages use ("in"/"out" or "out"/"src").
inline void check_shapes(const char* op, const View& data, const char* data_name,
                         const View& index, const View& rows, const char* rows_name) {
  const std::string shapes = std::string(" (") + data_name + " " + shape_str(data) + ", index " +
                             shape_str(index) + ", " + rows_name + " " + shape_str(rows) + ")";
  DITTO_CHECK(data.ndim == 3, op, ": ", data_name, " must be 3-d (outer, K, inner), got ",
              data.ndim, "-d", shapes);
  DITTO_CHECK(rows.ndim == 3, op, ": ", rows_name, " must be 3-d (outer, M, inner), got ",
              rows.ndim, "-d", shapes);
  DITTO_CHECK(index.ndim == 1, op, ": index must be 1-d, got ", index.ndim, "-d", shapes);
  DITTO_CHECK(index.dtype == DType::i64, op, ": index dtype must be i64, got ",
              dtype_name(index.dtype), shapes);
  DITTO_CHECK(data.dtype == rows.dtype, op, ": ", rows_name, " dtype ", dtype_name(rows.dtype),
              " must equal ", data_name, " dtype ", dtype_name(data.dtype), shapes);
  DITTO_CHECK(data.shape[0] == rows.shape[0], op, ": outer sizes differ (", data.shape[0],
              " vs ", rows.shape[0], ")", shapes);
  DITTO_CHECK(data.shape[2] == rows.shape[2], op, ": inner sizes differ (", data.shape[2],
              " vs ", rows.shape[2], ")", shapes);
  DITTO_CHECK(index.shape[0] == rows.shape[1], op, ": index has ", index.shape[0],
              " entries but ", rows_name, " has ", rows.shape[1], " rows", shapes);
}

/// Validates index_select(in, index, out): in (outer, K, inner), index (M) i64, out
/// (outer, M, inner) of in's dtype (any), out non-overlapping. Throws ditto::Error.
inline void check_index_select(const View& in, const View& index, const View& out) {
  check_shapes("index_select", in, "in", index, out, "out");
  DITTO_CHECK(non_overlapping(out), "index_select: out has overlapping strides (out ",
              shape_str(out), ")");
}

/// Validates index_add(out, index, src): out (outer, K, inner), index (M) i64, src
/// (outer, M, inner), out and src f32 or f64 of one dtype, out non-overlapping.
inline void check_index_add(const View& out, const View& index, const View& src) {
  check_shapes("index_add", out, "out", index, src, "src");
  DITTO_CHECK(is_floating(out.dtype), "index_add: dtype must be f32 or f64, got ",
              dtype_name(out.dtype), " (out ", shape_str(out), ", src ", shape_str(src), ")");
  DITTO_CHECK(non_overlapping(out), "index_add: out has overlapping strides (out ",
              shape_str(out), ")");
}

/// Host-side range check (the index must be host-readable: cpu or sim memory): throws
/// ditto::Error naming the first index outside [0, K) and its position.
inline void check_index_range(const char* op, const View& index, i64 K) {
  const auto* ix = static_cast<const i64*>(index.data);
  const i64 M = index.shape[0], s = index.strides[0];
  for (i64 m = 0; m < M; ++m) {
    const i64 k = ix[m * s];
    DITTO_CHECK(k >= 0 && k < K, op, ": index ", k, " at position ", m, " is out of range [0, ",
                K, ")");
  }
}

/// The geometry both devices work with: data (O, K, I), index (M), rows (O, M, I), in elements.
/// `data` is index_select's `in` / index_add's `out`; `rows` is index_select's `out` /
/// index_add's `src`. POD: GPU kernels take it by value.
struct Geo {
  i64 O = 0, K = 0, M = 0, I = 0;
  i64 ds[3] = {};  // data strides
  i64 rs[3] = {};  // rows strides
  i64 xs = 1;      // index stride
};

inline Geo make_geo(const View& data, const View& index, const View& rows) {
  Geo g;
  g.O = data.shape[0];
  g.K = data.shape[1];
  g.I = data.shape[2];
  g.M = index.shape[0];
  for (int d = 0; d < 3; ++d) {
    g.ds[d] = data.strides[d];
    g.rs[d] = rows.strides[d];
  }
  g.xs = index.strides[0];
  return g;
}

}  // namespace ditto::kernels::index_args
