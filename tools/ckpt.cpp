// ditto — `ditto ckpt`: inspect, verify, diff, strip, export-safetensors, import-safetensors
// (see ckpt.h). Everything goes through the public io/ API: load_checkpoint validates a file
// completely (checksums, structure, fingerprint), list_records reports per-record checksums even
// when some are bad.
#include "tools/ckpt.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/file_util.h"
#include "io/safetensors.h"
#include "nn/models.h"

namespace ditto::tools {
namespace {

constexpr int kUsageError = 2;
using Args = std::span<char* const>;

constexpr const char* kHelp = R"(usage: ditto ckpt <subcommand> ...   (ditto ckpt <subcommand> --help: that one)

  inspect FILE                      every record (name, kind, offset, length, CRC32C) and all state:
                                    model tensors (dtype, shape, CRC32C of the bytes), train/eval
                                    flags, optimizer, generators, data loader, mode, step,
                                    fingerprint, metadata
  verify FILE                       checks every checksum and the whole structure; prints "ok" and
                                    exits 0, or prints the problem and exits 1
  diff [--model-only] A B           compares every tensor (model and optimizer state): identical
                                    bits?, max |a-b|, max ULP distance; also step, mode, generators,
                                    loader and train/eval flags (metadata differences are only
                                    noted). Exit 0 when all identical, 1 when anything differs.
                                    --model-only compares the model tensors only
  strip IN OUT PART...              writes a copy of IN without the given state (PART: --optimizer,
                                    --generators, --loader): resuming from it no longer reproduces
                                    the uninterrupted run (used by the tests and the lab)
  export-safetensors CKPT OUT       the model tensors under their PyTorch state_dict names, with
                                    the checkpoint's metadata (plus format=pt, ditto.global_step,
                                    ditto.fingerprint, ditto.version) in __metadata__
  import-safetensors IN OUT         a checkpoint holding those tensors only (step 0, no optimizer,
                                    generator or loader state): `ditto train --resume OUT` starts
                                    from these weights with a fresh optimizer and data order
)";

/// Prints a usage error; returns the usage exit status.
int usage(const std::string& msg) {
  std::cerr << "ditto ckpt: " << msg << " (see 'ditto ckpt --help')\n";
  return kUsageError;
}

/// File data as printed: see io::escape_for_terminal (a crafted name or metadata value cannot
/// send escape codes to the terminal).
std::string esc(std::string_view s) { return io::escape_for_terminal(s); }

/// The part of kHelp that describes one subcommand (its lines, up to the next subcommand).
std::string sub_help(std::string_view name) {
  const std::string_view all = kHelp;
  const std::string key = "\n  " + std::string(name) + " ";
  auto at = all.find(key);
  if (at == std::string_view::npos) return std::string(kHelp);
  at += 1;
  std::size_t end = at;
  for (;;) {
    end = all.find('\n', end);
    if (end == std::string_view::npos || end + 3 >= all.size() || all[end + 3] != ' ') break;
    ++end;
  }
  return "usage: ditto ckpt " +
         std::string(all.substr(at + 2, end == std::string_view::npos ? all.npos : end - at - 1)) +
         "\n";
}

/// Refuses an argument that looks like a flag where a file is expected (so `verify --help` never
/// opens a file named "--help"). A file whose name starts with '-' can be given as ./-name.
bool file_args_ok(std::string_view sub, Args a) {
  for (char* s : a) {
    const std::string_view v = s;
    if (v.size() > 1 && v[0] == '-') {
      usage(std::string(sub) + ": unknown flag '" + esc(v.substr(0, 40)) +
            "' (a file whose name starts with '-' can be given as ./" + esc(v.substr(0, 40)) + ")");
      return false;
    }
  }
  return true;
}

/// Refuses OUT when it is IN (under any spelling): the atomic write would replace the input
/// with the output, destroying it.
bool distinct_files(std::string_view sub, const std::string& in, const std::string& out) {
  if (!io::same_file(in, out)) return true;
  usage(std::string(sub) + ": the output '" + esc(out) + "' is the input file '" + esc(in) +
        "'; writing it would destroy the input");
  return false;
}

std::string hex32(std::uint32_t x) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", x);
  return buf;
}

std::size_t nbytes(const Tensor& t) {
  return static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
}

std::uint32_t tensor_crc(const Tensor& t) {
  const Tensor c = t.contiguous();
  return io::crc32c(static_cast<const std::uint8_t*>(c.raw_data()), nbytes(c));
}

std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape());
}

std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s.resize(w, ' ');
  return s + " ";
}

std::string fmt_g(double x) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

/// Every tensor of a checkpoint by name: the model's, then the optimizer's as "optimizer.<key>".
std::vector<std::pair<std::string, Tensor>> all_tensors(const io::Checkpoint& ck, bool model_only) {
  std::vector<std::pair<std::string, Tensor>> out = ck.model;
  if (!model_only && ck.optimizer) {
    for (const auto& [k, t] : ck.optimizer->tensors) out.emplace_back("optimizer." + k, t);
  }
  return out;
}

// ---- inspect ---------------------------------------------------------------------------------

int cmd_inspect(Args a) {
  if (!file_args_ok("inspect", a)) return kUsageError;
  if (a.size() != 1) return usage("inspect takes one FILE");
  const std::string path = a[0];
  const std::vector<io::RecordInfo> records = io::list_records(path);
  std::cout << "file         " << path << "\n";
  std::cout << "\nrecords (" << records.size() << ")\n";
  for (const io::RecordInfo& r : records) {
    std::cout << "  " << pad(esc(r.name), 28) << pad(r.kind, 10) << "offset " << pad(std::to_string(r.offset), 9)
              << "length " << pad(std::to_string(r.length), 9) << "crc32c " << hex32(r.checksum)
              << (r.checksum_ok ? " ok" : " BAD") << (r.detail.empty() ? "" : "  " + esc(r.detail))
              << "\n";
  }
  const io::Checkpoint ck = io::load_checkpoint(path);
  std::cout << "\nformat       " << ck.format_version << " (written by ditto " << esc(ck.ditto_version)
            << ")\nmode         " << mode_name(ck.mode) << "\nglobal step  " << ck.global_step
            << "\nfingerprint  " << io::fingerprint_hex(ck.fingerprint)
            << (io::fingerprint(ck.model) == ck.fingerprint ? " (matches the tensors)"
                                                            : " (DOES NOT match the tensors)")
            << "\n";
  std::cout << "\nmodel tensors (" << ck.model.size() << ")\n";
  for (const auto& [name, t] : ck.model) {
    std::cout << "  " << pad(esc(name), 28) << pad(describe(t), 22) << "crc32c "
              << hex32(tensor_crc(t)) << "\n";
  }
  std::cout << "\ntrain/eval flags\n";
  if (ck.training.empty()) std::cout << "  (none)\n";
  for (const auto& [name, on] : ck.training) {
    std::cout << "  " << pad(name.empty() ? "(root)" : esc(name), 28) << (on ? "train" : "eval")
              << "\n";
  }
  std::cout << "\noptimizer\n";
  if (!ck.optimizer) {
    std::cout << "  (none)\n";
  } else {
    const io::OptimizerRecord& o = *ck.optimizer;
    std::cout << "  kind       " << o.kind << "\n  hyper      ";
    for (const auto& [k, v] : o.hyper) std::cout << esc(k) << "=" << fmt_g(v) << " ";
    std::cout << "\n";
    if (!o.step.empty()) {
      std::cout << "  step       ";
      for (std::int64_t s : o.step) std::cout << s << " ";
      std::cout << "(per parameter)\n";
    }
    for (const auto& [k, t] : o.tensors) {
      std::cout << "  " << pad(esc(k), 28) << pad(describe(t), 22) << "crc32c "
                << hex32(tensor_crc(t)) << "\n";
    }
  }
  std::cout << "\ngenerators\n";
  if (ck.generators.empty()) std::cout << "  (none)\n";
  for (const io::GeneratorRecord& g : ck.generators) {
    std::cout << "  " << pad(esc(g.name), 12) << "seed " << g.seed << "  offset " << g.offset << "\n";
  }
  std::cout << "\ndata loader\n";
  if (!ck.loader) {
    std::cout << "  (none)\n";
  } else {
    std::cout << "  epoch " << ck.loader->epoch << "  position " << ck.loader->position
              << " (batches consumed)  shuffle seed " << ck.loader->seed << "\n";
  }
  std::cout << "\nmetadata\n";
  if (ck.metadata.empty()) std::cout << "  (none)\n";
  for (const auto& [k, v] : ck.metadata) std::cout << "  " << pad(esc(k), 16) << esc(v) << "\n";
  return 0;
}

// ---- verify ----------------------------------------------------------------------------------

int cmd_verify(Args a) {
  if (!file_args_ok("verify", a)) return kUsageError;
  if (a.size() != 1) return usage("verify takes one FILE");
  const std::string path = a[0];
  std::vector<io::RecordInfo> records;
  try {
    records = io::list_records(path);
  } catch (const std::exception& e) {
    std::cout << path << ": FAILED: " << e.what() << "\n";
    return 1;
  }
  int bad = 0;
  for (const io::RecordInfo& r : records) {
    if (r.checksum_ok) continue;
    ++bad;
    std::cout << path << ": FAILED: record '" << esc(r.name) << "' (" << r.kind << ", offset "
              << r.offset << ", " << r.length << " bytes): checksum mismatch\n";
  }
  if (bad) return 1;
  io::Checkpoint ck;
  try {
    ck = io::load_checkpoint(path);  // structure, values, fingerprint
  } catch (const std::exception& e) {
    std::cout << path << ": FAILED: " << e.what() << "\n";
    return 1;
  }
  std::cout << "ok: " << path << " (" << records.size() << " records, step " << ck.global_step
            << ", fingerprint " << io::fingerprint_hex(ck.fingerprint) << ")\n";
  return 0;
}

// ---- diff ------------------------------------------------------------------------------------

struct Comparison {
  bool same_bits = true;
  double max_abs = 0.0;       // NaN when a NaN meets a non-identical value
  std::uint64_t max_ulp = 0;  // distance in representable values; integer dtypes: |a-b|
  bool nan_mismatch = false;
};

/// Signed position of a float's bits on the number line (+0 and -0 both 0), as a magnitude and
/// sign; the ULP distance of a and b is |pos(a) - pos(b)|.
template <typename Bits>
std::uint64_t ulp_distance(Bits a, Bits b) {
  constexpr Bits sign = Bits(1) << (sizeof(Bits) * 8 - 1);
  const std::uint64_t ma = a & ~sign, mb = b & ~sign;
  if (((a & sign) != 0) == ((b & sign) != 0)) return ma > mb ? ma - mb : mb - ma;
  return ma + mb;  // opposite signs: through zero (fits: each magnitude < 2^63)
}

template <typename F, typename Bits>
void compare_float(const Tensor& ta, const Tensor& tb, Comparison& c) {
  const F* a = ta.data_ptr<F>();
  const F* b = tb.data_ptr<F>();
  for (std::int64_t i = 0; i < ta.numel(); ++i) {
    Bits ba, bb;
    std::memcpy(&ba, &a[i], sizeof(F));
    std::memcpy(&bb, &b[i], sizeof(F));
    if (ba == bb) continue;
    c.same_bits = false;
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      c.nan_mismatch = true;
      continue;
    }
    c.max_abs = std::max(c.max_abs, std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    c.max_ulp = std::max(c.max_ulp, ulp_distance<Bits>(ba, bb));
  }
}

template <typename I>
void compare_int(const Tensor& ta, const Tensor& tb, Comparison& c) {
  const I* a = ta.data_ptr<I>();
  const I* b = tb.data_ptr<I>();
  for (std::int64_t i = 0; i < ta.numel(); ++i) {
    if (a[i] == b[i]) continue;
    c.same_bits = false;
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    c.max_abs = std::max(c.max_abs, d);
    c.max_ulp = std::max(c.max_ulp, static_cast<std::uint64_t>(d));
  }
}

Comparison compare(const Tensor& a0, const Tensor& b0) {
  const Tensor a = a0.contiguous(), b = b0.contiguous();
  Comparison c;
  switch (a.dtype()) {
    case DType::f32: compare_float<float, std::uint32_t>(a, b, c); break;
    case DType::f64: compare_float<double, std::uint64_t>(a, b, c); break;
    case DType::i64: compare_int<std::int64_t>(a, b, c); break;
    case DType::u8: compare_int<std::uint8_t>(a, b, c); break;
  }
  return c;
}

std::string generators_str(const std::vector<io::GeneratorRecord>& gens) {
  std::string s;
  for (const auto& g : gens) {
    s += g.name + "(" + std::to_string(g.seed) + "," + std::to_string(g.offset) + ") ";
  }
  return s.empty() ? "(none)" : s;
}

std::string loader_str(const std::optional<data::LoaderState>& l) {
  if (!l) return "(none)";
  return "epoch " + std::to_string(l->epoch) + " position " + std::to_string(l->position) +
         " seed " + std::to_string(l->seed);
}

std::string optimizer_str(const std::optional<io::OptimizerRecord>& o) {
  if (!o) return "(none)";
  std::string s = o->kind;
  for (const auto& [k, v] : o->hyper) s += " " + k + "=" + fmt_g(v);
  if (!o->step.empty()) {
    s += " step";
    for (std::int64_t x : o->step) s += " " + std::to_string(x);
  }
  return s;
}

std::string training_str(const std::map<std::string, bool>& t) {
  std::string s;
  for (const auto& [k, v] : t) s += (k.empty() ? "(root)" : k) + "=" + (v ? "train" : "eval") + " ";
  return s.empty() ? "(none)" : s;
}

int cmd_diff(Args a) {
  bool model_only = false;
  std::vector<std::string> files;
  for (char* s : a) {
    if (std::string_view(s) == "--model-only") {
      model_only = true;
    } else if (std::string_view(s).rfind("--", 0) == 0) {
      return usage("diff: unknown flag '" + std::string(s) + "'");
    } else {
      files.emplace_back(s);
    }
  }
  if (files.size() != 2) return usage("diff takes two files A B");
  const io::Checkpoint ca = io::load_checkpoint(files[0]);
  const io::Checkpoint cb = io::load_checkpoint(files[1]);
  const auto ta = all_tensors(ca, model_only), tb = all_tensors(cb, model_only);
  std::map<std::string, Tensor> mb(tb.begin(), tb.end());
  std::set<std::string> seen;
  int differ = 0;
  std::cout << "  " << pad("tensor", 28) << pad("bits", 10) << pad("max |a-b|", 14) << "max ulp\n";
  for (const auto& [name, t] : ta) {
    seen.insert(name);
    const auto it = mb.find(name);
    if (it == mb.end()) {
      ++differ;
      std::cout << "  " << pad(esc(name), 28) << "only in A\n";
      continue;
    }
    const Tensor& u = it->second;
    if (t.dtype() != u.dtype() || t.shape() != u.shape()) {
      ++differ;
      std::cout << "  " << pad(esc(name), 28) << "DIFFER    " << describe(t) << " vs " << describe(u)
                << "\n";
      continue;
    }
    const Comparison c = compare(t, u);
    if (!c.same_bits) ++differ;
    std::cout << "  " << pad(esc(name), 28) << pad(c.same_bits ? "identical" : "DIFFER", 10)
              << pad(c.nan_mismatch ? "nan" : fmt_g(c.max_abs), 14)
              << (c.nan_mismatch ? std::string("nan") : std::to_string(c.max_ulp)) << "\n";
  }
  for (const auto& [name, t] : tb) {
    if (seen.count(name)) continue;
    ++differ;
    std::cout << "  " << pad(esc(name), 28) << "only in B\n";
  }
  if (!model_only) {
    auto field = [&](const char* what, const std::string& x, const std::string& y) {
      if (x == y) return;
      ++differ;
      std::cout << "  " << pad(what, 28) << "DIFFER    " << esc(x) << " vs " << esc(y) << "\n";
    };
    field("global step", std::to_string(ca.global_step), std::to_string(cb.global_step));
    field("mode", std::string(mode_name(ca.mode)), std::string(mode_name(cb.mode)));
    field("optimizer", optimizer_str(ca.optimizer), optimizer_str(cb.optimizer));
    field("generators", generators_str(ca.generators), generators_str(cb.generators));
    field("data loader", loader_str(ca.loader), loader_str(cb.loader));
    field("train/eval flags", training_str(ca.training), training_str(cb.training));
    for (const auto& [k, v] : ca.metadata) {
      const auto it = cb.metadata.find(k);
      if (it == cb.metadata.end() || it->second != v) {
        std::cout << "  note: metadata '" << esc(k) << "' differs: '" << esc(v) << "' vs '"
                  << (it == cb.metadata.end() ? "(absent)" : esc(it->second)) << "'\n";
      }
    }
    for (const auto& [k, v] : cb.metadata) {
      if (!ca.metadata.count(k)) std::cout << "  note: metadata '" << esc(k) << "' only in B\n";
    }
  }
  if (differ) {
    std::cout << differ << " difference" << (differ == 1 ? "" : "s") << "\n";
    return 1;
  }
  std::cout << "identical" << (model_only ? " (model tensors)" : "") << "\n";
  return 0;
}

// ---- strip -----------------------------------------------------------------------------------

int cmd_strip(Args a) {
  std::vector<std::string> files;
  bool opt = false, gens = false, loader = false;
  for (char* s : a) {
    const std::string_view v = s;
    if (v == "--optimizer") {
      opt = true;
    } else if (v == "--generators") {
      gens = true;
    } else if (v == "--loader") {
      loader = true;
    } else if (v.rfind("--", 0) == 0) {
      return usage("strip: unknown part '" + std::string(v) +
                   "' (use --optimizer, --generators, --loader)");
    } else {
      files.emplace_back(v);
    }
  }
  if (files.size() != 2) return usage("strip takes IN OUT and at least one part");
  if (!opt && !gens && !loader) {
    return usage("strip: name a part to remove (--optimizer, --generators, --loader)");
  }
  if (!distinct_files("strip", files[0], files[1])) return kUsageError;
  io::Checkpoint ck = io::load_checkpoint(files[0]);
  if (opt) ck.optimizer.reset();
  if (gens) ck.generators.clear();
  if (loader) ck.loader.reset();
  io::save_checkpoint(files[1], ck);
  std::cout << "wrote " << files[1] << " without" << (opt ? " optimizer" : "")
            << (gens ? " generators" : "") << (loader ? " loader" : "") << " state\n";
  return 0;
}

// ---- safetensors -----------------------------------------------------------------------------

int cmd_export(Args a) {
  if (!file_args_ok("export-safetensors", a)) return kUsageError;
  if (a.size() != 2) return usage("export-safetensors takes CKPT OUT.safetensors");
  if (!distinct_files("export-safetensors", a[0], a[1])) return kUsageError;
  const io::Checkpoint ck = io::load_checkpoint(a[0]);
  std::map<std::string, Tensor> tensors(ck.model.begin(), ck.model.end());
  std::map<std::string, std::string> meta = ck.metadata;
  meta["format"] = "pt";  // what PyTorch's safetensors.torch.save_file writes
  meta["ditto.version"] = ck.ditto_version;
  meta["ditto.global_step"] = std::to_string(ck.global_step);
  meta["ditto.fingerprint"] = io::fingerprint_hex(ck.fingerprint);
  io::save_safetensors(a[1], tensors, meta);
  std::cout << "wrote " << a[1] << " (" << tensors.size() << " tensors, fingerprint "
            << io::fingerprint_hex(ck.fingerprint) << ")\n";
  return 0;
}

int cmd_import(Args a) {
  if (!file_args_ok("import-safetensors", a)) return kUsageError;
  if (a.size() != 2) return usage("import-safetensors takes IN.safetensors OUT.ditto");
  if (!distinct_files("import-safetensors", a[0], a[1])) return kUsageError;
  std::map<std::string, std::string> meta;
  const std::map<std::string, Tensor> tensors = io::load_safetensors(a[0], &meta);
  io::Checkpoint ck;
  // Keep `ditto train`'s model order when the names are its state_dict keys, so the checkpoint's
  // fingerprint is the one `ditto train` prints for these weights; otherwise the file's order.
  Generator g0(0), g1(0);
  const nn::FashionCnn reference({}, g0, g1);
  std::set<std::string> names;
  for (const auto& [k, t] : reference.state_dict_items()) names.insert(k);
  bool ours = names.size() == tensors.size();
  for (const auto& [k, t] : tensors) ours = ours && names.count(k) != 0;
  if (ours) {
    for (const auto& [k, t] : reference.state_dict_items()) ck.model.emplace_back(k, tensors.at(k));
  } else {
    ck.model.assign(tensors.begin(), tensors.end());
    std::cout << "note: the tensor names are not those of `ditto train`'s model; kept in file order\n";
  }
  ck.metadata = meta;
  ck.metadata["imported_from"] = a[0];
  io::save_checkpoint(a[1], ck);
  std::cout << "wrote " << a[1] << " (" << ck.model.size() << " tensors, weights only, fingerprint "
            << io::fingerprint_hex(io::fingerprint(ck.model)) << ")\n";
  return 0;
}

struct Sub {
  std::string_view name;
  int (*run)(Args);
};
constexpr Sub kSubs[] = {{"inspect", cmd_inspect},
                         {"verify", cmd_verify},
                         {"diff", cmd_diff},
                         {"strip", cmd_strip},
                         {"export-safetensors", cmd_export},
                         {"import-safetensors", cmd_import}};

}  // namespace

int ckpt_main(Args args) {
  if (args.empty()) {
    std::cerr << kHelp;
    return kUsageError;
  }
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << kHelp;
    return 0;
  }
  for (const Sub& s : kSubs) {
    if (s.name != sub) continue;
    const Args rest = args.subspan(1);
    for (char* a : rest) {
      if (std::string_view(a) == "--help" || std::string_view(a) == "-h") {
        std::cout << sub_help(sub);
        return 0;
      }
    }
    return s.run(rest);
  }
  return usage("unknown subcommand '" + std::string(sub) + "'");
}

}  // namespace ditto::tools
