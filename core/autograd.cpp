// ditto — the autograd engine.
#include "core/autograd.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "core/ops.h"
#include "core/ops/op_util.h"
#include "core/profile_scope.h"

namespace ditto {

namespace {
thread_local bool t_grad_mode = true;
std::atomic<std::uint64_t> g_next_seq{1};
}  // namespace

bool grad_mode_enabled() { return t_grad_mode; }

NoGradGuard::NoGradGuard() : prev_(t_grad_mode) { t_grad_mode = false; }
NoGradGuard::~NoGradGuard() { t_grad_mode = prev_; }

namespace autograd {

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs,
            std::function<std::vector<Tensor>(const Tensor&)> backward,
            const std::vector<Tensor>& saved) {
  auto node = std::make_shared<Node>();
  node->saved.reserve(saved.size());
  for (const Tensor& t : saved) {
    if (!t.defined()) continue;
    node->saved.push_back({t.impl().storage, t.impl().storage->version(), detail::describe(t)});
  }
  node->seq = g_next_seq.fetch_add(1);
  node->name = name;
  node->mode = get_mode();
  node->backward = std::move(backward);
  node->inputs.reserve(inputs.size());
  for (const Tensor& in : inputs) {
    Edge e;
    if (in.defined()) e.dtype = in.dtype();
    if (in.defined() && in.requires_grad()) {
      if (in.is_leaf())
        e.leaf = in.impl_ptr();
      else
        e.fn = in.impl().grad_fn;
    }
    node->inputs.push_back(std::move(e));
  }
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
}

namespace {

// a += b, where a may be undefined (first contribution). Contributions arrive in a fixed order
// (decreasing node seq, then input position), so the sum's rounding is identical on every run.
void accumulate(Tensor& a, const Tensor& b) {
  if (!a.defined()) {
    a = b;
    return;
  }
  profile::OpScope scope("grad_accumulate");
  a = add(a, b);
}

void accumulate_leaf(TensorImpl& leaf, const Tensor& g, const char* from) {
  DITTO_CHECK(g.shape() == leaf.shape, "backward: ", from, " produced a gradient of shape ",
              shape_str(g.shape()), " for an input of shape ", shape_str(leaf.shape));
  profile::OpScope scope("grad_accumulate");
  Tensor cur = leaf.grad ? Tensor(leaf.grad) : Tensor();
  // A fresh tensor: the stored grad never aliases a tensor the user or a node still holds.
  Tensor next = cur.defined() ? add(cur, g) : g.clone();
  leaf.grad = next.detach().impl_ptr();
}

}  // namespace

void run_backward(const Tensor& root, const Tensor& grad) {
  NoGradGuard ng;  // the backward pass itself is not recorded
  // For the profiler (core/profiler.h): everything below is the backward phase, and the
  // "backward" row's self time is the engine's own work (graph walk, sort, version checks).
  profile::PhaseScope phase(Phase::backward);
  profile::OpScope scope("backward");
  if (root.is_leaf()) {
    accumulate_leaf(root.impl(), grad, "backward");
    return;
  }
  // Collect every node reachable from the root.
  std::vector<Node*> nodes;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack{root.impl().grad_fn.get()};
  seen.insert(stack.back());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    nodes.push_back(n);
    for (const Edge& e : n->inputs)
      if (e.fn && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  }
  // Decreasing creation order is a topological order: a node's inputs were created before it.
  std::sort(nodes.begin(), nodes.end(), [](Node* a, Node* b) { return a->seq > b->seq; });

  std::unordered_map<Node*, Tensor> grads;
  grads[root.impl().grad_fn.get()] = grad;
  for (Node* n : nodes) {
    auto it = grads.find(n);
    if (it == grads.end() || !it->second.defined()) continue;
    Tensor g = std::move(it->second);
    grads.erase(it);  // free memory as soon as the node has run
    for (std::size_t i = 0; i < n->saved.size(); ++i) {
      const SavedVersion& sv = n->saved[i];
      DITTO_CHECK(sv.storage->version() == sv.version, "backward: a tensor ", sv.what,
                  " that ", n->name, " saved for its gradient was modified in place after the "
                  "forward pass (its storage is at version ", sv.storage->version(),
                  ", it was saved at version ", sv.version, "); modify a clone() instead, or "
                  "run the forward pass again");
    }
    std::vector<Tensor> in_grads;
    {
      // Profiled as the node's op, backward phase, under its forward's mode.
      profile::OpScope scope(n->name.c_str(), n->mode);
      ModeGuard mode_of_forward(n->mode);
      in_grads = n->backward(g);
    }
    DITTO_CHECK(in_grads.size() == n->inputs.size(), "backward: node ", n->name, " returned ",
                in_grads.size(), " gradients for ", n->inputs.size(), " inputs");
    for (std::size_t i = 0; i < in_grads.size(); ++i) {
      const Edge& e = n->inputs[i];
      if (!e.needed() || !in_grads[i].defined()) continue;
      // Ops that promoted an input (f32 + f64) hand back a gradient in the promoted dtype.
      if (in_grads[i].dtype() != e.dtype) in_grads[i] = in_grads[i].to(e.dtype);
      if (e.fn)
        accumulate(grads[e.fn.get()], in_grads[i]);
      else
        accumulate_leaf(*e.leaf, in_grads[i], n->name.c_str());
    }
  }
}

}  // namespace autograd

namespace {
using BackwardFn = std::function<std::vector<Tensor>(const Tensor&)>;
thread_local bool t_teardown_gone = false;  // trivially destructible: readable at thread exit
// Nodes and closures waiting to be destroyed by the outermost ~Node on this thread.
struct Teardown {
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<BackwardFn> fns;
  bool draining = false;
  ~Teardown() { t_teardown_gone = true; }
};
thread_local Teardown t_teardown;
}  // namespace

Node::~Node() {
  // Thread exit, after the queue itself was destroyed: plain member destruction (a graph alive
  // that late is small; nothing else is possible).
  if (t_teardown_gone) return;
  Teardown& q = t_teardown;
  // Take the references this node holds into the rest of the graph: the input nodes, and the
  // closure (it may capture tensors that own further nodes). Members left behind are leaves.
  for (Edge& e : inputs)
    if (e.fn) q.nodes.push_back(std::move(e.fn));
  if (backward) {
    q.fns.emplace_back();
    q.fns.back().swap(backward);
  }
  if (q.draining) return;  // an outer ~Node is running the loop below
  q.draining = true;
  while (!q.nodes.empty() || !q.fns.empty()) {
    if (!q.fns.empty()) {
      BackwardFn f;
      f.swap(q.fns.back());
      q.fns.pop_back();
      f = nullptr;  // may destroy nodes: they only enqueue their own references
    } else {
      std::shared_ptr<Node> n = std::move(q.nodes.back());
      q.nodes.pop_back();
      n.reset();
    }
  }
  q.draining = false;
}

}  // namespace ditto
