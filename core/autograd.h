// ditto — reverse-mode autograd: graph nodes recorded by op front ends, and the engine that
// runs them backward in a fixed order.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/mode.h"
#include "core/tensor.h"

namespace ditto {

/// Whether op front ends record graph nodes on this thread (default true).
bool grad_mode_enabled();

/// Scoped: disables graph recording on this thread (restores the previous state after).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// Where one input's gradient goes: into the node that produced it (`fn`), or, for a leaf that
/// requires grad, into that leaf's `.grad` (`leaf`). Both null: the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> fn;
  std::shared_ptr<TensorImpl> leaf;
  DType dtype = DType::f32;  // the input's dtype: its gradient is converted to it
  bool needed() const { return fn || leaf; }
};

/// A tensor a backward rule reads (captured by its closure), with the version of its storage when
/// the op recorded it. The engine refuses to run the rule once the version moved: the values the
/// rule would read were overwritten in place (PyTorch's "modified by an inplace operation").
struct SavedVersion {
  std::shared_ptr<Storage> storage;
  std::uint64_t version = 0;
  std::string what;  // "[2,3] f32" of the saved tensor, for the message
};

/// One recorded op. Invariant: `backward` returns exactly one (possibly undefined) tensor per
/// entry of `inputs`, shaped like that input. `seq` is the creation order: the engine runs
/// nodes in decreasing seq, which is a topological order and is identical on every run.
struct Node {
  std::uint64_t seq = 0;
  std::string name;  // op name, for error messages
  /// The thread's mode when the forward op ran. The engine runs `backward` under a ModeGuard of
  /// it, so every reduction inside a backward rule (sum_to over broadcast dims, mean's expand)
  /// uses the mode of its forward — also when the forward ran under a per-call `mode` (the op
  /// front end holds a ModeGuard while it records) and backward() is called elsewhere.
  Mode mode = Mode::Deterministic;
  std::vector<Edge> inputs;
  std::function<std::vector<Tensor>(const Tensor& grad_out)> backward;
  std::vector<SavedVersion> saved;  // what `backward` reads, see SavedVersion

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  /// Tears the graph below this node down iteratively (a chain of 10^6 ops would overflow the
  /// stack if each node's destructor destroyed its inputs' nodes recursively).
  ~Node();
};

namespace autograd {

/// True when grad mode is on and any of `inputs` requires grad (the op must record a node).
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

/// Records a node for `out` (which becomes a non-leaf requiring grad) with edges to `inputs`.
/// The closure must capture only what it needs; capture `out` as out.detach() (never `out`
/// itself: the node is owned by out, so that would be a reference cycle). `saved` lists every
/// tensor the closure reads the values of (inputs or outputs, usually detach()ed); their storage
/// versions are checked before the closure runs.
void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs,
            std::function<std::vector<Tensor>(const Tensor& grad_out)> backward,
            const std::vector<Tensor>& saved = {});

/// Runs backward from `root` with seed gradient `grad` (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad);

}  // namespace autograd
}  // namespace ditto
