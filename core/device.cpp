#include "core/device.h"

#include "core/error.h"

namespace ditto {

std::string device_name(Device d) {
  switch (d.type) {
    case Device::Type::cpu: return "cpu";
    case Device::Type::sim: return "sim";
    case Device::Type::cuda: return "cuda:" + std::to_string(d.index);
  }
  return "?";
}

bool device_available(Device d) { return d.type == Device::Type::cpu; }

void check_device_available(Device d, const char* op) {
  if (device_available(d)) return;
  switch (d.type) {
    case Device::Type::sim:
      DITTO_FAIL(op, ": device sim is not available in this build yet (the SIMT simulator that "
                     "runs the CUDA kernels on the CPU is not implemented yet)");
    case Device::Type::cuda:
      DITTO_FAIL(op, ": device ", device_name(d),
                 " is not available in this build (no CUDA kernels are compiled yet)");
    default: DITTO_FAIL(op, ": device ", device_name(d), " is not available");
  }
}

std::ostream& operator<<(std::ostream& os, Device d) { return os << device_name(d); }

}  // namespace ditto
