// ditto — `ditto train`: trains nn::FashionCnn (nn/models.h) on Fashion-MNIST through
// train::Trainer (train/trainer.h), with checkpoints, bitwise resume and a fingerprint of the
// final weights. Usage and flags: `ditto train --help` (text in train.cpp)
// and README.md, section "The `ditto` program".
#pragma once
#include <span>

namespace ditto::tools {

/// `ditto train [flags]` (args: the arguments after "train"). Returns the exit status: 0 done,
/// 1 error (ditto::Error: missing data, bad checkpoint, unavailable device, a diverged loss, a
/// failed final save), 2 bad flags, 130 / 143 stopped by SIGINT / SIGTERM (after writing
/// <out>/interrupted.ditto).
int train_main(std::span<char* const> args);

}  // namespace ditto::tools
