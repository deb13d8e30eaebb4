// ditto's side of the benchmark suite: every case of bench/suite_cases.h, Deterministic ("det")
// and Fast ("fast"), at 1 and 2 threads, through the public API. `ditto bench` runs it beside
// bench_torch (the same shapes through libtorch) and writes BENCH.md; it can also run alone:
//   build/bench/bench_suite --benchmark_filter='conv2d/' --benchmark_min_time=0.5
//   build/bench/bench_suite --ditto_device=cuda          (the same cases on a GPU, where one is)
// Times are wall-clock (UseRealTime: the kernels run their own OpenMP threads). Counters:
// "GB/s" (input bytes read once, memory-bound kinds) or "GFLOP/s" (matmul, conv), "cpu_threads";
// the run's context records the CPU ISA level and the device.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <string>

#include "bench/suite_cases.h"
#include "bench/suite_run.h"
#include "core/cpu_isa.h"
#include "ditto/ditto.h"

namespace {

using ditto_bench::Case;
using ditto_bench::Kind;

using ditto_bench::Body;

using namespace ditto;


// Forward + backward of op(x) with x requiring grad; the gradient is dropped after each
// iteration so that iterations do not accumulate.
template <class Op>
Body forward_backward(const Tensor& x0, Generator& g, Op op) {
  auto x = std::make_shared<Tensor>(x0);
  x->requires_grad_();
  Tensor gy = randn(op(*x).shape(), g, DType::f32, x->device());
  return {{}, [x, gy, op] {
            Tensor y = op(*x);
            y.backward(gy);
            benchmark::DoNotOptimize(x->grad().raw_data());
            x->set_grad(Tensor());
          }};
}

const data::Dataset& fashion_mnist_train() {
  static const data::Dataset set = data::load_fashion_mnist("train");
  return set;
}

Body make_body(const Case& c, Device dev, Generator& g) {
  const Shape shape = ditto_bench::input_shape(c);
  switch (c.kind) {
    case Kind::sum:
    case Kind::mean:
    case Kind::var:
    case Kind::sum_dims: {
      Tensor x = randn(shape, g, DType::f32, dev);
      const Kind k = c.kind;
      const Dims dims(c.dims.begin(), c.dims.end());
      return {{}, [x, k, dims] {
                Tensor r = k == Kind::mean ? mean(x) : k == Kind::var ? var(x) : sum(x, dims);
                benchmark::DoNotOptimize(r.raw_data());
              }};
    }
    case Kind::matmul: {
      Tensor a = randn(shape, g, DType::f32, dev), b = randn(shape, g, DType::f32, dev);
      return {{}, [a, b] { benchmark::DoNotOptimize(matmul(a, b).raw_data()); }};
    }
    case Kind::conv_forward: {
      Tensor x = randn(shape, g, DType::f32, dev);
      Tensor w = randn({c.param, c.shape[1], 3, 3}, g, DType::f32, dev);
      return {{}, [x, w] {
                benchmark::DoNotOptimize(conv2d(x, w, Tensor(), 1, 1).raw_data());
              }};
    }
    case Kind::conv_backward_data:
    case Kind::conv_backward_weight: {
      // The forward runs untimed each iteration (it records the graph the backward walks).
      const bool data = c.kind == Kind::conv_backward_data;
      auto x = std::make_shared<Tensor>(randn(shape, g, DType::f32, dev));
      auto w = std::make_shared<Tensor>(randn({c.param, c.shape[1], 3, 3}, g, DType::f32, dev));
      (data ? *x : *w).requires_grad_();
      Tensor gy = randn({c.shape[0], c.param, c.shape[2], c.shape[3]}, g, DType::f32, dev);
      auto y = std::make_shared<Tensor>();
      return {[x, w, y] { *y = conv2d(*x, *w, Tensor(), 1, 1); },
              [x, w, y, gy, data] {
                y->backward(gy);
                Tensor& leaf = data ? *x : *w;
                benchmark::DoNotOptimize(leaf.grad().raw_data());
                leaf.set_grad(Tensor());
                *y = Tensor();
              }};
    }
    case Kind::batch_norm: {
      const std::int64_t ch = c.shape[1];
      Tensor w = ones({ch}, DType::f32, dev).requires_grad_();
      Tensor b = zeros({ch}, DType::f32, dev).requires_grad_();
      Tensor rm = zeros({ch}, DType::f32, dev), rv = ones({ch}, DType::f32, dev);
      Body body = forward_backward(randn(shape, g, DType::f32, dev), g, [=](const Tensor& x) {
        return batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
      });
      return {{}, [body, w, b]() mutable {
                body.timed();
                w.set_grad(Tensor());
                b.set_grad(Tensor());
              }};
    }
    case Kind::dropout: {
      auto drop = std::make_shared<Generator>(7);
      return forward_backward(randn(shape, g, DType::f32, dev), g, [drop](const Tensor& x) {
        return dropout(x, ditto_bench::kDropout, true, *drop);
      });
    }
    case Kind::max_pool_2x2:
      return forward_backward(randn(shape, g, DType::f32, dev), g,
                              [](const Tensor& x) { return max_pool2d(x, 2); });
    case Kind::max_pool_3x3:
      return forward_backward(randn(shape, g, DType::f32, dev), g,
                              [](const Tensor& x) { return max_pool2d(x, 3, Size2{2}, 1); });
    case Kind::avg_pool_3x3:
      return forward_backward(randn(shape, g, DType::f32, dev), g,
                              [](const Tensor& x) { return avg_pool2d(x, 3, Size2{2}, 1); });
    case Kind::adaptive_avg_pool: {
      const std::int64_t o = c.param;
      return forward_backward(randn(shape, g, DType::f32, dev), g, [o](const Tensor& x) {
        return adaptive_avg_pool2d(x, {o, o});
      });
    }
    case Kind::index_add: {
      Tensor out = zeros({c.shape[0], c.shape[1]}, DType::f32, dev);
      Tensor src = randn({c.shape[2], c.shape[1]}, g, DType::f32, dev);
      Tensor idx = randint(0, c.param, {c.shape[2]}, g, DType::i64, dev);
      return {{}, [out, src, idx] {
                benchmark::DoNotOptimize(index_add(out, 0, idx, src).raw_data());
              }};
    }
    case Kind::train_step: {
      // The default model and optimizer on one fixed batch: forward, loss read back (as the
      // trainer does), backward, Adam step.
      struct Step {
        Generator init{0}, drop{1};
        nn::FashionCnn model{nn::FashionCnnOptions{}, init, drop};
        std::optional<optim::Adam> opt;
        Tensor x, y;
      };
      auto st = std::make_shared<Step>();
      st->model.to(dev);
      st->opt.emplace(st->model.parameters(), optim::AdamOptions{.lr = ditto_bench::kAdamLr});
      st->x = randn(shape, g, DType::f32, dev);
      st->y = randint(0, 10, {c.shape[0]}, g, DType::i64, dev);
      return {{}, [st] {
                st->opt->zero_grad();
                Tensor loss = cross_entropy(st->model(st->x), st->y);
                benchmark::DoNotOptimize(loss.to(Device::cpu()).item<float>());
                loss.backward();
                st->opt->step();
              }};
    }
    case Kind::train_epoch: {
      const data::Dataset& train = fashion_mnist_train();
      return {{}, [&train, dev] {
                TrainerConfig cfg;
                cfg.device = dev;
                cfg.pixel_mean = ditto_bench::kPixelMean;
                cfg.pixel_std = ditto_bench::kPixelStd;
                Trainer t(cfg, train);
                RunEnd end = t.run(t.loader().batches_per_epoch());
                benchmark::DoNotOptimize(end.loss);
              }};
    }
  }
  throw Error("bench_suite: unknown case kind");
}

void run_case(benchmark::State& s, const Case& c, Mode mode, int threads, Device dev) {
  set_num_threads(threads);
  ModeGuard guard(mode);
  Generator g(42);
  std::optional<Body> body;
  try {
    body = make_body(c, dev, g);
  } catch (const Error& e) {
    s.SkipWithError(e.what());
    return;
  }
  ditto_bench::run_body(s, c, *body, threads,
                        std::string(mode_name(mode)) + ", " +
                            std::string(cpu_isa_name(get_cpu_isa())));
}

// --ditto_device=cpu|cuda (Google Benchmark leaves flags it does not know in argv).
Device device_from_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* flag = "--ditto_device=";
    if (std::strncmp(argv[i], flag, std::strlen(flag)) != 0) continue;
    const std::string v = argv[i] + std::strlen(flag);
    if (v == "cpu") return Device::cpu();
    if (v == "cuda") return Device::cuda();
    throw Error("bench_suite: --ditto_device must be cpu or cuda (got '" + v +
                "'); the simulator's own cost is measured by bench_ops and bench_sim");
  }
  return Device::cpu();
}

}  // namespace

int main(int argc, char** argv) {
  ditto::apply_wait_policy(argc, argv);
  benchmark::Initialize(&argc, argv);
  try {
    const ditto::Device dev = device_from_args(argc, argv);
    if (!ditto::device_available(dev)) {
      std::fprintf(stderr, "bench_suite: device %s is not available here\n",
                   ditto::device_name(dev).c_str());
      return 1;
    }
    benchmark::AddCustomContext("ditto_version", std::string(ditto::version()));
    benchmark::AddCustomContext("ditto_device", ditto::device_name(dev));
    benchmark::AddCustomContext("ditto_cpu_isa",
                                std::string(ditto::cpu_isa_name(ditto::get_cpu_isa())));
    for (const Case& c : ditto_bench::cases()) {
      for (int t : ditto_bench::kThreads) {
        for (ditto::Mode m : {ditto::Mode::Deterministic, ditto::Mode::Fast}) {
          const char* variant = m == ditto::Mode::Deterministic ? "det" : "fast";
          auto* b = benchmark::RegisterBenchmark(
              ditto_bench::bench_name(c, variant, t).c_str(),
              [&c, m, t, dev](benchmark::State& s) { run_case(s, c, m, t, dev); });
          b->UseRealTime()->Unit(benchmark::kMillisecond);
          if (c.kind == Kind::train_epoch) b->Iterations(1);
        }
      }
    }
  } catch (const ditto::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
