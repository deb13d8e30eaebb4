#include "core/storage.h"

#include "core/error.h"
#include "kernels/device_memory.h"

namespace ditto {

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  check_device_available(device, "allocate");
  data_ = kernels::device_alloc(device, nbytes);
}

Storage::~Storage() { kernels::device_free(device_, data_, nbytes_); }

}  // namespace ditto
