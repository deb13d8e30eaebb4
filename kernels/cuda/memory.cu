// ditto — cuda device memory: cudaMalloc behind a caching allocator, and copies.
// (Plain CUDA runtime calls; no kernels. Compiled by nvcc only when CUDA is on.)
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "kernels/device_memory.h"

namespace ditto::kernels::cuda {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    DITTO_FAIL(what, ": ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

// Why a cache: cudaMalloc/cudaFree synchronise the device and cost tens of microseconds; training
// loops allocate the same sizes every step. Blocks are rounded up to 512 bytes (small) or 2 MiB
// (large) and kept in per-device free lists keyed by size; they are returned to the driver only
// when an allocation fails (then the cache is emptied and the allocation retried once).
struct Cache {
  std::mutex mu;
  std::multimap<std::size_t, void*> free_blocks;    // size -> block
  std::unordered_map<void*, std::size_t> live;      // block -> size
};

std::size_t round_size(std::size_t bytes) {
  constexpr std::size_t kSmall = 512, kLarge = std::size_t{2} << 20;
  std::size_t unit = bytes < (std::size_t{1} << 20) ? kSmall : kLarge;
  return (bytes + unit - 1) / unit * unit;
}

Cache& cache_for(int device) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<Cache>> caches;
  std::lock_guard<std::mutex> lock(mu);
  if (static_cast<int>(caches.size()) <= device) caches.resize(device + 1);
  if (!caches[device]) caches[device] = std::make_unique<Cache>();
  return *caches[device];
}

}  // namespace

int device_count() {
  int n = 0;
  // No driver or no GPU: report 0 devices rather than failing (the device is simply absent).
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return n;
}

void* alloc(int device, std::size_t bytes) {
  Cache& c = cache_for(device);
  std::size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.free_blocks.lower_bound(size);
  if (it != c.free_blocks.end() && it->first == size) {
    void* p = it->second;
    c.free_blocks.erase(it);
    c.live[p] = size;
    return p;
  }
  check(cudaSetDevice(device), "cuda alloc (set device)");
  void* p = nullptr;
  if (cudaMalloc(&p, size) != cudaSuccess) {
    cudaGetLastError();
    for (auto& [s, blk] : c.free_blocks) cudaFree(blk);
    c.free_blocks.clear();
    check(cudaMalloc(&p, size), "cuda alloc");
  }
  c.live[p] = size;
  return p;
}

void free(int device, void* p) {
  Cache& c = cache_for(device);
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.live.find(p);
  if (it == c.live.end()) return;  // not ours: never free foreign pointers
  c.free_blocks.emplace(it->second, p);
  c.live.erase(it);
}

void synchronize(int device) {
  check(cudaSetDevice(device), "cuda synchronize (set device)");
  check(cudaDeviceSynchronize(), "cuda synchronize");
}

void copy(void* dst, const void* src, std::size_t bytes, int kind) {
  cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice
                     : kind == 1 ? cudaMemcpyDeviceToHost
                                 : cudaMemcpyDeviceToDevice;
  check(cudaMemcpy(dst, src, bytes, k), "cuda copy");
}

}  // namespace ditto::kernels::cuda
