// ditto — nn::Module: the base of every layer and model. A module owns named parameters
// (trainable leaf tensors), named buffers (state that is saved but not trained, e.g. BatchNorm
// running statistics) and named child modules, all in registration order, with PyTorch's names:
// a parameter `weight` of a child registered as `conv1` is "conv1.weight" in named_parameters()
// and in state_dict(). Tensors are handles (core/tensor.h), so the handle a layer keeps in a
// member, the one the module registry keeps and the one an optimizer keeps are the same
// TensorImpl: in-place updates (optimizer steps, load_state_dict, to(Device)) are seen by all.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"

namespace ditto::nn {

/// Base class of layers and models (PyTorch's torch.nn.Module).
///
/// Subclasses register their state in the constructor:
///   weight_ = register_parameter("weight", w);
///   running_mean_ = register_buffer("running_mean", zeros({c}));
///   conv1_ = register_module("conv1", std::make_shared<Conv2d>(...));
/// and override forward(). Modules are movable, not copyable (a copy would silently share every
/// parameter); build them with std::make_shared or as values handed to Sequential.
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // ---- registration ------------------------------------------------------------------------
  /// Registers a parameter and returns the registered handle (same TensorImpl as `t`, unless `t`
  /// is a non-leaf, in which case a detached leaf sharing its storage is registered). The
  /// parameter becomes a leaf with requires_grad = requires_grad (floating dtypes only). `name`
  /// must be non-empty, contain no '.', and not be taken by another parameter, buffer or child.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  /// Registers a buffer (saved in state_dict, moved by to(), never trained) and returns it.
  Tensor register_buffer(const std::string& name, Tensor t);
  /// Registers a child module and returns the same handle (typed as given).
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: M must derive from nn::Module");
    register_module_impl(name, module);
    return module;
  }

  // ---- traversal (registration order; children after the module's own entries) -------------
  /// Every parameter of this module and its descendants, named with dotted prefixes
  /// ("conv1.weight", "0.bias"). A tensor registered under several names appears once (first
  /// name), as in PyTorch.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  /// Every buffer, named like named_parameters() ("bn1.running_mean", "bn1.num_batches_tracked").
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  /// Direct children in registration order.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  std::vector<std::shared_ptr<Module>> children() const;
  /// This module's descendants (depth first, pre-order), named with dotted prefixes; each
  /// module once. The module itself is not included.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;

  // ---- modes ---------------------------------------------------------------------------------
  /// Sets training mode on this module and every descendant (Dropout drops, BatchNorm uses
  /// batch statistics and updates its running statistics).
  virtual void train(bool on = true);
  /// train(false): Dropout is the identity, BatchNorm uses its running statistics.
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Clears the gradient of every parameter (sets it undefined, as PyTorch's set_to_none=True).
  void zero_grad();

  // ---- state ---------------------------------------------------------------------------------
  /// Parameters and buffers by dotted name, detached (no requires_grad) but sharing storage
  /// with the module's tensors: copy or save them before changing the model if a snapshot is
  /// wanted.
  std::map<std::string, Tensor> state_dict() const;
  /// The same entries in PyTorch's state_dict order (per module: parameters, then buffers, then
  /// children), for writers that keep PyTorch's key order.
  std::vector<std::pair<std::string, Tensor>> state_dict_items() const;
  /// Copies `state` into the module's parameters and buffers, in place (existing handles see
  /// the new values). Everything is validated first: missing keys, unexpected keys (both ignored
  /// when strict == false), shape mismatches and dtype mismatches (always errors); all problems
  /// are reported in one ditto::Error, by key, and nothing is copied. Values on another device
  /// are converted to the destination tensor's device.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  /// Moves every parameter and buffer (and this module's descendants') to `device` in place:
  /// the storage inside each shared TensorImpl is replaced, so layer members, optimizers and
  /// any other handle see the moved tensor. Tensors that shared a storage still share it after.
  /// Accumulated gradients are dropped (they would live on the old device).
  void to(Device device);

  // ---- forward -------------------------------------------------------------------------------
  /// The layer's computation. The base class throws: a module without forward (a container
  /// of layers used by hand) must not be called.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- printing ------------------------------------------------------------------------------
  /// The layer's type name, e.g. "Conv2d".
  virtual std::string type_name() const { return "Module"; }
  /// The layer's arguments as PyTorch prints them, e.g. "1, 16, kernel_size=(3, 3)".
  virtual std::string extra_repr() const { return ""; }
  /// PyTorch-style multi-line description of the module tree.
  std::string to_string() const;

 protected:
  bool training_ = true;

 private:
  void register_module_impl(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_modules(const std::string& prefix,
                       std::vector<std::pair<std::string, const Module*>>& out,
                       std::vector<const Module*>& seen) const;
  void collect_state(const std::string& prefix,
                     std::vector<std::pair<std::string, Tensor>>& out) const;

  using NamedList = std::vector<std::pair<std::string, Tensor>>;
  /// named_parameters / named_buffers: the tensors of `list` in every (or only this) module.
  NamedList named_tensors(bool recurse, NamedList Module::*list) const;

  NamedList params_;   // registration order
  NamedList buffers_;  // registration order
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace ditto::nn
