// ditto — `ditto ckpt`: inspect, verify, compare, strip and convert checkpoint files.
//   ditto ckpt inspect FILE                         every record and every piece of state
//   ditto ckpt verify FILE                          checksums + structure: "ok" (0) or the problem (1)
//   ditto ckpt diff [--model-only] A B              per tensor: identical bits?, max |a-b|, max ULP
//   ditto ckpt strip IN OUT --optimizer|--generators|--loader
//                                                   a copy without that state (for experiments:
//                                                   resuming from it no longer reproduces the run)
//   ditto ckpt export-safetensors CKPT OUT.safetensors
//   ditto ckpt import-safetensors IN.safetensors OUT.ditto
#pragma once
#include <span>

namespace ditto::tools {

/// `ditto ckpt <subcommand> ...` (args: the arguments after "ckpt"). Returns the exit status:
/// 0 ok / identical, 1 a problem found (verify), tensors differ (diff) or an error, 2 bad usage.
int ckpt_main(std::span<char* const> args);

}  // namespace ditto::tools
