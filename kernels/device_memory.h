// ditto — raw memory on each device (plain C++ interface; no CUDA types).
#pragma once
#include <cstddef>

#include "core/device.h"

namespace ditto::kernels {

/// Allocates `bytes` (64-byte aligned) on `d`. cpu and sim: host memory (sim memory is "device
/// memory" by convention: only sim kernels and explicit copies touch it), large blocks reused
/// from a bounded cache of freed ones (see host_cache_bytes). cuda: cudaMalloc behind a caching
/// allocator. Throws ditto::Error on failure. bytes == 0 returns nullptr.
void* device_alloc(Device d, std::size_t bytes);
/// Frees memory from device_alloc(d, bytes) (nullptr is ignored); `bytes` is the size it was
/// allocated with.
void device_free(Device d, void* p, std::size_t bytes);
/// Bytes of freed host blocks kept for reuse right now. A training step allocates the same sizes
/// every step, and a fresh large block is an mmap whose pages fault in on first touch (about 14%
/// of a 1-thread CNN step); blocks of at least 256 KiB are kept, up to min(1 GiB, RAM / 16) in
/// all. Off under AddressSanitizer (reuse would hide use-after-free) and with DITTO_HOST_CACHE=0.
std::size_t host_cache_bytes();
/// Returns every cached host block to the system.
void release_host_cache();
/// Waits until every kernel launched on `d` has finished (cuda: cudaDeviceSynchronize; cpu and
/// sim kernels are synchronous, nothing to wait for). Used by the profiler to time GPU ops.
void device_synchronize(Device d);
/// Copies `bytes` between any two devices (synchronous).
void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes);
/// Whether the device can be used in this build and on this machine (cuda: compiled and present).
bool device_present(Device d);
/// Whether this build compiled the CUDA kernels (kernels/cuda/*.cu with nvcc).
bool cuda_compiled();
/// Number of CUDA devices (0 when CUDA kernels are not compiled or no GPU is present).
int cuda_device_count();

/// RAII scratch buffer for kernels' temporaries (e.g. reduction partials).
class Scratch {
 public:
  Scratch(Device d, std::size_t bytes) : device_(d), bytes_(bytes), ptr_(device_alloc(d, bytes)) {}
  ~Scratch() { device_free(device_, ptr_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  Device device_;
  std::size_t bytes_;
  void* ptr_;
};

namespace cuda {
// Implemented in kernels/cuda/memory.cu (only when CUDA kernels are compiled).
void* alloc(int device, std::size_t bytes);
void free(int device, void* p);
/// kind: 0 host→device, 1 device→host, 2 device→device.
void copy(void* dst, const void* src, std::size_t bytes, int kind);
/// Waits for every kernel launched on `device`.
void synchronize(int device);
int device_count();
}  // namespace cuda

}  // namespace ditto::kernels
