// ditto — checkpoints from and into live objects: fingerprint, capture, restore, save.
// (The byte format, parse and load live in io/checkpoint_format.cpp.)
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/file_util.h"

namespace ditto::io {

namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

void fnv(std::uint64_t& h, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= kFnvPrime;
  }
}
void fnv_u64(std::uint64_t& h, std::uint64_t v) { fnv(h, &v, 8); }  // little-endian host

std::uint8_t fp_dtype_code(DType t) {
  switch (t) {
    case DType::f32: return 1;
    case DType::f64: return 2;
    case DType::i64: return 3;
    case DType::u8: return 4;
  }
  return 0;
}

/// A cpu, contiguous copy that shares no storage with `t` (state_dict entries and optimizer
/// buffers are live: a checkpoint must not change when training continues).
Tensor snapshot(const Tensor& t) {
  Tensor d = t.detach();
  Tensor c = d.to(Device::cpu()).contiguous();
  if (c.shares_storage(d)) c = c.clone();
  return c;
}

std::string opt_kind(const optim::Optimizer* opt) {
  if (dynamic_cast<const optim::SGD*>(opt)) return "sgd";
  if (dynamic_cast<const optim::Adam*>(opt)) return "adam";
  if (dynamic_cast<const optim::AdamW*>(opt)) return "adamw";
  return "";
}

/// The hyper-parameters capture() records for `opt` (also what restore() compares against).
std::map<std::string, double> opt_hyper(const optim::Optimizer* opt) {
  std::map<std::string, double> h;
  h["num_params"] = static_cast<double>(opt->params().size());
  if (const auto* s = dynamic_cast<const optim::SGD*>(opt)) {
    const optim::SGDOptions& o = s->options();
    h["lr"] = o.lr;
    h["momentum"] = o.momentum;
    h["dampening"] = o.dampening;
    h["weight_decay"] = o.weight_decay;
    h["nesterov"] = o.nesterov ? 1.0 : 0.0;
  } else {
    double lr, b1, b2, eps, wd;
    if (const auto* a = dynamic_cast<const optim::Adam*>(opt)) {
      const optim::AdamOptions& o = a->options();
      lr = o.lr, b1 = o.betas.first, b2 = o.betas.second, eps = o.eps, wd = o.weight_decay;
    } else {
      const optim::AdamWOptions& o = dynamic_cast<const optim::AdamW*>(opt)->options();
      lr = o.lr, b1 = o.betas.first, b2 = o.betas.second, eps = o.eps, wd = o.weight_decay;
    }
    h["lr"] = lr;
    h["beta1"] = b1;
    h["beta2"] = b2;
    h["eps"] = eps;
    h["weight_decay"] = wd;
  }
  return h;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

std::uint64_t fingerprint(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::uint64_t h = kFnvOffset;
  for (const auto& [name, t] : tensors) {
    DITTO_CHECK(t.defined(), "fingerprint: tensor '", name, "' is undefined");
    fnv_u64(h, name.size());
    fnv(h, name.data(), name.size());
    const std::uint8_t code = fp_dtype_code(t.dtype());
    fnv(h, &code, 1);
    fnv_u64(h, static_cast<std::uint64_t>(t.dim()));
    for (std::int64_t d : t.shape()) fnv_u64(h, static_cast<std::uint64_t>(d));
    Tensor c = t.detach().to(Device::cpu()).contiguous();
    if (c.numel() > 0) fnv(h, c.raw_data(), static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype()));
  }
  return h;
}

std::uint64_t fingerprint(const nn::Module& model) { return fingerprint(model.state_dict_items()); }

std::string fingerprint_hex(std::uint64_t f) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(f));
  return buf;
}

Checkpoint capture(const nn::Module& model, const optim::Optimizer* opt,
                   const std::vector<std::pair<std::string, Generator*>>& gens,
                   const data::DataLoader* loader, Mode mode, std::uint64_t global_step,
                   CaptureOptions what) {
  Checkpoint ck;
  for (const auto& [name, t] : model.state_dict_items()) ck.model.emplace_back(name, snapshot(t));
  ck.training[""] = model.is_training();
  for (const auto& [path, m] : model.named_modules()) ck.training[path] = m->is_training();
  if (opt != nullptr && what.optimizer) {
    OptimizerRecord o;
    o.kind = opt_kind(opt);
    DITTO_CHECK(!o.kind.empty(),
                "checkpoint capture: unsupported optimizer type (known: SGD, Adam, AdamW)");
    o.hyper = opt_hyper(opt);
    if (const auto* s = dynamic_cast<const optim::SGD*>(opt)) {
      const auto& bufs = s->momentum_buffers();
      for (std::size_t i = 0; i < bufs.size(); ++i)
        if (bufs[i].defined()) o.tensors["momentum_buffer." + std::to_string(i)] = snapshot(bufs[i]);
    } else {
      const optim::AdamState& st = dynamic_cast<const optim::AdamBase*>(opt)->state();
      o.step = st.step;
      for (std::size_t i = 0; i < st.exp_avg.size(); ++i) {
        if (st.exp_avg[i].defined()) o.tensors["exp_avg." + std::to_string(i)] = snapshot(st.exp_avg[i]);
        if (st.exp_avg_sq[i].defined())
          o.tensors["exp_avg_sq." + std::to_string(i)] = snapshot(st.exp_avg_sq[i]);
      }
    }
    ck.optimizer = std::move(o);
  }
  if (what.generators) {
    std::set<std::string> names;
    for (const auto& [name, g] : gens) {
      DITTO_CHECK(g != nullptr, "checkpoint capture: generator '", name, "' is null");
      DITTO_CHECK(names.insert(name).second, "checkpoint capture: generator '", name,
                  "' given twice");
      ck.generators.push_back({name, g->seed(), g->offset()});
    }
  }
  if (loader != nullptr && what.loader) ck.loader = loader->state();
  ck.mode = mode;
  ck.global_step = global_step;
  ck.fingerprint = fingerprint(ck.model);
  ck.format_version = kCheckpointFormatVersion;
  return ck;
}

namespace {

/// Parses "<prefix><i>" (decimal, no leading zeros); -1 when `name` has another form.
std::int64_t index_of(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return -1;
  std::int64_t v = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return -1;
    v = v * 10 + (ch - '0');
  }
  return v;
}

void check_like(const Tensor& t, const Tensor& like, const std::string& what) {
  DITTO_CHECK(t.defined(), "checkpoint restore: ", what, " is undefined");
  DITTO_CHECK(t.shape() == like.shape() && t.dtype() == like.dtype(), "checkpoint restore: ",
              what, " has shape ", shape_str(t.shape()), " and dtype ", dtype_name(t.dtype()),
              ", the live tensor has shape ", shape_str(like.shape()), " and dtype ",
              dtype_name(like.dtype()));
}

}  // namespace

void restore(const Checkpoint& ck, nn::Module& model, optim::Optimizer* opt,
             const std::vector<std::pair<std::string, Generator*>>& gens,
             data::DataLoader* loader) {
  // ---- 1. validate everything; nothing is assigned until every check has passed ----------
  const auto live = model.state_dict_items();
  std::map<std::string, Tensor> live_map(live.begin(), live.end());
  std::map<std::string, Tensor> model_state;
  {
    std::string problems;
    for (const auto& [name, t] : ck.model) {
      if (!model_state.emplace(name, t).second) problems += "\n  '" + name + "' appears twice";
      auto it = live_map.find(name);
      if (it == live_map.end()) {
        problems += "\n  unexpected key '" + name + "' (not in the model)";
      } else if (!t.defined() || t.shape() != it->second.shape() ||
                 t.dtype() != it->second.dtype()) {
        problems += "\n  '" + name + "': checkpoint has " +
                    (t.defined() ? std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape())
                                 : std::string("an undefined tensor")) +
                    ", model has " + std::string(dtype_name(it->second.dtype())) + " " +
                    shape_str(it->second.shape());
      }
    }
    for (const auto& [name, t] : live)
      if (!model_state.count(name)) problems += "\n  missing key '" + name + "' (not in the checkpoint)";
    DITTO_CHECK(problems.empty(), "checkpoint restore: the model does not match the checkpoint:",
                problems);
  }
  std::map<std::string, nn::Module*> modules{{"", &model}};
  for (const auto& [path, m] : model.named_modules()) modules[path] = m.get();
  for (const auto& [path, on] : ck.training)
    DITTO_CHECK(modules.count(path), "checkpoint restore: training flag for module '", path,
                "', which the model does not have");

  std::vector<Tensor> sgd_bufs;
  optim::AdamState adam_state;
  if (ck.optimizer) {
    const OptimizerRecord& o = *ck.optimizer;
    DITTO_CHECK(opt != nullptr, "checkpoint restore: the checkpoint has '", o.kind,
                "' optimizer state but no optimizer was given");
    const std::string kind = opt_kind(opt);
    DITTO_CHECK(kind == o.kind, "checkpoint restore: optimizer kind mismatch: checkpoint has '",
                o.kind, "', the live optimizer is '", kind.empty() ? "unknown" : kind, "'");
    const std::vector<Tensor>& params = opt->params();
    const std::size_t n = params.size();
    auto np = o.hyper.find("num_params");
    DITTO_CHECK(np != o.hyper.end(), "checkpoint restore: optimizer record has no num_params");
    DITTO_CHECK(np->second == static_cast<double>(n), "checkpoint restore: the checkpoint's ",
                o.kind, " optimizer has ", np->second, " parameters, the live one has ", n);
    // Hyper-parameters are fixed at construction (no setters): resuming with different ones
    // would silently change the trajectory, so they must match exactly.
    const auto want = opt_hyper(opt);
    for (const auto& [k, v] : want) {
      auto it = o.hyper.find(k);
      DITTO_CHECK(it != o.hyper.end(), "checkpoint restore: optimizer hyper-parameter '", k,
                  "' missing from the checkpoint");
      DITTO_CHECK(same_bits(it->second, v), "checkpoint restore: optimizer ", k,
                  ": checkpoint has ", it->second, ", the live optimizer has ", v,
                  " (construct the optimizer with the checkpoint's hyper-parameters)");
    }
    for (const auto& [k, v] : o.hyper)
      DITTO_CHECK(want.count(k), "checkpoint restore: unknown ", o.kind,
                  " hyper-parameter '", k, "'");
    if (kind == "sgd") {
      DITTO_CHECK(o.step.empty(), "checkpoint restore: sgd record has step counts");
      sgd_bufs.resize(n);
      for (const auto& [name, t] : o.tensors) {
        const std::int64_t i = index_of(name, "momentum_buffer.");
        DITTO_CHECK(i >= 0 && static_cast<std::size_t>(i) < n, "checkpoint restore: optimizer "
                    "tensor '", name, "' does not name a momentum buffer of the ", n,
                    " parameters");
        check_like(t, params[i], "optimizer tensor '" + name + "'");
        sgd_bufs[i] = t.to(params[i].device());
        if (sgd_bufs[i].shares_storage(t)) sgd_bufs[i] = sgd_bufs[i].clone();
      }
    } else {
      DITTO_CHECK(o.step.size() == n, "checkpoint restore: the checkpoint has ", o.step.size(),
                  " Adam step counts, the live optimizer has ", n, " parameters");
      adam_state.exp_avg.resize(n);
      adam_state.exp_avg_sq.resize(n);
      adam_state.step = o.step;
      for (const auto& [name, t] : o.tensors) {
        std::int64_t i = index_of(name, "exp_avg.");
        auto* dst = &adam_state.exp_avg;
        if (i < 0) {
          i = index_of(name, "exp_avg_sq.");
          dst = &adam_state.exp_avg_sq;
        }
        DITTO_CHECK(i >= 0 && static_cast<std::size_t>(i) < n, "checkpoint restore: optimizer "
                    "tensor '", name, "' does not name an Adam moment of the ", n,
                    " parameters");
        check_like(t, params[i], "optimizer tensor '" + name + "'");
        Tensor d = t.to(params[i].device());
        (*dst)[i] = d.shares_storage(t) ? d.clone() : d;
      }
      for (std::size_t i = 0; i < n; ++i) {
        DITTO_CHECK(o.step[i] >= 0, "checkpoint restore: step[", i, "] is negative");
        DITTO_CHECK(adam_state.exp_avg[i].defined() == adam_state.exp_avg_sq[i].defined(),
                    "checkpoint restore: exp_avg.", i, " and exp_avg_sq.", i,
                    " must both be present or both absent");
      }
    }
  }
  std::map<std::string, Generator*> live_gens;
  for (const auto& [name, g] : gens) {
    DITTO_CHECK(g != nullptr, "checkpoint restore: generator '", name, "' is null");
    live_gens[name] = g;
  }
  for (const GeneratorRecord& g : ck.generators)
    DITTO_CHECK(live_gens.count(g.name), "checkpoint restore: the checkpoint has generator '",
                g.name, "', which was not given (given: ", live_gens.size(), " generators)");
  if (ck.loader) {
    DITTO_CHECK(loader != nullptr,
                "checkpoint restore: the checkpoint has loader state but no loader was given");
    DITTO_CHECK(ck.loader->seed == loader->options().seed, "checkpoint restore: loader seed ",
                ck.loader->seed, " differs from the live loader's seed ", loader->options().seed);
    DITTO_CHECK(ck.loader->position <= static_cast<std::uint64_t>(loader->batches_per_epoch()),
                "checkpoint restore: loader position ", ck.loader->position,
                " is past the epoch's ", loader->batches_per_epoch(), " batches");
  }

  // ---- 2. assign. The loader goes first: its set_state is the only step that validates on
  // its own, and if it refuses nothing else has been touched yet. ------------------------------
  if (ck.loader) loader->set_state(*ck.loader);
  model.load_state_dict(model_state, true);
  if (ck.optimizer) {
    if (auto* s = dynamic_cast<optim::SGD*>(opt)) s->set_momentum_buffers(std::move(sgd_bufs));
    else dynamic_cast<optim::AdamBase*>(opt)->set_state(std::move(adam_state));
  }
  for (const GeneratorRecord& g : ck.generators) live_gens[g.name]->set_state(g.seed, g.offset);
  // Parents before children (map order puts "a" before "a.b"), each flag set on its own module
  // only: Module::train recurses, so children are re-set after their parent.
  for (const auto& [path, on] : ck.training) modules[path]->train(on);
}

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  write_file_atomic(path, serialize_checkpoint(ckpt));
}

}  // namespace ditto::io
