#include "core/device.h"

#include <atomic>

#include "core/error.h"
#include "kernels/device_memory.h"

namespace ditto {

std::string device_name(Device d) {
  switch (d.type) {
    case Device::Type::cpu: return "cpu";
    case Device::Type::sim: return "sim";
    case Device::Type::cuda: return "cuda:" + std::to_string(d.index);
  }
  return "?";
}

bool device_available(Device d) { return kernels::device_present(d); }

void check_device_available(Device d, const char* op) {
  if (device_available(d)) return;
  if (d.type == Device::Type::cuda) {
    int n = kernels::cuda_device_count();
    DITTO_CHECK(n > 0, op, ": device ", device_name(d), " is not available: ",
                kernels::cuda_compiled() ? "no CUDA GPU is present on this machine"
                                         : "this build has no CUDA kernels (configure with nvcc "
                                           "and -DDITTO_CUDA=ON)");
    DITTO_FAIL(op, ": device ", device_name(d), " does not exist (", n, " CUDA devices present)");
  }
  DITTO_FAIL(op, ": device ", device_name(d), " is not available");
}

namespace {
std::atomic<int> g_default_type{static_cast<int>(Device::Type::cpu)};
std::atomic<int> g_default_index{0};
}  // namespace

void set_default_device(Device d) {
  check_device_available(d, "set_default_device");
  g_default_type.store(static_cast<int>(d.type));
  g_default_index.store(d.index);
}

Device default_device() {
  return {static_cast<Device::Type>(g_default_type.load()), g_default_index.load()};
}

std::ostream& operator<<(std::ostream& os, Device d) { return os << device_name(d); }

}  // namespace ditto
