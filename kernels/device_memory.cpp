#include "kernels/device_memory.h"

#include <sys/sysinfo.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "core/error.h"
#include "core/profile_scope.h"

#ifndef DITTO_CUDA_COMPILED
#define DITTO_CUDA_COMPILED 0
#endif

namespace ditto::kernels {

namespace {
bool host_side(Device d) { return d.type != Device::Type::cuda; }

// RAM + swap of the machine in bytes (0 when unknown). A host allocation larger than that cannot
// be used: with Linux's overcommit it would "succeed" and the process be killed once the pages
// are touched, and sanitizer allocators abort on it. Refusing it is a clear ditto::Error instead.
std::size_t host_memory_bytes() {
  static const std::size_t total = [] {
    struct sysinfo si {};
    if (::sysinfo(&si) != 0) return std::size_t{0};
    return static_cast<std::size_t>(si.totalram + si.totalswap) * si.mem_unit;
  }();
  return total;
}
std::size_t rounded(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

// Freed host blocks by rounded size, for reuse (kernels/device_memory.h says why). A leaked
// singleton: storages freed during static destruction must still find it.
class HostCache {
 public:
  static constexpr std::size_t kMinBlock = std::size_t{256} << 10;

  static HostCache& get() {
    static HostCache* c = new HostCache();  // NOLINT: never destroyed (see above)
    return *c;
  }
  void* take(std::size_t size) {
    if (!enabled_ || size < kMinBlock) return nullptr;
    std::lock_guard<std::mutex> lock(m_);
    auto it = free_.find(size);
    if (it == free_.end()) return nullptr;
    void* p = it->second;
    free_.erase(it);
    bytes_ -= size;
    return p;
  }
  // Keeps p when there is room; false: the caller frees it.
  bool put(void* p, std::size_t size) {
    if (!enabled_ || size < kMinBlock) return false;
    std::lock_guard<std::mutex> lock(m_);
    if (bytes_ + size > limit_) return false;
    free_.emplace(size, p);
    bytes_ += size;
    return true;
  }
  std::size_t bytes() {
    std::lock_guard<std::mutex> lock(m_);
    return bytes_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(m_);
    for (auto& [size, p] : free_) std::free(p);
    free_.clear();
    bytes_ = 0;
  }

 private:
  HostCache() {
#if defined(__SANITIZE_ADDRESS__)
    enabled_ = false;
#else
    const char* env = std::getenv("DITTO_HOST_CACHE");
    enabled_ = env == nullptr || std::strcmp(env, "0") != 0;
#endif
    const std::size_t ram = host_memory_bytes();
    limit_ =
        std::min<std::size_t>(std::size_t{1} << 30, ram == 0 ? std::size_t{1} << 30 : ram / 16);
  }
  std::mutex m_;
  std::unordered_multimap<std::size_t, void*> free_;  // rounded size -> block
  std::size_t bytes_ = 0, limit_ = 0;
  bool enabled_ = true;
};

}  // namespace

std::size_t host_cache_bytes() { return HostCache::get().bytes(); }
void release_host_cache() { HostCache::get().release(); }

void* device_alloc(Device d, std::size_t bytes) {
  if (bytes == 0) return nullptr;
  profile::note_alloc(bytes);  // the profiler's byte count (core/profiler.h)
  if (host_side(d)) {
    const std::size_t limit = host_memory_bytes();
    DITTO_CHECK(limit == 0 || bytes <= limit, "allocate: out of memory: ", bytes,
                " bytes requested on ", device_name(d), ", more than this machine's RAM + swap (",
                limit, " bytes)");
    // 64-byte alignment: a cache line and a full AVX-512 vector.
    const std::size_t size = rounded(bytes);
    if (void* cached = HostCache::get().take(size)) return cached;
    void* p = std::aligned_alloc(64, size);
    DITTO_CHECK(p != nullptr, "allocate: out of memory allocating ", bytes, " bytes on ",
                device_name(d));
    return p;
  }
#if DITTO_CUDA_COMPILED
  return cuda::alloc(d.index, bytes);
#else
  DITTO_FAIL("allocate: device ", device_name(d), " is not available (CUDA kernels not compiled)");
#endif
}

void device_free(Device d, void* p, std::size_t bytes) {
  if (p == nullptr) return;
  if (host_side(d)) {
    if (!HostCache::get().put(p, rounded(bytes))) std::free(p);
    return;
  }
#if DITTO_CUDA_COMPILED
  cuda::free(d.index, p);
#endif
}

void device_synchronize(Device d) {
  if (host_side(d)) return;
#if DITTO_CUDA_COMPILED
  cuda::synchronize(d.index);
#else
  DITTO_FAIL("synchronize: device ", device_name(d),
             " is not available (CUDA kernels not compiled)");
#endif
}

void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t bytes) {
  if (bytes == 0) return;
  if (host_side(dst_dev) && host_side(src_dev)) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if DITTO_CUDA_COMPILED
  int kind = host_side(src_dev) ? 0 : (host_side(dst_dev) ? 1 : 2);
  cuda::copy(dst, src, bytes, kind);
#else
  DITTO_FAIL("copy: device ", device_name(host_side(dst_dev) ? src_dev : dst_dev),
             " is not available (CUDA kernels not compiled)");
#endif
}

bool cuda_compiled() { return DITTO_CUDA_COMPILED != 0; }

int cuda_device_count() {
#if DITTO_CUDA_COMPILED
  return cuda::device_count();
#else
  return 0;
#endif
}

bool device_present(Device d) {
  switch (d.type) {
    case Device::Type::cpu: return true;
    case Device::Type::sim: return true;
    case Device::Type::cuda: return d.index >= 0 && d.index < cuda_device_count();
  }
  return false;
}

}  // namespace ditto::kernels
