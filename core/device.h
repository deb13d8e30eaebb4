// ditto — devices: cpu (native kernels), sim (CUDA kernels on the SIMT simulator), cuda (GPUs).
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

namespace ditto {

/// Where a tensor's storage lives and which kernels run on it.
/// Invariant: index == 0 for cpu and sim; index >= 0 for cuda.
struct Device {
  enum class Type : std::uint8_t { cpu, sim, cuda };
  Type type = Type::cpu;
  int index = 0;

  static Device cpu() { return {Type::cpu, 0}; }
  /// The simulator device: the CUDA kernel sources executed on the CPU.
  static Device sim() { return {Type::sim, 0}; }
  static Device cuda(int i = 0) { return {Type::cuda, i}; }

  bool is_cpu() const { return type == Type::cpu; }
  friend bool operator==(const Device&, const Device&) = default;
};

/// "cpu", "sim", "cuda:0".
std::string device_name(Device d);
/// Whether tensors can be allocated on `d` in this build and on this machine.
bool device_available(Device d);
/// Throws ditto::Error naming `op` when `d` cannot be used (not built / not present).
void check_device_available(Device d, const char* op);

std::ostream& operator<<(std::ostream& os, Device d);

/// The device creation functions use when none is given (default: cpu). Process-wide, like
/// PyTorch's torch.set_default_device; the test suite uses it to run every op test on each device.
void set_default_device(Device d);
Device default_device();

}  // namespace ditto
