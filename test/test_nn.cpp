// nn::Module and the layers (nn/module.h, nn/layers.h, nn/init.h): PyTorch's state_dict names
// and order, load_state_dict (round trip bit for bit, every error kind reported at once, a
// failed load leaves the model untouched), train/eval recursion, in-place to(Device) seen by an
// optimizer built before the move, initialisation (PyTorch's bounds and draw order, bits per
// seed), BatchNorm running statistics, Dropout, and every layer's forward. Runs on the default
// device (ctest sim/nn runs it on the simulator): sizes are kept small.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test/fixtures/bits.h"
#include "ditto/ditto.h"

using namespace ditto;

namespace {

using ditto::test_fixtures::same_bits;  // test/fixtures/bits.h


// The message of the ditto::Error f throws ("" when it does not throw).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The device that is not the default one (for to() and cross-device loads).
Device other_device() { return default_device().is_cpu() ? Device::sim() : Device::cpu(); }

// A deep copy of every state entry (host doubles / ints), to check a model was left untouched.
std::map<std::string, Tensor> snapshot(const nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (auto& [k, t] : m.state_dict()) out.emplace(k, t.clone().detach());
  return out;
}

bool state_equals(const nn::Module& m, const std::map<std::string, Tensor>& snap) {
  auto sd = m.state_dict();
  if (sd.size() != snap.size()) return false;
  for (auto& [k, t] : sd)
    if (!snap.count(k) || !same_bits(t, snap.at(k))) return false;
  return true;
}

// conv1 -> bn1 -> relu -> head (Sequential: pool, flatten, linear, relu, dropout) -> fc.
// Input (N, 1, 4, 4), output (N, 3).
struct SmallCNN : nn::Module {
  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::Sequential> head;
  std::shared_ptr<nn::Linear> fc;

  SmallCNN(Generator& gen, Generator& drop_gen) {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1},
        gen));
    bn1 = register_module("bn1",
                          std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions{.num_features = 4}));
    head = register_module("head", std::make_shared<nn::Sequential>(
        nn::MaxPool2d({.kernel_size = 2}), nn::Flatten(),
        nn::Linear({.in_features = 16, .out_features = 8}, gen), nn::ReLU(),
        nn::Dropout({.p = 0.25}, drop_gen)));
    fc = register_module("fc", std::make_shared<nn::Linear>(
        nn::LinearOptions{.in_features = 8, .out_features = 3}, gen));
  }
  Tensor forward(const Tensor& x) override {
    return (*fc)((*head)(relu((*bn1)((*conv1)(x)))));
  }
  std::string type_name() const override { return "SmallCNN"; }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (auto& [k, t] : v) out.push_back(k);
  return out;
}

// Gives every buffer of m a recognisable non-initial value (stats as after some training).
void perturb_buffers(nn::Module& m, double base) {
  NoGradGuard ng;
  for (auto& [k, b] : m.named_buffers()) {
    Tensor t = b;
    if (b.dtype() == DType::i64) t.fill_(base);
    else t.copy_(arange(static_cast<double>(b.numel())).reshape(b.shape()) * 0.125 + base);
  }
}

Tensor input_4x4(std::int64_t n, std::uint64_t seed) {
  Generator g(seed);
  return randn({n, 1, 4, 4}, g);
}

}  // namespace

TEST_SUITE("nn") {

// ---- names, order, registration ----------------------------------------------------------------

TEST_CASE("nn: named_parameters / named_buffers / state_dict use PyTorch's names and order") {
  Generator gen(1), dg(2);
  SmallCNN m(gen, dg);
  CHECK(names_of(m.named_parameters()) ==
        std::vector<std::string>{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
                                 "head.2.weight", "head.2.bias", "fc.weight", "fc.bias"});
  CHECK(names_of(m.named_buffers()) ==
        std::vector<std::string>{"bn1.running_mean", "bn1.running_var",
                                 "bn1.num_batches_tracked"});
  CHECK(names_of(m.state_dict_items()) ==
        std::vector<std::string>{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
                                 "bn1.running_mean", "bn1.running_var",
                                 "bn1.num_batches_tracked", "head.2.weight", "head.2.bias",
                                 "fc.weight", "fc.bias"});
  auto sd = m.state_dict();
  CHECK(sd.size() == 11);
  CHECK(sd.at("conv1.weight").shape() == Shape{4, 1, 3, 3});
  CHECK(sd.at("head.2.weight").shape() == Shape{8, 16});
  CHECK(sd.at("bn1.running_var").shape() == Shape{4});
  const Tensor& nbt = sd.at("bn1.num_batches_tracked");
  CHECK(nbt.dim() == 0);
  CHECK(nbt.dtype() == DType::i64);
  CHECK(nbt.item<std::int64_t>() == 0);
  // Detached, but the same storage as the model's tensors.
  CHECK_FALSE(sd.at("fc.weight").requires_grad());
  CHECK(sd.at("fc.weight").shares_storage(m.fc->weight));
  CHECK(m.fc->weight.requires_grad());
  CHECK(m.fc->weight.is_leaf());
  // The handles the registry returns are the layers' members.
  CHECK(m.parameters().front().impl_ptr() == m.conv1->weight.impl_ptr());
  CHECK(m.parameters().size() == 8);
  CHECK(m.buffers().size() == 3);
  CHECK(m.parameters(/*recurse=*/false).empty());

  std::vector<std::string> children, modules;
  for (auto& [k, c] : m.named_children()) children.push_back(k);
  for (auto& [k, c] : m.named_modules()) modules.push_back(k);
  CHECK(children == std::vector<std::string>{"conv1", "bn1", "head", "fc"});
  CHECK(modules == std::vector<std::string>{"conv1", "bn1", "head", "head.0", "head.1",
                                            "head.2", "head.3", "head.4", "fc"});
  CHECK(m.children().at(2) == m.head);
  // state_dict entries are detached handles on the parameters' storage.
  CHECK(m.head->at<nn::Linear>(2)->weight.impl_ptr() != sd.at("head.2.weight").impl_ptr());
  CHECK(m.head->at<nn::Linear>(2)->weight.shares_storage(sd.at("head.2.weight")));
}

TEST_CASE("nn: registration checks names and dtypes; shared tensors are listed once") {
  nn::Module m;
  Tensor w = ones({2});
  Tensor r = m.register_parameter("w", w);
  CHECK(r.impl_ptr() == w.impl_ptr());
  CHECK(w.requires_grad());
  CHECK(contains(error_of([&] { m.register_parameter("w", ones({2})); }), "already a parameter"));
  CHECK(contains(error_of([&] { m.register_buffer("w", ones({2})); }), "already a parameter"));
  CHECK(contains(error_of([&] { m.register_parameter("a.b", ones({2})); }), "'.'"));
  CHECK(contains(error_of([&] { m.register_parameter("", ones({2})); }), "empty"));
  CHECK(contains(error_of([&] { m.register_parameter("i", zeros({2}, DType::i64)); }),
                 "must be floating"));
  CHECK(contains(error_of([&] { m.register_parameter("u", Tensor()); }), "undefined"));
  Tensor frozen = m.register_parameter("frozen", ones({3}), /*requires_grad=*/false);
  CHECK_FALSE(frozen.requires_grad());
  m.register_buffer("buf", zeros({2}, DType::i64));
  CHECK(contains(error_of([&] { m.register_module("buf", std::make_shared<nn::ReLU>()); }),
                 "already a buffer"));
  // A non-leaf becomes a leaf parameter sharing its storage.
  Tensor base = ones({2}).requires_grad_();
  Tensor derived = base * 2.0;
  Tensor p = m.register_parameter("p", derived);
  CHECK(p.is_leaf());
  CHECK(p.shares_storage(derived));

  // The same module (and so the same tensors) under two names: listed once, saved twice.
  Generator gen(5);
  auto shared = std::make_shared<nn::Embedding>(
      nn::EmbeddingOptions{.num_embeddings = 3, .embedding_dim = 2}, gen);
  nn::Module tied;
  tied.register_module("a", shared);
  tied.register_module("b", shared);
  CHECK(names_of(tied.named_parameters()) == std::vector<std::string>{"a.weight"});
  CHECK(tied.state_dict().size() == 2);
  CHECK(tied.named_modules().size() == 1);

  CHECK(contains(error_of([&] { m.forward(ones({1})); }), "forward is not implemented"));
}

TEST_CASE("nn: printing the module tree") {
  Generator gen(1), dg(2);
  SmallCNN m(gen, dg);
  CHECK(m.to_string() ==
        "SmallCNN(\n"
        "  (conv1): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (bn1): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (head): Sequential(\n"
        "    (0): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "    (1): Flatten(start_dim=1, end_dim=-1)\n"
        "    (2): Linear(in_features=16, out_features=8, bias=True)\n"
        "    (3): ReLU()\n"
        "    (4): Dropout(p=0.25, inplace=False)\n"
        "  )\n"
        "  (fc): Linear(in_features=8, out_features=3, bias=True)\n"
        ")");
  nn::BatchNorm1d bn({.num_features = 2, .momentum = std::nullopt, .affine = false});
  CHECK(bn.to_string() ==
        "BatchNorm1d(2, eps=1e-05, momentum=None, affine=False, track_running_stats=True)");
}

// ---- load_state_dict ---------------------------------------------------------------------------

TEST_CASE("nn: load_state_dict round trip is bitwise and in place") {
  Generator g1(1), d1(2), g2(7), d2(8);
  SmallCNN a(g1, d1), b(g2, d2);
  perturb_buffers(a, 3.0);
  CHECK_FALSE(same_bits(a.conv1->weight, b.conv1->weight));
  Tensor b_weight_handle = b.conv1->weight;
  optim::SGD opt(b.parameters(), {.lr = 0.1});
  b.load_state_dict(a.state_dict());
  CHECK(state_equals(b, snapshot(a)));
  // In place: the member, an earlier handle and the optimizer's list all see the loaded values.
  CHECK(b.conv1->weight.impl_ptr() == b_weight_handle.impl_ptr());
  CHECK(same_bits(b_weight_handle, a.conv1->weight));
  CHECK(same_bits(opt.params().front(), a.conv1->weight));
  CHECK(b.bn1->num_batches_tracked.item<std::int64_t>() == 3);
  CHECK(b.conv1->weight.requires_grad());
  // Copied, not aliased: changing a afterwards leaves b alone.
  CHECK_FALSE(b.conv1->weight.shares_storage(a.conv1->weight));
  auto snap_b = snapshot(b);
  perturb_buffers(a, 5.0);
  CHECK(state_equals(b, snap_b));
  // Loading a model's own state_dict is a no-op.
  b.load_state_dict(b.state_dict());
  CHECK(state_equals(b, snap_b));
}

TEST_CASE("nn: load_state_dict converts the source's device") {
  Generator g1(1), d1(2), g2(7), d2(8);
  SmallCNN a(g1, d1), b(g2, d2);
  std::map<std::string, Tensor> moved;
  for (auto& [k, t] : a.state_dict()) moved.emplace(k, t.to(other_device()));
  b.load_state_dict(moved);
  CHECK(state_equals(b, snapshot(a)));
  for (auto& [k, t] : b.state_dict()) CHECK(t.device() == default_device());
}

TEST_CASE("nn: load_state_dict reports every problem by key and loads nothing") {
  Generator g1(1), d1(2), g2(7), d2(8);
  SmallCNN src(g1, d1), m(g2, d2);
  const auto before = snapshot(m);

  auto good = src.state_dict();
  {  // one of each problem at once
    auto sd = good;
    sd.erase("bn1.running_var");
    sd.erase("head.2.bias");
    sd.emplace("fc.wieght", sd.at("fc.weight"));
    sd["conv1.weight"] = zeros({4, 3, 3, 3});
    sd["fc.bias"] = zeros({3}, DType::f64);
    const std::string msg = error_of([&] { m.load_state_dict(sd); });
    CHECK(contains(msg, "load_state_dict: missing keys: bn1.running_var, head.2.bias; "
                        "unexpected keys: fc.wieght; "
                        "shape mismatch: conv1.weight expected [4,1,3,3], got [4,3,3,3]; "
                        "dtype mismatch: fc.bias expected f32, got f64"));
    CHECK(state_equals(m, before));  // conv1.bias, bn1.weight, ... were valid but not loaded
  }
  {  // each kind alone
    auto sd = good;
    sd.erase("bn1.num_batches_tracked");
    std::string msg = error_of([&] { m.load_state_dict(sd); });
    CHECK(contains(msg, "missing keys: bn1.num_batches_tracked"));
    CHECK_FALSE(contains(msg, "unexpected"));
    sd = good;
    sd.emplace("extra.weight", ones({1}));
    msg = error_of([&] { m.load_state_dict(sd); });
    CHECK(contains(msg, "unexpected keys: extra.weight"));
    CHECK_FALSE(contains(msg, "missing"));
    sd = good;
    sd["head.2.weight"] = zeros({16, 8});
    CHECK(contains(error_of([&] { m.load_state_dict(sd); }),
                   "shape mismatch: head.2.weight expected [8,16], got [16,8]"));
    sd = good;
    sd["bn1.num_batches_tracked"] = scalar_tensor(4.0);
    CHECK(contains(error_of([&] { m.load_state_dict(sd); }),
                   "dtype mismatch: bn1.num_batches_tracked expected i64, got f32"));
    sd = good;
    sd["fc.bias"] = Tensor();
    CHECK(contains(error_of([&] { m.load_state_dict(sd); }), "undefined tensors: fc.bias"));
    CHECK(state_equals(m, before));
  }
  {  // strict = false ignores missing and unexpected keys, never shape mismatches
    auto sd = good;
    sd.erase("bn1.running_mean");
    sd.emplace("fc.wieght", ones({1}));
    sd["conv1.weight"] = zeros({4, 3, 3, 3});
    const std::string msg = error_of([&] { m.load_state_dict(sd, /*strict=*/false); });
    CHECK(contains(msg, "shape mismatch: conv1.weight"));
    CHECK_FALSE(contains(msg, "missing"));
    CHECK_FALSE(contains(msg, "unexpected"));
    CHECK(state_equals(m, before));

    sd.erase("conv1.weight");
    m.load_state_dict(sd, /*strict=*/false);
    CHECK(same_bits(m.fc->weight, src.fc->weight));
    CHECK(same_bits(m.bn1->running_var, src.bn1->running_var));
    CHECK(same_bits(m.conv1->weight, before.at("conv1.weight")));      // absent: untouched
    CHECK(same_bits(m.bn1->running_mean, before.at("bn1.running_mean")));
  }
}

// ---- modes, zero_grad, to(Device) --------------------------------------------------------------

TEST_CASE("nn: train/eval apply to every descendant") {
  Generator gen(1), dg(2);
  SmallCNN m(gen, dg);
  auto all_training = [&](bool want) {
    bool ok = m.is_training() == want;
    for (auto& [k, c] : m.named_modules()) ok = ok && c->is_training() == want;
    return ok;
  };
  CHECK(all_training(true));
  m.eval();
  CHECK(all_training(false));
  m.train();
  CHECK(all_training(true));
  m.train(false);
  CHECK(all_training(false));
  m.head->train(true);  // a subtree only
  CHECK(m.head->at<nn::Dropout>(4)->is_training());
  CHECK_FALSE(m.conv1->is_training());
  CHECK_FALSE(m.is_training());
}

TEST_CASE("nn: to(Device) moves every tensor in place; an optimizer built before sees it") {
  Generator gen(1), dg(2);
  SmallCNN m(gen, dg);
  perturb_buffers(m, 2.0);
  const Device dst = other_device();
  optim::SGD opt(m.parameters(), {.lr = 0.5});
  m.conv1->weight.set_grad(ones_like(m.conv1->weight));
  const auto before = snapshot(m);
  const auto handles = m.parameters();

  m.to(dst);
  for (auto& [k, t] : m.state_dict()) {
    CHECK(t.device() == dst);
    CHECK(same_bits(t, before.at(k)));
  }
  CHECK(m.conv1->weight.device() == dst);
  CHECK(m.bn1->num_batches_tracked.device() == dst);
  CHECK_FALSE(m.conv1->weight.grad().defined());  // grads are dropped
  CHECK(m.conv1->weight.requires_grad());
  for (std::size_t i = 0; i < handles.size(); ++i) {
    CHECK(handles[i].device() == dst);
    CHECK(opt.params()[i].impl_ptr() == handles[i].impl_ptr());
  }

  // The optimizer updates the moved parameters, exactly as a fresh one on dst would.
  std::vector<Tensor> ref;
  for (Tensor p : m.parameters()) {
    p.set_grad(full(p.shape(), 0.375, p.dtype(), dst));
    ref.push_back(from_vector(p.to_vector<float>(), p.shape(), dst).requires_grad_());
    ref.back().set_grad(full(p.shape(), 0.375, p.dtype(), dst));
  }
  opt.step();
  optim::SGD ref_opt(ref, {.lr = 0.5});
  ref_opt.step();
  auto params = m.parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].device() == dst);
    CHECK(same_bits(params[i], ref[i]));
    CHECK_FALSE(same_bits(params[i], before.at(names_of(m.named_parameters())[i])));
  }

  // And back; moving to the device a module is on is a no-op.
  m.to(default_device());
  for (auto& [k, t] : m.state_dict()) CHECK(t.device() == default_device());
  m.to(default_device());
  CHECK(same_bits(m.fc->bias, ref.back().detach().to(default_device())));  // last parameter
}

TEST_CASE("nn: to(Device) keeps tensors that share a storage sharing it") {
  nn::Module m;
  Tensor t = arange(6.0);
  Tensor p = m.register_parameter("p", t);
  Tensor view = m.register_buffer("v", t.detach().narrow(0, 2, 3));
  m.to(other_device());
  CHECK(p.device() == other_device());
  CHECK(view.device() == other_device());
  CHECK(p.shares_storage(view));
  CHECK(view.offset() == 2);
  CHECK(view.to_vector<float>() == std::vector<float>{2, 3, 4});
  {
    NoGradGuard ng;
    p.fill_(1.5);
  }
  CHECK(view.to_vector<float>() == std::vector<float>{1.5f, 1.5f, 1.5f});
}

TEST_CASE("nn: zero_grad clears every parameter's gradient") {
  Generator gen(1), dg(2);
  SmallCNN m(gen, dg);
  for (Tensor p : m.parameters()) p.set_grad(ones_like(p));
  m.zero_grad();
  for (const Tensor& p : m.parameters()) CHECK_FALSE(p.grad().defined());
}

// ---- init --------------------------------------------------------------------------------------

TEST_CASE("nn.init: fans and PyTorch's bounds") {
  auto [fi, fo] = nn::init::calculate_fan_in_and_fan_out(empty({16, 3, 3, 3}));
  CHECK(fi == 27);
  CHECK(fo == 144);
  auto [li, lo] = nn::init::calculate_fan_in_and_fan_out(empty({10, 4}));
  CHECK(li == 4);
  CHECK(lo == 10);
  CHECK(contains(error_of([] { nn::init::calculate_fan_in_and_fan_out(empty({5})); }),
                 "fewer than 2 dimensions"));
  // Python: math.sqrt(3.0) * (math.sqrt(2.0 / (1 + math.sqrt(5) ** 2)) / math.sqrt(fan)):
  // a few ulps below 1/sqrt(fan), which is what the bias uses.
  const double a = std::sqrt(5.0);
  CHECK(nn::init::kaiming_uniform_bound(3, a) == 0x1.279a74590331cp-1);
  CHECK(nn::init::kaiming_uniform_bound(4, a) == 0x1.fffffffffffffp-2);
  CHECK(nn::init::kaiming_uniform_bound(9, a) == 0x1.5555555555554p-2);
  CHECK(nn::init::kaiming_uniform_bound(27, a) == 0x1.8a2345cc04425p-3);
  CHECK(nn::init::kaiming_uniform_bound(784, a) == 0x1.2492492492492p-5);
  CHECK(nn::init::calculate_gain(nn::init::Nonlinearity::relu) == std::sqrt(2.0));
  CHECK(nn::init::calculate_gain(nn::init::Nonlinearity::tanh) == 5.0 / 3);
}

TEST_CASE("nn.init: Linear and Conv2d draw weight then bias, as PyTorch's reset_parameters") {
  {
    Generator gen(42);
    nn::Linear lin({.in_features = 9, .out_features = 5}, gen);
    CHECK(gen.offset() == 45 + 5);
    Generator ref(42);
    Tensor w = uniform({5, 9}, -0x1.5555555555554p-2, 0x1.5555555555554p-2, ref);
    Tensor b = uniform({5}, -1 / 3.0, 1 / 3.0, ref);
    CHECK(same_bits(lin.weight, w));
    CHECK(same_bits(lin.bias, b));
    CHECK(lin.weight.device() == default_device());
  }
  {  // fan_in = in_channels / groups * kH * kW = 6/2 * 3 * 1 = 9
    Generator gen(43);
    nn::Conv2d conv({.in_channels = 6, .out_channels = 4, .kernel_size = {3, 1}, .groups = 2},
                    gen);
    CHECK(conv.weight.shape() == Shape{4, 3, 3, 1});
    Generator ref(43);
    Tensor w = uniform({4, 3, 3, 1}, -0x1.5555555555554p-2, 0x1.5555555555554p-2, ref);
    Tensor b = uniform({4}, -1 / 3.0, 1 / 3.0, ref);
    CHECK(same_bits(conv.weight, w));
    CHECK(same_bits(conv.bias, b));
  }
  {  // no bias: nothing drawn for it
    Generator gen(44);
    nn::Conv2d conv({.in_channels = 1, .out_channels = 2, .kernel_size = 2, .bias = false}, gen);
    CHECK_FALSE(conv.bias.defined());
    CHECK(conv.parameters().size() == 1);
    CHECK(gen.offset() == 8);
  }
  {  // f64 layers draw in f64
    Generator gen(45), ref(45);
    nn::Linear lin({.in_features = 4, .out_features = 2, .dtype = DType::f64}, gen);
    CHECK(lin.weight.dtype() == DType::f64);
    CHECK(same_bits(lin.weight, uniform({2, 4}, -0x1.fffffffffffffp-2, 0x1.fffffffffffffp-2, ref,
                                        DType::f64)));
  }
}

TEST_CASE("nn.init: same seed same bits, different seeds differ, values inside the bound") {
  Generator g1(9), g2(9), g3(10);
  nn::Linear a({.in_features = 27, .out_features = 40}, g1);
  nn::Linear b({.in_features = 27, .out_features = 40}, g2);
  nn::Linear c({.in_features = 27, .out_features = 40}, g3);
  CHECK(same_bits(a.weight, b.weight));
  CHECK(same_bits(a.bias, b.bias));
  CHECK_FALSE(same_bits(a.weight, c.weight));
  CHECK_FALSE(same_bits(a.bias, c.bias));
  const double bound = nn::init::kaiming_uniform_bound(27, std::sqrt(5.0));
  double max_abs = 0;
  for (float v : a.weight.to_vector<float>()) {
    CHECK(std::fabs(v) <= bound);
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(v)));
  }
  CHECK(max_abs > 0.95 * bound);  // 1080 draws reach close to the bound
  for (float v : a.bias.to_vector<float>()) CHECK(std::fabs(v) <= 1 / std::sqrt(27.0));

  Generator e1(3), e2(3);
  nn::Embedding emb({.num_embeddings = 5, .embedding_dim = 4}, e1);
  CHECK(same_bits(emb.weight, normal({5, 4}, 0.0, 1.0, e2)));
  nn::BatchNorm2d bn({.num_features = 3});
  CHECK(bn.weight.to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(bn.bias.to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(bn.running_mean.to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(bn.running_var.to_vector<float>() == std::vector<float>{1, 1, 1});
}

TEST_CASE("nn.init: in-place initialisers keep handles and requires_grad") {
  Generator gen(1);
  Tensor p = zeros({3, 4}).requires_grad_();
  Tensor alias = p;
  nn::init::normal_(p, 2.0, 0.5, gen);
  Generator ref(1);
  CHECK(same_bits(alias.detach(), normal({3, 4}, 2.0, 0.5, ref)));
  CHECK(p.requires_grad());
  nn::init::ones_(p);
  CHECK(p.to_vector<float>() == std::vector<float>(12, 1.0f));
  nn::init::zeros_(p);
  CHECK(p.to_vector<float>() == std::vector<float>(12, 0.0f));
  nn::init::constant_(p, -0.25);
  CHECK(p.to_vector<float>() == std::vector<float>(12, -0.25f));
  nn::init::uniform_(p, 1.0, 1.0, gen);  // degenerate range: the constant
  CHECK(p.to_vector<float>() == std::vector<float>(12, 1.0f));
  nn::init::xavier_uniform_(p, gen);
  for (float v : p.to_vector<float>()) CHECK(std::fabs(v) <= std::sqrt(6.0 / 7.0));
  Tensor none = empty({0, 3});
  const auto off = gen.offset();
  nn::init::kaiming_uniform_(none, 0.0, gen);  // no elements: untouched, nothing drawn
  CHECK(gen.offset() == off);
  CHECK(contains(error_of([&] { nn::init::uniform_(zeros({2}, DType::i64), 0, 1, gen); }),
                 "only floating tensors"));
}

// ---- layers: forward ---------------------------------------------------------------------------

TEST_CASE("nn: Conv2d / Linear / pools / Flatten / ReLU / Embedding forward shapes and values") {
  Generator gen(5);
  Tensor x = randn({2, 3, 5, 5}, gen);
  {
    nn::Conv2d conv({.in_channels = 3, .out_channels = 4, .kernel_size = 3, .padding = 1}, gen);
    CHECK(conv(x).shape() == Shape{2, 4, 5, 5});
    CHECK(conv(x.select(0, 0)).shape() == Shape{4, 5, 5});  // unbatched
    nn::Conv2d s({.in_channels = 3, .out_channels = 2, .kernel_size = {3, 2}, .stride = 2,
                  .padding = {1, 0}, .dilation = {1, 2}},
                 gen);
    Tensor y = s(x);
    CHECK(y.shape() == Shape{2, 2, 3, 2});
    CHECK(same_bits(y, conv2d(x, s.weight, s.bias, 2, {1, 0}, {1, 2}, 1)));
    nn::Conv2d g({.in_channels = 3, .out_channels = 6, .kernel_size = 1, .groups = 3}, gen);
    CHECK(same_bits(g(x), conv2d(x, g.weight, g.bias, 1, 0, 1, 3)));
    CHECK(contains(error_of([&] {
                     nn::Conv2d bad({.in_channels = 3, .out_channels = 4, .kernel_size = 1,
                                     .groups = 2}, gen);
                   }),
                   "divisible by groups"));
  }
  {
    nn::Linear lin({.in_features = 5, .out_features = 3}, gen);
    Tensor in = randn({4, 5}, gen);
    Tensor y = lin(in);
    CHECK(y.shape() == Shape{4, 3});
    CHECK(lin(randn({2, 4, 5}, gen)).shape() == Shape{2, 4, 3});
    auto xv = in.to_vector<double>(), wv = lin.weight.to_vector<double>(),
         bv = lin.bias.to_vector<double>(), yv = y.to_vector<double>();
    for (int i = 0; i < 4; ++i)
      for (int o = 0; o < 3; ++o) {
        double acc = bv[o];
        for (int k = 0; k < 5; ++k) acc += xv[i * 5 + k] * wv[o * 5 + k];
        CHECK(yv[i * 3 + o] == doctest::Approx(acc).epsilon(1e-5));
      }
    nn::Linear nb({.in_features = 5, .out_features = 3, .bias = false}, gen);
    CHECK(same_bits(nb(in), matmul(in, nb.weight.t())));
  }
  {
    Tensor g = arange(16.0).reshape({1, 1, 4, 4});
    nn::MaxPool2d mp({.kernel_size = 2});
    CHECK(mp(g).to_vector<float>() == std::vector<float>{5, 7, 13, 15});
    CHECK(nn::MaxPool2d({.kernel_size = 2, .stride = 1})(g).shape() == Shape{1, 1, 3, 3});
    CHECK(nn::MaxPool2d({.kernel_size = 3, .stride = 2, .padding = 1})(x).shape() ==
          Shape{2, 3, 3, 3});
    nn::AvgPool2d ap({.kernel_size = 2});
    CHECK(ap(g).to_vector<float>() == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
    CHECK(nn::AvgPool2d({.kernel_size = 3, .stride = 1, .padding = 1})(x).shape() ==
          Shape{2, 3, 5, 5});
  }
  {
    Tensor t = arange(120.0).reshape({2, 3, 4, 5});
    CHECK(nn::Flatten()(t).shape() == Shape{2, 60});
    CHECK(nn::Flatten({.start_dim = 0})(t).shape() == Shape{120});
    CHECK(nn::Flatten({.start_dim = 1, .end_dim = 2})(t).shape() == Shape{2, 12, 5});
    CHECK(nn::Flatten({.start_dim = -2})(t).shape() == Shape{2, 3, 20});
    CHECK(same_bits(nn::Flatten()(t), t.reshape({2, 60})));
    CHECK(nn::ReLU()(from_vector<float>({-1.5f, 0.0f, 2.0f, -0.0f})).to_vector<float>() ==
          std::vector<float>{0, 0, 2, 0});
  }
  {
    nn::Embedding emb({.num_embeddings = 5, .embedding_dim = 3}, gen);
    Tensor idx = from_vector<std::int64_t>({4, 0, 2, 2, 1, 3}, {2, 3});
    Tensor y = emb(idx);
    CHECK(y.shape() == Shape{2, 3, 3});
    auto w = emb.weight.to_vector<float>(), yv = y.to_vector<float>();
    const std::int64_t rows[] = {4, 0, 2, 2, 1, 3};
    for (int i = 0; i < 6; ++i)
      for (int d = 0; d < 3; ++d) CHECK(yv[i * 3 + d] == w[rows[i] * 3 + d]);
  }
}

TEST_CASE("nn: Sequential chains its modules in order") {
  Generator gen(6);
  auto l1 = std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 4, .out_features = 6},
                                         gen);
  auto l2 = std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 6, .out_features = 2},
                                         gen);
  nn::Sequential seq{l1, std::make_shared<nn::ReLU>(), l2};
  CHECK(seq.size() == 3);
  CHECK(names_of(seq.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  Tensor x = randn({3, 4}, gen);
  CHECK(same_bits(seq(x), (*l2)(relu((*l1)(x)))));
  CHECK(seq.at<nn::Linear>(2) == l2);
  CHECK(contains(error_of([&] { seq.at<nn::ReLU>(0); }), "is a Linear"));
  CHECK(contains(error_of([&] { seq[3]; }), "out of range"));
  seq.push_back(nn::Flatten({.start_dim = 0}));
  CHECK(seq(x).shape() == Shape{6});
  nn::Sequential nested(nn::Linear({.in_features = 2, .out_features = 2}, gen),
                        nn::Sequential(nn::ReLU(), nn::Linear({.in_features = 2, .out_features = 1},
                                                              gen)));
  CHECK(names_of(nested.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "1.1.weight", "1.1.bias"});
  nn::Sequential empty_seq;
  CHECK(same_bits(empty_seq(x), x));
}

// ---- BatchNorm ---------------------------------------------------------------------------------

TEST_CASE("nn: BatchNorm running statistics, num_batches_tracked and eval") {
  Generator gen(11);
  // Three (4, 3) batches; expected running stats in double.
  std::vector<Tensor> xs;
  for (int k = 0; k < 3; ++k) xs.push_back(randn({4, 3}, gen) * 2.0 + static_cast<double>(k));
  auto batch_stats = [](const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
    auto v = x.to_vector<double>();
    mean.assign(3, 0);
    var.assign(3, 0);
    for (int c = 0; c < 3; ++c) {
      for (int n = 0; n < 4; ++n) mean[c] += v[n * 3 + c] / 4;
      for (int n = 0; n < 4; ++n) var[c] += (v[n * 3 + c] - mean[c]) * (v[n * 3 + c] - mean[c]) / 3;
    }
  };
  SUBCASE("momentum = nullopt is the cumulative average") {
    nn::BatchNorm1d bn({.num_features = 3, .momentum = std::nullopt});
    std::vector<double> rm(3, 0), rv(3, 1), m, v;
    for (int k = 0; k < 3; ++k) {
      bn(xs[k]);
      batch_stats(xs[k], m, v);
      for (int c = 0; c < 3; ++c) {
        rm[c] += (m[c] - rm[c]) / (k + 1);
        rv[c] += (v[c] - rv[c]) / (k + 1);
      }
      CHECK(bn.num_batches_tracked.item<std::int64_t>() == k + 1);
    }
    auto got_m = bn.running_mean.to_vector<double>(), got_v = bn.running_var.to_vector<double>();
    for (int c = 0; c < 3; ++c) {
      CHECK(got_m[c] == doctest::Approx(rm[c]).epsilon(1e-5));
      CHECK(got_v[c] == doctest::Approx(rv[c]).epsilon(1e-5));
    }
    // The first batch alone replaces the initial statistics entirely (factor 1/1).
    nn::BatchNorm1d one({.num_features = 3, .momentum = std::nullopt});
    one(xs[0]);
    batch_stats(xs[0], m, v);
    for (int c = 0; c < 3; ++c)
      CHECK(one.running_mean.to_vector<double>()[c] == doctest::Approx(m[c]).epsilon(1e-5));
  }
  SUBCASE("momentum = 0.1; eval uses the running statistics") {
    nn::BatchNorm1d bn({.num_features = 3});
    Tensor y = bn(xs[0]);
    std::vector<double> m, v;
    batch_stats(xs[0], m, v);
    auto rm = bn.running_mean.to_vector<double>(), rv = bn.running_var.to_vector<double>();
    for (int c = 0; c < 3; ++c) {
      CHECK(rm[c] == doctest::Approx(0.1 * m[c]).epsilon(1e-5));
      CHECK(rv[c] == doctest::Approx(0.9 + 0.1 * v[c]).epsilon(1e-5));
    }
    // Training output is normalised by the batch's own statistics.
    auto yv = y.to_vector<double>();
    for (int c = 0; c < 3; ++c) {
      double s = 0;
      for (int n = 0; n < 4; ++n) s += yv[n * 3 + c];
      CHECK(std::fabs(s) < 1e-4);
    }
    bn.eval();
    {
      NoGradGuard ng;
      bn.weight.copy_(from_vector<float>({1.0f, 2.0f, -1.0f}));
      bn.bias.copy_(from_vector<float>({0.0f, 0.5f, 1.0f}));
    }
    Tensor ye = bn(xs[1]);
    CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);  // eval does not count
    auto xv = xs[1].to_vector<double>(), yev = ye.to_vector<double>();
    const double w[] = {1, 2, -1}, b[] = {0, 0.5, 1};
    for (int n = 0; n < 4; ++n)
      for (int c = 0; c < 3; ++c)
        CHECK(yev[n * 3 + c] ==
              doctest::Approx((xv[n * 3 + c] - rm[c]) / std::sqrt(rv[c] + 1e-5) * w[c] + b[c])
                  .epsilon(1e-5));
    // Per sample in eval: a one-sample batch gives the same bits as its row of the full batch.
    CHECK(same_bits(bn(xs[1].narrow(0, 1, 1)), ye.narrow(0, 1, 1)));
    CHECK(bn.running_mean.to_vector<double>() == rm);  // eval leaves the statistics alone
  }
  SUBCASE("track_running_stats = false: no buffers, batch statistics in eval too") {
    nn::BatchNorm1d bn({.num_features = 3, .affine = false, .track_running_stats = false});
    CHECK(bn.buffers().empty());
    CHECK(bn.parameters().empty());
    Tensor yt = bn(xs[2]);
    bn.eval();
    CHECK(same_bits(bn(xs[2]), yt));
  }
}

TEST_CASE("nn: BatchNorm input ranks and channel checks") {
  Generator gen(12);
  nn::BatchNorm1d bn1({.num_features = 3});
  CHECK(bn1(randn({4, 3, 5}, gen)).shape() == Shape{4, 3, 5});
  nn::BatchNorm2d bn2({.num_features = 3});
  CHECK(bn2(randn({2, 3, 2, 2}, gen)).shape() == Shape{2, 3, 2, 2});
  CHECK(bn2.num_batches_tracked.item<std::int64_t>() == 1);
  CHECK(contains(error_of([&] { bn2(randn({2, 3, 4}, gen)); }),
                 "BatchNorm2d: expected 4D (N, C, H, W) input, got 3D input [2,3,4]"));
  CHECK(contains(error_of([&] { bn1(randn({2, 3, 4, 4}, gen)); }),
                 "BatchNorm1d: expected 2D (N, C) or 3D (N, C, L) input, got 4D input"));
  CHECK(contains(error_of([&] { bn2(randn({2, 4, 2, 2}, gen)); }),
                 "input has 4 channels, expected num_features = 3"));
  CHECK(bn2.num_batches_tracked.item<std::int64_t>() == 1);  // rejected inputs do not count
}

// ---- Dropout -----------------------------------------------------------------------------------

TEST_CASE("nn: Dropout draws from its generator in training and is the identity in eval") {
  Generator data(13);
  Tensor x = randn({4, 32}, data);
  Generator gen(21);
  nn::Dropout drop({.p = 0.5}, gen);
  Tensor y = drop(x);
  CHECK(gen.offset() == 128);
  Generator ref(21);
  CHECK(same_bits(y, dropout(x, 0.5, true, ref)));
  auto xv = x.to_vector<float>(), yv = y.to_vector<float>();
  int zeros_count = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0f) ++zeros_count;
    else CHECK(yv[i] == xv[i] * 2.0f);
  }
  CHECK(zeros_count > 32);
  CHECK(zeros_count < 96);
  CHECK_FALSE(same_bits(drop(x), y));  // the stream moved on: a new mask

  drop.eval();
  const auto off = gen.offset();
  CHECK(same_bits(drop(x), x));
  CHECK(gen.offset() == off);
  CHECK(contains(error_of([&] { nn::Dropout bad({.p = 1.0}, gen); }), "[0, 1)"));
}

// ---- a whole model -----------------------------------------------------------------------------

TEST_CASE("nn: SmallCNN forward/backward is reproducible and reaches every parameter") {
  auto run = [](std::vector<std::vector<float>>& grads) {
    Generator gen(31), dg(32);
    SmallCNN m(gen, dg);
    optim::SGD opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
    Tensor x = input_4x4(2, 33);
    Tensor out;
    for (int step = 0; step < 2; ++step) {
      opt.zero_grad();
      out = m(x);
      CHECK(out.shape() == Shape{2, 3});
      (out * out).sum().backward();
      if (step == 0)
        for (const Tensor& p : m.parameters()) {
          REQUIRE(p.grad().defined());
          CHECK(p.grad().shape() == p.shape());
          grads.push_back(p.grad().to_vector<float>());
        }
      opt.step();
    }
    CHECK(m.bn1->num_batches_tracked.item<std::int64_t>() == 2);
    m.zero_grad();
    for (const Tensor& p : m.parameters()) CHECK_FALSE(p.grad().defined());
    m.eval();
    return std::make_pair(m.state_dict(), m(x));
  };
  std::vector<std::vector<float>> g1, g2;
  auto [sd1, y1] = run(g1);
  auto [sd2, y2] = run(g2);
  CHECK(g1 == g2);
  CHECK(same_bits(y1, y2));
  for (auto& [k, t] : sd1) CHECK(same_bits(t, sd2.at(k)));
}

}  // TEST_SUITE
