// ditto — checkpoints: one file with every piece of training state (model parameters and buffers,
// optimizer state, generators, data-loader position, train/eval flags, mode, global step, user
// metadata). Format spec: docs/checkpoint-format.md (little-endian, versioned, CRC32C per record,
// every length checked against the bytes that remain before it is used).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/generator.h"
#include "core/mode.h"
#include "core/tensor.h"
#include "nn/data.h"
#include "nn/module.h"
#include "nn/optim.h"

namespace ditto::io {

/// The format version this ditto writes (and the newest it reads).
inline constexpr std::uint32_t kCheckpointFormatVersion = 1;

/// One named Generator's state.
struct GeneratorRecord {
  std::string name;
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
};

/// Optimizer state: kind, hyper-parameters, per-parameter step counts and state tensors.
struct OptimizerRecord {
  std::string kind;                        // "sgd" | "adam" | "adamw"
  std::map<std::string, double> hyper;     // lr, momentum, dampening, weight_decay, nesterov(0/1), beta1, beta2, eps
  std::vector<std::int64_t> step;          // per parameter (adam/adamw), empty for sgd
  std::map<std::string, Tensor> tensors;   // "momentum_buffer.<i>", "exp_avg.<i>", "exp_avg_sq.<i>" (defined ones)
};

/// The largest global step and per-parameter optimizer step count a checkpoint may hold: 2^53
/// (exact in a double). Larger values cannot come from a real run; the reader and the writer
/// both refuse them, so a crafted file fails `ckpt verify` instead of resuming at a wrapped step.
inline constexpr std::uint64_t kMaxStep = std::uint64_t{1} << 53;

/// Everything a checkpoint file holds.
struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> model;  // parameters + buffers, state_dict_items() order, cpu
  std::map<std::string, bool> training;               // module path ("" = root) -> is_training
  std::optional<OptimizerRecord> optimizer;
  std::vector<GeneratorRecord> generators;
  std::optional<data::LoaderState> loader;
  Mode mode = Mode::Deterministic;
  std::uint64_t global_step = 0;
  std::map<std::string, std::string> metadata;
  std::string ditto_version;          // set by save_checkpoint (ditto's version); read back by load
  std::uint32_t format_version = 0;   // set by save / read by load
  std::uint64_t fingerprint = 0;      // fingerprint of `model`, set by save / read (and re-checked) by load
};

/// What capture() includes (the lab and the resume tests drop parts on purpose).
struct CaptureOptions {
  bool optimizer = true;
  bool generators = true;
  bool loader = true;
};

/// Builds a Checkpoint from live objects (tensors copied to cpu). opt/loader may be null.
Checkpoint capture(const nn::Module& model, const optim::Optimizer* opt,
                   const std::vector<std::pair<std::string, Generator*>>& gens,
                   const data::DataLoader* loader, Mode mode, std::uint64_t global_step,
                   CaptureOptions what = {});

/// Validates everything against the live objects first (names, shapes, dtypes, optimizer kind
/// and parameter count, generator names), then assigns. Parts absent from the checkpoint are left
/// as they are. Throws ditto::Error; never partially assigns.
void restore(const Checkpoint& ckpt, nn::Module& model, optim::Optimizer* opt,
             const std::vector<std::pair<std::string, Generator*>>& gens, data::DataLoader* loader);

/// Atomic: temp file in the same directory, fsync, rename, fsync the directory.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
/// Reads, parses and verifies a checkpoint file (checksums, structure, model fingerprint).
Checkpoint load_checkpoint(const std::string& path);
/// From memory (the fuzzer drives this): every length/offset checked against `size` first.
Checkpoint parse_checkpoint(const std::uint8_t* data, std::size_t size);
/// The file bytes of `ckpt`: deterministic (no timestamps), so equal checkpoints give equal
/// bytes. ditto_version / format_version / fingerprint are written as this ditto's version, the
/// current format version and fingerprint(ckpt.model), whatever the struct holds.
std::vector<std::uint8_t> serialize_checkpoint(const Checkpoint& ckpt);

/// 64-bit hash of every parameter and buffer: FNV-1a 64 over, in order, each entry's name,
/// dtype, shape and raw bytes (state_dict_items() order). Printed as 16 hex digits.
std::uint64_t fingerprint(const nn::Module& model);
std::uint64_t fingerprint(const std::vector<std::pair<std::string, Tensor>>& tensors);
std::string fingerprint_hex(std::uint64_t f);

/// For `ditto ckpt verify/inspect`: every record with its name, kind, checksum ok?, and a summary.
struct RecordInfo {
  std::string name;
  std::string kind;
  std::uint64_t offset = 0, length = 0;
  std::uint32_t checksum = 0;
  bool checksum_ok = false;
  std::string detail;
};
std::vector<RecordInfo> list_records(const std::string& path);  // never throws on bad checksums: reports them; throws on unreadable structure

/// Text read from a file (names, metadata, versions) made safe to print on a terminal: printable
/// ASCII and valid UTF-8 kept; control bytes (ESC, CR, BEL, ...), DEL, C1 controls and invalid
/// UTF-8 bytes shown as \xNN; a backslash as \\ (so the escaping is unambiguous). A crafted file
/// cannot inject terminal escape sequences through `ditto ckpt`.
std::string escape_for_terminal(std::string_view s);

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78, init/xorout 0xFFFFFFFF), the record
/// checksum. Uses SSE4.2 crc32 instructions when compiled with __SSE4_2__, else a table.
/// crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(const std::uint8_t* data, std::size_t size);
/// The portable table-driven CRC32C (same results; exposed so tests compare both paths).
std::uint32_t crc32c_portable(const std::uint8_t* data, std::size_t size);

}  // namespace ditto::io
