// ditto — the op-case list: every kernel family exercised through the public ops, with fixed
// shapes, attributes and dtypes (ggml's test-backend-ops is the model). One list drives the
// device-parity, ISA-level, thread-count, schedule-seed, fast-vs-deterministic and gradcheck tests
// (test/test_op_cases.cpp); the benchmark report and `ditto lab` read the same list, so a new
// kernel adds one entry (core/op_cases.cpp) and is tested, benchmarked and shown everywhere.
// Internal to the repository (not installed).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/generator.h"
#include "core/mode.h"
#include "core/tensor.h"

namespace ditto::cases {

/// How a case's inputs are drawn (from fixed Philox streams, on the cpu in f64, then converted
/// and moved: every device and dtype sees the same values).
enum class Inputs {
  normal,    ///< N(0, 1)
  positive,  ///< |N(0, 1)| + 0.5 (log, sqrt, division)
};

/// One op case.
struct OpCase {
  std::string name;    ///< unique, says the op and its attributes
  std::string family;  ///< the kernel family it exercises (kernels/<family>.h), or "nn"
  /// Input shapes for every check except gradcheck.
  std::vector<Shape> shapes;
  /// The op under test: outputs from inputs (which require grad when the case is
  /// differentiable). Index tensors, buffers and the like are made inside from `gen`, on the
  /// inputs' device; `gen` starts from the same state on every run.
  std::function<std::vector<Tensor>(const std::vector<Tensor>& in, Generator& gen)> run;
  Inputs inputs = Inputs::normal;
  /// Backward is compared too (the gradients of sum_k sum(out_k * w_k), w_k fixed), and
  /// gradcheck runs in f64.
  bool differentiable = true;
  /// Smaller input shapes for gradcheck (finite differences cost two forwards per element);
  /// empty = `shapes`. The driver refuses a differentiable case whose gradcheck inputs exceed
  /// 512 elements.
  std::vector<Shape> grad_shapes;
  /// Fast-mode results must lie within fast_tol × max(1, max |deterministic|) of
  /// Deterministic, per dtype; nullopt = Fast draws other random numbers by design (dropout),
  /// not comparable.
  std::optional<double> fast_tol_f32 = 1e-4;
  std::optional<double> fast_tol_f64 = 1e-10;
  std::vector<DType> dtypes = {DType::f32, DType::f64};
};

/// The list. Names are unique; every kernel family has at least one case.
const std::vector<OpCase>& op_cases();

/// The case's inputs for `shapes` (default: c.shapes) in dtype t on device d.
std::vector<Tensor> make_inputs(const OpCase& c, DType t, Device d,
                                const std::vector<Shape>* shapes = nullptr);

/// Runs case c under `mode` and returns its outputs followed by the inputs' gradients when the
/// case is differentiable (float outputs that require grad feed the backward pass).
std::vector<Tensor> run_case(const OpCase& c, DType t, Device d, Mode mode);

}  // namespace ditto::cases
