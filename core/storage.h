// ditto — Storage: one owned allocation on one device, shared by every tensor viewing it.
#pragma once
#include <cstddef>
#include <memory>

#include "core/device.h"

namespace ditto {

/// An owned, 64-byte aligned buffer of `nbytes` bytes on `device`. Never resized. Tensors hold
/// it through shared_ptr, so views keep it alive. The contents are uninitialised on creation.
class Storage {
 public:
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;    // null only when nbytes_ == 0
  std::size_t nbytes_ = 0;
  Device device_;
};

}  // namespace ditto
