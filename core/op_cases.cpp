#include "core/op_cases.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

// Cases name only the fields they change (designated initialisers); the others keep their
// documented defaults, which is what GCC's -Wextra would otherwise warn about.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ditto::cases {
namespace {

using V = std::vector<Tensor>;

// Random indices in [0, k) of the given shape, made from gen on x's device.
Tensor indices(const Shape& s, std::int64_t k, Generator& gen, const Tensor& like) {
  return randint(0, k, s, gen, DType::i64, like.device());
}

std::vector<OpCase> build() {
  std::vector<OpCase> v;
  auto add = [&](OpCase c) { v.push_back(std::move(c)); };

  // ---- reduce ------------------------------------------------------------------------------
  add({.name = "sum over dims 0 and 2",
       .family = "reduce",
       .shapes = {{7, 33, 9}},
       .run =
           [](const V& x, Generator&) {
             return V{sum(x[0], {0, 2})};
           },
       .grad_shapes = {{3, 4, 5}}});
  add({.name = "sum of 1,000,003 values (many canonical chunks)",
       .family = "reduce",
       .shapes = {{1000003}},
       .run = [](const V& x, Generator&) { return V{sum(x[0])}; },
       .grad_shapes = {{300}}});
  add({.name = "mean and var (unbiased) over dim 1",
       .family = "reduce",
       .shapes = {{5, 1025}},
       .run =
           [](const V& x, Generator&) {
             return V{mean(x[0], {1}), var(x[0], {1})};
           },
       .grad_shapes = {{3, 40}}});
  add({.name = "max and argmax over dim 1, min over dims 0 and 1",
       .family = "reduce",
       .shapes = {{6, 257}},
       .run =
           [](const V& x, Generator&) {
             return V{max(x[0], {1}), argmax(x[0], 1), min(x[0], {0, 1})};
           },
       .grad_shapes = {{4, 9}}});
  add({.name = "softmax over dim 1, log_softmax over dim 0",
       .family = "reduce",
       .shapes = {{7, 1023}},
       .run =
           [](const V& x, Generator&) {
             return V{softmax(x[0], 1), log_softmax(x[0], 0)};
           },
       .grad_shapes = {{5, 6}}});

  // ---- elementwise -------------------------------------------------------------------------
  add({.name = "elementwise chain with broadcasting (exp, mul, tanh, sigmoid, abs, div)",
       .family = "elementwise",
       .shapes = {{31, 33}, {33}},
       .run =
           [](const V& x, Generator&) {
             return V{(x[0].exp() * x[1]).tanh() + x[0].sigmoid() / (x[1].abs() + 1.0)};
           },
       .grad_shapes = {{4, 5}, {5}}});
  add({.name = "log, sqrt, pow 2.5, clamp, maximum, where",
       .family = "elementwise",
       .shapes = {{17, 19}, {17, 19}},
       .run =
           [](const V& x, Generator&) {
             Tensor a = x[0].log() + x[1].sqrt() * pow(x[0], 2.5);
             Tensor b = maximum(x[0], x[1]).clamp(0.6, 1.9);
             return V{where(gt(x[0], x[1]), a, b)};
           },
       .inputs = Inputs::positive,
       .grad_shapes = {{3, 4}, {3, 4}}});

  // ---- gemm --------------------------------------------------------------------------------
  add({.name = "matmul, batched with a broadcast right operand",
       .family = "gemm",
       .shapes = {{3, 17, 65}, {65, 7}},
       .run = [](const V& x, Generator&) { return V{matmul(x[0], x[1])}; },
       .grad_shapes = {{2, 3, 4}, {4, 5}}});
  add({.name = "linear with bias, (33, 70) x (70 -> 20)",
       .family = "gemm",
       .shapes = {{33, 70}, {20, 70}, {20}},
       .run = [](const V& x, Generator&) { return V{linear(x[0], x[1], x[2])}; },
       .grad_shapes = {{3, 4}, {2, 4}, {2}}});

  // ---- window (conv2d and the pools) -------------------------------------------------------
  add({.name = "conv2d 3x3, padding 1, bias",
       .family = "window",
       .shapes = {{2, 3, 7, 6}, {4, 3, 3, 3}, {4}},
       .run = [](const V& x, Generator&) { return V{conv2d(x[0], x[1], x[2], 1, 1)}; },
       .grad_shapes = {{1, 2, 4, 4}, {2, 2, 3, 3}, {2}}});
  add({.name = "conv2d 3x2, stride 2, dilation (2, 1), groups 2, no bias",
       .family = "window",
       .shapes = {{3, 4, 9, 8}, {6, 2, 3, 2}},
       .run =
           [](const V& x, Generator&) {
             return V{conv2d(x[0], x[1], Tensor(), 2, {1, 0}, {2, 1}, 2)};
           },
       .grad_shapes = {{1, 4, 6, 5}, {2, 2, 3, 2}}});
  add({.name = "conv2d 3x3 16 -> 8, padding 1, bias, batch 3 (the CNN's layer; direct kernels on "
               "the GPU devices, im2col + GEMM on the cpu)",
       .family = "conv",
       .shapes = {{3, 16, 9, 10}, {8, 16, 3, 3}, {8}},
       .run = [](const V& x, Generator&) { return V{conv2d(x[0], x[1], x[2], 1, 1)}; },
       .grad_shapes = {{2, 2, 4, 4}, {2, 2, 3, 3}, {2}}});
  add({.name = "max_pool2d 3x3, stride 2, padding 1, ceil_mode",
       .family = "pool",
       .shapes = {{2, 3, 7, 6}},
       .run = [](const V& x, Generator&) { return V{max_pool2d(x[0], 3, Size2{2}, 1, 1, true)}; },
       .grad_shapes = {{1, 2, 5, 5}}});
  add({.name = "avg_pool2d (3, 2), stride (2, 1), padding (1, 0), ceil_mode, exclude padding",
       .family = "pool",
       .shapes = {{2, 3, 7, 6}},
       .run =
           [](const V& x, Generator&) {
             return V{avg_pool2d(x[0], {3, 2}, Size2{2, 1}, {1, 0}, true, false)};
           },
       .grad_shapes = {{1, 2, 5, 4}}});

  add({.name = "max_pool2d 2x2 (the CNN's), and 3x3 with dilation 2 on a transposed input",
       .family = "pool",
       .shapes = {{4, 16, 28, 28}, {2, 3, 11, 9}},
       .run =
           [](const V& x, Generator&) {
             return V{max_pool2d(x[0], 2),
                      max_pool2d(x[1].transpose(2, 3), 3, Size2{1}, 1, 2, false)};
           },
       .grad_shapes = {{1, 2, 4, 4}, {1, 1, 7, 6}}});
  add({.name = "avg_pool2d 2x2, and 3x3 stride 2 padding 1 including padding",
       .family = "pool",
       .shapes = {{4, 16, 28, 28}, {2, 3, 11, 9}},
       .run =
           [](const V& x, Generator&) {
             return V{avg_pool2d(x[0], 2), avg_pool2d(x[1], 3, Size2{2}, 1, false, true)};
           },
       .grad_shapes = {{1, 2, 4, 4}, {1, 1, 7, 6}}});
  add({.name = "adaptive_avg_pool2d and adaptive_max_pool2d (7, 9) -> (3, 4): overlapping windows",
       .family = "pool",
       .shapes = {{2, 3, 7, 9}},
       .run =
           [](const V& x, Generator&) {
             return V{adaptive_avg_pool2d(x[0], {3, 4}), adaptive_max_pool2d(x[0], {3, 4})};
           },
       .grad_shapes = {{1, 2, 5, 7}}});
  add({.name = "adaptive pools (5, 5) -> (2, 2) on a transposed input, (3, 4) -> (5, 7) upsampling",
       .family = "pool",
       .shapes = {{1, 4, 5, 5}, {2, 2, 3, 4}},
       .run =
           [](const V& x, Generator&) {
             return V{adaptive_max_pool2d(x[0].transpose(2, 3), 2),
                      adaptive_avg_pool2d(x[1], {5, 7})};
           },
       .grad_shapes = {{1, 1, 5, 5}, {1, 1, 3, 4}}});

  // ---- upsample -----------------------------------------------------------------------------
  add({.name =
           "interpolate nearest: scale 2 (the 2x rule), size (7, 9) from (5, 4), scale (1.5, 0.6)",
       .family = "upsample",
       .shapes = {{2, 3, 5, 4}},
       .run =
           [](const V& x, Generator&) {
             return V{interpolate(x[0], {.scale_factor = 2.0}), interpolate(x[0], {.size = {7, 9}}),
                      interpolate(x[0], {.scale_factor = Scale2{1.5, 0.6}})};
           },
       .grad_shapes = {{1, 2, 3, 4}}});
  add({.name = "interpolate bilinear: scale 2, size (7, 5) with align_corners, down to (3, 2)",
       .family = "upsample",
       .shapes = {{2, 3, 5, 4}},
       .run =
           [](const V& x, Generator&) {
             const InterpolateMode bl = InterpolateMode::bilinear;
             return V{interpolate(x[0], {.scale_factor = 2.0, .mode = bl}),
                      interpolate(x[0], {.size = {7, 5}, .mode = bl, .align_corners = true}),
                      interpolate(x[0], {.size = {3, 2}, .mode = bl})};
           },
       .grad_shapes = {{1, 2, 3, 4}}});
  add({.name = "interpolate bilinear x4 on a transposed input (16 outputs per pixel)",
       .family = "upsample",
       .shapes = {{2, 2, 6, 7}},
       .run =
           [](const V& x, Generator&) {
             return V{interpolate(x[0].transpose(2, 3),
                                  {.scale_factor = 4.0, .mode = InterpolateMode::bilinear})};
           },
       .grad_shapes = {{1, 1, 3, 2}}});

  // ---- batch_norm --------------------------------------------------------------------------
  add({.name = "batch_norm training 4-D (affine, running statistics; 1300 values per channel: two "
               "chunks)",
       .family = "batch_norm",
       .shapes = {{13, 3, 10, 10}, {3}, {3}},
       .run =
           [](const V& x, Generator&) {
             const std::int64_t C = x[0].size(1);
             Tensor rm = zeros({C}, x[0].dtype(), x[0].device());
             Tensor rv = ones({C}, x[0].dtype(), x[0].device());
             return V{batch_norm(x[0], rm, rv, x[1], x[2], true, 0.3), rm, rv};
           },
       .grad_shapes = {{3, 2, 3, 2}, {2}, {2}}});
  add({.name = "batch_norm training 2-D and 3-D, no affine, no running statistics",
       .family = "batch_norm",
       .shapes = {{37, 5}, {4, 3, 9}},
       .run =
           [](const V& x, Generator&) {
             return V{batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true),
                      batch_norm(x[1], Tensor(), Tensor(), Tensor(), Tensor(), true)};
           },
       .grad_shapes = {{6, 3}, {3, 2, 4}}});
  add({.name = "batch_norm eval 3-D (running statistics), weight without bias",
       .family = "batch_norm",
       .shapes = {{5, 4, 7}, {4}},
       .run =
           [](const V& x, Generator&) {
             Tensor rm = from_vector(std::vector<double>{0.1, -0.2, 0.3, 0.0}, {4})
                             .to(x[0].dtype())
                             .to(x[0].device());
             Tensor rv = from_vector(std::vector<double>{0.5, 1.5, 2.0, 1.0}, {4})
                             .to(x[0].dtype())
                             .to(x[0].device());
             return V{batch_norm(x[0], rm, rv, x[1], Tensor(), false)};
           },
       .grad_shapes = {{2, 4, 3}, {4}}});

  // ---- index -------------------------------------------------------------------------------
  add({.name = "index_add, index_select, gather, scatter_add, embedding (repeated indices)",
       .family = "index",
       .shapes = {{6, 5}, {9, 5}, {6, 5}},
       .run = [](const V& x, Generator& g) {
         Tensor i = indices({9}, 6, g, x[0]), gi = indices({8, 5}, 6, g, x[0]);
         Tensor e = indices({3, 4}, 6, g, x[0]);
         return V{index_add(x[0], 0, i, x[1]), index_select(x[0], 0, i),
                  scatter_add(x[0], 0, gi, gather(x[2], 0, gi)), embedding(x[2], e)};
       }});
  add({.name = "embedding backward, 2000 lookups into 7 rows (heavy repetition)",
       .family = "index",
       .shapes = {{7, 33}},
       .run =
           [](const V& x, Generator& g) {
             return V{embedding(x[0], indices({2000}, x[0].size(0), g, x[0]))};
           },
       .grad_shapes = {{3, 4}}});

  // ---- random ------------------------------------------------------------------------------
  add({.name = "dropout p = 0.3 (training)",
       .family = "dropout",
       .shapes = {{13, 57}},
       .run = [](const V& x, Generator& g) { return V{dropout(x[0], 0.3, true, g)}; },
       .grad_shapes = {{4, 5}},
       .fast_tol_f32 = std::nullopt,
       .fast_tol_f64 = std::nullopt});
  add({.name = "rand, randn, randint (every element keyed by its counter)",
       .family = "random",
       .shapes = {{3, 1}},
       .run =
           [](const V& x, Generator& g) {
             return V{rand({5, 77}, g, x[0].dtype(), x[0].device()),
                      randn({1001}, g, x[0].dtype(), x[0].device()),
                      randint(-3, 9, {40}, g, DType::i64, x[0].device())};
           },
       .differentiable = false});

  // ---- nn: the compositions a model is made of ---------------------------------------------
  add({.name = "batch_norm 4-D (training, affine, running statistics) + dropout + linear + "
               "cross_entropy",
       .family = "nn",
       .shapes = {{4, 3, 2, 2}, {3}, {3}, {5, 12}, {5}},
       .run =
           [](const V& x, Generator& g) {
             Tensor rm = zeros({3}, x[0].dtype(), x[0].device());
             Tensor rv = ones({3}, x[0].dtype(), x[0].device());
             Tensor h = batch_norm(x[0], rm, rv, x[1], x[2], true);
             Tensor z = linear(dropout(h, 0.25, true, g).reshape({4, 12}), x[3], x[4]);
             Tensor target =
                 from_vector(std::vector<std::int64_t>{4, 0, -100, 2}, {4}).to(x[0].device());
             return V{cross_entropy(z, target), z, rm, rv};
           },
       .fast_tol_f32 = std::nullopt,  // dropout's Fast mask differs by design
       .fast_tol_f64 = std::nullopt});
  add({.name = "batch_norm eval (running statistics), affine, 4-D",
       .family = "nn",
       .shapes = {{4, 3, 5, 6}, {3}, {3}},
       .run =
           [](const V& x, Generator&) {
             Tensor rm = from_vector(std::vector<double>{0.1, -0.2, 0.3}, {3})
                             .to(x[0].dtype())
                             .to(x[0].device());
             Tensor rv = from_vector(std::vector<double>{0.5, 1.5, 2.0}, {3})
                             .to(x[0].dtype())
                             .to(x[0].device());
             return V{batch_norm(x[0], rm, rv, x[1], x[2], false)};
           },
       .grad_shapes = {{2, 3, 2, 2}, {3}, {3}}});
  return v;
}

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> list = build();
  return list;
}

std::vector<Tensor> make_inputs(const OpCase& c, DType t, Device d,
                                const std::vector<Shape>* shapes) {
  const std::vector<Shape>& s = shapes ? *shapes : c.shapes;
  std::vector<Tensor> in;
  for (std::size_t i = 0; i < s.size(); ++i) {
    Generator g(1000 + i);
    Tensor x = randn(s[i], g, DType::f64, Device::cpu());
    if (c.inputs == Inputs::positive) x = x.abs() + 0.5;
    x = x.to(t).to(d).detach();
    if (c.differentiable) x.requires_grad_();
    in.push_back(x);
  }
  return in;
}

std::vector<Tensor> run_case(const OpCase& c, DType t, Device d, Mode mode) {
  ModeGuard mg(mode);
  std::vector<Tensor> in = make_inputs(c, t, d);
  Generator gen(77);
  std::vector<Tensor> out = c.run(in, gen);
  std::vector<Tensor> result;
  for (const Tensor& y : out) result.push_back(y.detach());
  if (!c.differentiable) return result;
  Generator wg(78);
  Tensor loss;
  for (const Tensor& y : out) {
    if (!y.requires_grad() || !is_floating(y.dtype())) continue;
    Tensor w = randn(y.shape(), wg, DType::f64, Device::cpu()).to(y.dtype()).to(d);
    Tensor term = sum(y * w);
    loss = loss.defined() ? loss + term : term;
  }
  DITTO_CHECK(loss.defined(), "op case '", c.name, "': differentiable, but no output needs grad");
  loss.backward();
  for (const Tensor& x : in) {
    result.push_back(x.grad().defined() ? x.grad() : zeros(x.shape(), x.dtype(), d));
  }
  return result;
}

}  // namespace ditto::cases
