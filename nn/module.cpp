// ditto — nn::Module (see nn/module.h): registration, traversal with PyTorch's dotted names,
// train/eval, state_dict / load_state_dict (validate everything, then copy), in-place to(Device).
#include "nn/module.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/autograd.h"
#include "core/error.h"

namespace ditto::nn {
namespace {

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Indents every line after the first by two spaces (PyTorch's _addindent).
std::string add_indent(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}

// A copy of `storage` on `device`: the storage's bytes viewed as a 1-D u8 tensor and copied with
// Tensor::to, so strides/offsets of every tensor over it stay valid unchanged.
std::shared_ptr<Storage> move_storage(const std::shared_ptr<Storage>& storage, Device device) {
  auto raw = std::make_shared<TensorImpl>();
  raw->storage = storage;
  raw->shape = {static_cast<std::int64_t>(storage->nbytes())};
  raw->strides = {1};
  raw->dtype = DType::u8;
  Tensor moved = Tensor(raw).to(device);
  DITTO_CHECK(moved.offset() == 0 && moved.impl().storage->nbytes() == storage->nbytes(),
              "Module::to: moved storage has ", moved.impl().storage->nbytes(), " bytes, expected ",
              storage->nbytes());
  return moved.impl().storage;
}

}  // namespace

// ---- registration ------------------------------------------------------------------------------

void Module::check_new_name(const std::string& name, const char* what) const {
  DITTO_CHECK(!name.empty(), what, ": name must not be empty");
  DITTO_CHECK(name.find('.') == std::string::npos, what, ": name '", name,
              "' must not contain '.' (dots separate the levels of the module tree)");
  auto taken = [&](const auto& entries) {
    return std::any_of(entries.begin(), entries.end(),
                       [&](const auto& e) { return e.first == name; });
  };
  DITTO_CHECK(!taken(params_), what, ": '", name, "' is already a parameter of this ",
              type_name());
  DITTO_CHECK(!taken(buffers_), what, ": '", name, "' is already a buffer of this ", type_name());
  DITTO_CHECK(!taken(children_), what, ": '", name, "' is already a child module of this ",
              type_name());
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name, "register_parameter");
  DITTO_CHECK(t.defined(), "register_parameter: '", name, "' is an undefined tensor");
  DITTO_CHECK(is_floating(t.dtype()), "register_parameter: '", name, "' has dtype ",
              dtype_name(t.dtype()), "; parameters must be floating (f32 or f64)");
  // A parameter is a leaf of its own (PyTorch's nn.Parameter(t) shares t's data, not its graph).
  if (!t.is_leaf()) t = t.detach();
  t.requires_grad_(requires_grad);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name, "register_buffer");
  DITTO_CHECK(t.defined(), "register_buffer: '", name, "' is an undefined tensor");
  // Buffers are state, never part of a graph.
  if (!t.is_leaf() || t.requires_grad()) t = t.detach();
  buffers_.emplace_back(name, t);
  return t;
}

void Module::register_module_impl(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "register_module");
  DITTO_CHECK(module != nullptr, "register_module: '", name, "' is a null module");
  DITTO_CHECK(module.get() != this, "register_module: '", name,
              "' would make the module its own child");
  children_.emplace_back(name, std::move(module));
}

// ---- traversal ---------------------------------------------------------------------------------

void Module::collect_modules(const std::string& prefix,
                             std::vector<std::pair<std::string, const Module*>>& out,
                             std::vector<const Module*>& seen) const {
  if (std::find(seen.begin(), seen.end(), this) != seen.end()) return;
  seen.push_back(this);
  out.emplace_back(prefix, this);
  for (const auto& [name, child] : children_)
    child->collect_modules(join_name(prefix, name), out, seen);
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> all;
  std::vector<const Module*> seen;
  collect_modules("", all, seen);
  // Map raw pointers back to the owning shared_ptrs held by the parents.
  std::unordered_map<const Module*, std::shared_ptr<Module>> owner;
  for (const auto& [name, m] : all)
    for (const auto& [cname, child] : m->children_) owner.emplace(child.get(), child);
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  for (std::size_t i = 1; i < all.size(); ++i) out.emplace_back(all[i].first, owner.at(all[i].second));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_tensors(
    bool recurse, NamedList Module::*list) const {
  std::vector<std::pair<std::string, const Module*>> mods;
  std::vector<const Module*> seen;
  if (recurse) collect_modules("", mods, seen);
  else mods.emplace_back("", this);
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> done;  // a tensor shared under two names is listed once
  for (const auto& [prefix, m] : mods)
    for (const auto& [name, t] : m->*list)
      if (done.insert(t.impl_ptr().get()).second) out.emplace_back(join_name(prefix, name), t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  return named_tensors(recurse, &Module::params_);
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  return named_tensors(recurse, &Module::buffers_);
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [name, c] : children_) out.push_back(c);
  return out;
}

// ---- modes -------------------------------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.set_grad(Tensor());
}

// ---- state -------------------------------------------------------------------------------------

// PyTorch's state_dict walk: own parameters, own buffers, then each child under its prefix (no
// de-duplication: a module registered twice is saved under both names).
void Module::collect_state(const std::string& prefix,
                           std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : params_) out.emplace_back(join_name(prefix, name), t);
  for (const auto& [name, t] : buffers_) out.emplace_back(join_name(prefix, name), t);
  for (const auto& [name, child] : children_) child->collect_state(join_name(prefix, name), out);
}

std::vector<std::pair<std::string, Tensor>> Module::state_dict_items() const {
  std::vector<std::pair<std::string, Tensor>> items;
  collect_state("", items);
  for (auto& [name, t] : items) t = t.detach();
  return items;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : state_dict_items()) out.emplace(name, t);
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::vector<std::pair<std::string, Tensor>> expected;
  collect_state("", expected);

  // 1. Validate everything; collect every problem.
  std::vector<std::string> missing, unexpected, undefined, shape_bad, dtype_bad;
  std::set<std::string> expected_keys;
  for (const auto& [key, dst] : expected) {
    expected_keys.insert(key);
    auto it = state.find(key);
    if (it == state.end()) {
      missing.push_back(key);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined()) {
      undefined.push_back(key);
      continue;
    }
    if (src.shape() != dst.shape())
      shape_bad.push_back(key + " expected " + shape_str(dst.shape()) + ", got " +
                          shape_str(src.shape()));
    if (src.dtype() != dst.dtype())
      dtype_bad.push_back(key + " expected " + std::string(dtype_name(dst.dtype())) + ", got " +
                          std::string(dtype_name(src.dtype())));
  }
  for (const auto& [key, t] : state)
    if (!expected_keys.count(key)) unexpected.push_back(key);

  std::vector<std::pair<const char*, const std::vector<std::string>*>> problems;
  if (strict) {
    problems.emplace_back("missing keys", &missing);
    problems.emplace_back("unexpected keys", &unexpected);
  }
  problems.emplace_back("undefined tensors", &undefined);
  problems.emplace_back("shape mismatch", &shape_bad);
  problems.emplace_back("dtype mismatch", &dtype_bad);
  std::ostringstream msg;
  bool any = false;
  for (const auto& [what, list] : problems) {
    if (list->empty()) continue;
    msg << (any ? "; " : "") << what << ": ";
    for (std::size_t i = 0; i < list->size(); ++i) msg << (i ? ", " : "") << (*list)[i];
    any = true;
  }
  if (any) DITTO_FAIL("load_state_dict: ", msg.str());

  // 2. Bring every source to its destination's device before touching the model, so a failed
  // transfer cannot leave it half loaded.
  NoGradGuard no_grad;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source on its device)
  for (const auto& [key, dst] : expected) {
    auto it = state.find(key);
    if (it == state.end()) continue;
    Tensor src = it->second.detach();
    if (src.device() != dst.device()) src = src.to(dst.device());
    copies.emplace_back(dst, src);
  }
  // 3. Copy in place: every handle on the model's tensors sees the loaded values.
  for (auto& [dst, src] : copies) {
    Tensor d = dst;
    d.copy_(src);
  }
}

void Module::to(Device device) {
  check_device_available(device, "Module::to");
  std::vector<Tensor> all = parameters();
  for (Tensor& b : buffers()) all.push_back(b);
  // Move all storages first (any failure leaves the module as it was), then swap them in.
  // Tensors sharing a storage (views, tied weights) still share one afterwards.
  std::unordered_map<const Storage*, std::shared_ptr<Storage>> moved;
  for (const Tensor& t : all) {
    const auto& s = t.impl().storage;
    if (s->device() == device || moved.count(s.get())) continue;
    moved.emplace(s.get(), move_storage(s, device));
  }
  for (const Tensor& t : all) {
    TensorImpl& impl = t.impl();
    auto it = moved.find(impl.storage.get());
    if (it == moved.end()) continue;
    impl.storage = it->second;
    impl.grad = nullptr;  // a gradient on the old device would not match the moved tensor
  }
}

// ---- forward / printing ------------------------------------------------------------------------

Tensor Module::forward(const Tensor&) {
  DITTO_FAIL(type_name(), ": forward is not implemented for this module");
}

std::string Module::to_string() const {
  std::string out = type_name() + "(";
  std::string extra = extra_repr();
  if (children_.empty()) return out + extra + ")";
  out += "\n";
  if (!extra.empty()) out += "  " + add_indent(extra) + "\n";
  for (const auto& [name, child] : children_)
    out += "  (" + name + "): " + add_indent(child->to_string()) + "\n";
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.to_string(); }

}  // namespace ditto::nn
