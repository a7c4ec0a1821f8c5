// Counters in shared memory. Each process writes only the counters of its
// own slot, from one thread (single writer: a relaxed load+store, no bus
// lock; a multi-threaded process must use bump_shared); any process
// reads every slot with relaxed loads and sums them. std::atomic_ref keeps
// the fields plain, trivially copyable integers in the segment.
#pragma once

#include <atomic>
#include <cstdint>

namespace genkit::shm {

inline void bump(uint64_t& counter, uint64_t n = 1) {
  std::atomic_ref<uint64_t> r(counter);
  r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline void add_gauge(int64_t& gauge, int64_t n) {
  std::atomic_ref<int64_t> r(gauge);
  r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

template <typename T>
T read_relaxed(const T& field) {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}

template <typename T>
void write_relaxed(T& field, T value) {
  std::atomic_ref<T>(field).store(value, std::memory_order_relaxed);
}

// Counters shared by all processes (several writers): a real atomic add.
inline void bump_shared(uint64_t& counter, uint64_t n = 1) {
  std::atomic_ref<uint64_t>(counter).fetch_add(n, std::memory_order_relaxed);
}

inline void add_gauge_shared(int64_t& gauge, int64_t n) {
  std::atomic_ref<int64_t>(gauge).fetch_add(n, std::memory_order_relaxed);
}

}  // namespace genkit::shm
