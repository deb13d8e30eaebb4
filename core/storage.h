// ditto — Storage: one owned allocation on one device, shared by every tensor viewing it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
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

  /// The version counter: bumped by every in-place write through the public API (Tensor::copy_,
  /// fill_ and what is built on them: optimizer steps, checkpoint restore, init). Shared by all
  /// views and detach()ed handles of this storage. Autograd records it for each tensor a backward
  /// rule saves and refuses to run that rule once it changed (the saved values are gone).
  std::uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> version_{0};
  void* data_ = nullptr;    // null only when nbytes_ == 0
  std::size_t nbytes_ = 0;
  Device device_;
};

}  // namespace ditto
