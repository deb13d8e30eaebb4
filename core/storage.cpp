#include "core/storage.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

namespace ditto {

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  check_device_available(device, "allocate");
  if (nbytes == 0) return;
  // 64-byte alignment: a cache line and a full AVX-512 vector, so kernels may use aligned loads
  // on the storage start. aligned_alloc needs the size rounded up to the alignment.
  std::size_t rounded = (nbytes + 63) / 64 * 64;
  data_ = std::aligned_alloc(64, rounded);
  DITTO_CHECK(data_ != nullptr, "allocate: out of memory allocating ", nbytes, " bytes on ",
              device_name(device));
}

Storage::~Storage() { std::free(data_); }

}  // namespace ditto
