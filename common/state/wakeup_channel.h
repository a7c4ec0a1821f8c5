// Wakes waiting processes of the same server when a cache flight ends. Each
// process binds an abstract unix datagram socket named after the segment's
// instance id and its process slot; the leader sends the 32-byte cache key
// to each waiting process, without blocking. A lost datagram (a full
// socket buffer, a process being replaced) only delays the waiter to its
// next poll of the cache zone.
#pragma once

#include <cstdint>
#include <functional>

#include "common/runtime/loop.h"
#include "common/shm/cache_zone.h"

struct event;

namespace genkit {

class WakeupChannel {
 public:
  using OnKey = std::function<void(const shm::CacheKey& key)>;

  WakeupChannel(Loop& loop, uint64_t instance_id, int slot, OnKey on_key);
  ~WakeupChannel();
  WakeupChannel(const WakeupChannel&) = delete;
  WakeupChannel& operator=(const WakeupChannel&) = delete;

  bool listening() const { return fd_ >= 0; }
  // Sends `key` to every process in `processes` (its own slot included).
  void wake(const shm::WaiterSet& processes, const shm::CacheKey& key);

 private:
  static void on_readable(int fd, short, void* arg);

  uint64_t instance_id_;
  int fd_ = -1;
  event* ev_ = nullptr;
  OnKey on_key_;
};

}  // namespace genkit
