// libtorch's side of the benchmark suite: every case of bench/suite_cases.h through libtorch's
// C++ API (ATen ops, torch::nn modules, torch::optim::Adam), at the same thread counts, named
// "<family>/<case>/torch/threads:<t>" so that `ditto bench` puts each row beside ditto's.
// Built only when CMake finds Torch (Debian's libtorch-dev; CPU build). libtorch is free to be
// nondeterministic: it is the speed reference, not the bits reference.
//   build/bench/bench_torch --benchmark_filter='conv2d/' --benchmark_min_time=0.5
// Run it with GLIBC_TUNABLES as `ditto bench` does (tools/bench.cpp, kTorchMalloc), or libtorch
// re-faults the pages of every large tensor it allocates.
// The epoch case reads Fashion-MNIST with ditto's loader (the same images ditto trains on) and
// copies them into torch tensors once.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/suite_cases.h"
#include "bench/suite_run.h"
#include "ditto/ditto.h"

namespace {

using ditto_bench::Case;
using ditto_bench::Kind;

using ditto_bench::Body;


template <class Op>
Body forward_backward(at::Tensor x0, Op op) {
  auto x = std::make_shared<at::Tensor>(x0.requires_grad_());
  at::Tensor gy = torch::randn_like(op(*x).detach());
  return {{}, [x, gy, op] {
            at::Tensor y = op(*x);
            y.backward(gy);
            benchmark::DoNotOptimize(x->grad().data_ptr());
            x->mutable_grad().reset();
          }};
}

// The default model, as ditto's nn::FashionCnn (PyTorch's default initialisation).
struct FashionCnnImpl : torch::nn::Module {
  FashionCnnImpl()
      : conv1(register_module(
            "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(16))),
        fc(register_module("fc", torch::nn::Linear(16 * 14 * 14, 10))) {}
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = torch::max_pool2d(torch::relu(bn1(conv1(x))), 2);
    h = torch::dropout(h, ditto_bench::kDropout, is_training());
    return fc(h.flatten(1));
  }
  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::Linear fc;
};
TORCH_MODULE(FashionCnn);

// Fashion-MNIST's training split as (60000, 1, 28, 28) f32 in [0, 1] and (60000) i64 labels,
// normalised with the trainer's mean and std (ditto's loader reads the Debian package's files).
struct TorchData {
  at::Tensor images, labels;
};
const TorchData& fashion_mnist_train() {
  static const TorchData d = [] {
    const ditto::data::Dataset set = ditto::data::load_fashion_mnist("train");
    ditto::Tensor x = set.images.contiguous(), y = set.labels.contiguous();
    TorchData t;
    t.images = torch::from_blob(x.raw_data(), x.shape(), torch::kFloat32).clone();
    t.labels = torch::from_blob(y.raw_data(), y.shape(), torch::kInt64).clone();
    t.images = (t.images - ditto_bench::kPixelMean) / ditto_bench::kPixelStd;
    return t;
  }();
  return d;
}

Body make_body(const Case& c) {
  const auto shape = ditto_bench::input_shape(c);
  const auto f32 = torch::kFloat32;
  switch (c.kind) {
    case Kind::sum:
    case Kind::mean:
    case Kind::var:
    case Kind::sum_dims: {
      at::Tensor x = torch::randn(shape, f32);
      const Kind k = c.kind;
      const std::vector<std::int64_t> dims = c.dims;
      return {{}, [x, k, dims] {
                at::Tensor r = k == Kind::mean  ? x.mean()
                               : k == Kind::var ? x.var()
                               : dims.empty()   ? x.sum()
                                                : x.sum(dims);
                benchmark::DoNotOptimize(r.data_ptr());
              }};
    }
    case Kind::matmul: {
      at::Tensor a = torch::randn(shape, f32), b = torch::randn(shape, f32);
      return {{}, [a, b] { benchmark::DoNotOptimize(at::matmul(a, b).data_ptr()); }};
    }
    case Kind::conv_forward: {
      at::Tensor x = torch::randn(shape, f32), w = torch::randn({c.param, c.shape[1], 3, 3}, f32);
      return {{}, [x, w] {
                benchmark::DoNotOptimize(at::conv2d(x, w, {}, 1, 1).data_ptr());
              }};
    }
    case Kind::conv_backward_data:
    case Kind::conv_backward_weight: {
      const bool data = c.kind == Kind::conv_backward_data;
      auto x = std::make_shared<at::Tensor>(torch::randn(shape, f32));
      auto w = std::make_shared<at::Tensor>(torch::randn({c.param, c.shape[1], 3, 3}, f32));
      (data ? *x : *w).requires_grad_();
      at::Tensor gy = torch::randn({c.shape[0], c.param, c.shape[2], c.shape[3]}, f32);
      auto y = std::make_shared<at::Tensor>();
      return {[x, w, y] { *y = at::conv2d(*x, *w, {}, 1, 1); },
              [x, w, y, gy, data] {
                y->backward(gy);
                at::Tensor& leaf = data ? *x : *w;
                benchmark::DoNotOptimize(leaf.grad().data_ptr());
                leaf.mutable_grad().reset();
                y->reset();
              }};
    }
    case Kind::batch_norm: {
      const std::int64_t ch = c.shape[1];
      at::Tensor w = torch::ones({ch}, f32).requires_grad_();
      at::Tensor b = torch::zeros({ch}, f32).requires_grad_();
      at::Tensor rm = torch::zeros({ch}, f32), rv = torch::ones({ch}, f32);
      Body body = forward_backward(torch::randn(shape, f32), [=](const at::Tensor& x) {
        return at::batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5, false);
      });
      return {{}, [body, w, b]() mutable {
                body.timed();
                w.mutable_grad().reset();
                b.mutable_grad().reset();
              }};
    }
    case Kind::dropout:
      return forward_backward(torch::randn(shape, f32), [](const at::Tensor& x) {
        return at::dropout(x, ditto_bench::kDropout, true);
      });
    case Kind::max_pool_2x2:
      return forward_backward(torch::randn(shape, f32),
                              [](const at::Tensor& x) { return at::max_pool2d(x, {2, 2}); });
    case Kind::max_pool_3x3:
      return forward_backward(torch::randn(shape, f32), [](const at::Tensor& x) {
        return at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
      });
    case Kind::avg_pool_3x3:
      return forward_backward(torch::randn(shape, f32), [](const at::Tensor& x) {
        return at::avg_pool2d(x, {3, 3}, {2, 2}, {1, 1});
      });
    case Kind::adaptive_avg_pool: {
      const std::int64_t o = c.param;
      return forward_backward(torch::randn(shape, f32), [o](const at::Tensor& x) {
        return at::adaptive_avg_pool2d(x, {o, o});
      });
    }
    case Kind::index_add: {
      at::Tensor out = torch::zeros({c.shape[0], c.shape[1]}, f32);
      at::Tensor src = torch::randn({c.shape[2], c.shape[1]}, f32);
      at::Tensor idx = torch::randint(0, c.param, {c.shape[2]}, torch::kInt64);
      return {{}, [out, src, idx] {
                benchmark::DoNotOptimize(at::index_add(out, 0, idx, src).data_ptr());
              }};
    }
    case Kind::train_step: {
      struct Step {
        FashionCnn model;
        torch::optim::Adam opt{model->parameters(),
                               torch::optim::AdamOptions(ditto_bench::kAdamLr)};
        at::Tensor x, y;
      };
      auto st = std::make_shared<Step>();
      st->x = torch::randn(shape, f32);
      st->y = torch::randint(0, 10, {c.shape[0]}, torch::kInt64);
      return {{}, [st] {
                st->opt.zero_grad();
                at::Tensor loss = torch::cross_entropy_loss(st->model->forward(st->x), st->y);
                benchmark::DoNotOptimize(loss.item<float>());
                loss.backward();
                st->opt.step();
              }};
    }
    case Kind::train_epoch: {
      const TorchData& d = fashion_mnist_train();
      const std::int64_t batch = c.shape[0];
      return {{}, [&d, batch] {
                FashionCnn model;
                torch::optim::Adam opt(model->parameters(),
                                       torch::optim::AdamOptions(ditto_bench::kAdamLr));
                const std::int64_t n = d.images.size(0);
                at::Tensor order = torch::randperm(n, torch::kInt64);
                for (std::int64_t i = 0; i < n; i += batch) {
                  at::Tensor idx = order.slice(0, i, std::min(i + batch, n));
                  at::Tensor x = d.images.index_select(0, idx), y = d.labels.index_select(0, idx);
                  opt.zero_grad();
                  at::Tensor loss = torch::cross_entropy_loss(model->forward(x), y);
                  benchmark::DoNotOptimize(loss.item<float>());
                  loss.backward();
                  opt.step();
                }
              }};
    }
  }
  throw std::runtime_error("bench_torch: unknown case kind");
}

void run_case(benchmark::State& s, const Case& c, int threads) {
  at::set_num_threads(threads);
  torch::manual_seed(42);
  std::optional<Body> body;
  try {
    body = make_body(c);
  } catch (const std::exception& e) {
    s.SkipWithError(e.what());
    return;
  }
  ditto_bench::run_body(s, c, *body, threads, "libtorch");
}

}  // namespace

int main(int argc, char** argv) {
  ditto::apply_wait_policy(argc, argv);  // the same OpenMP wait policy as ditto's side
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("torch_version", TORCH_VERSION);
  benchmark::AddCustomContext("torch_config", at::show_config());
  for (const Case& c : ditto_bench::cases()) {
    for (int t : ditto_bench::kThreads) {
      auto* b = benchmark::RegisterBenchmark(ditto_bench::bench_name(c, "torch", t).c_str(),
                                             [&c, t](benchmark::State& s) { run_case(s, c, t); });
      b->UseRealTime()->Unit(benchmark::kMillisecond);
      if (c.kind == Kind::train_epoch) b->Iterations(1);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
