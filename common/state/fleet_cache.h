// The fleet's copy of the response cache, in Redis (STATE_BACKEND=redis):
// the second level behind the shared-memory cache. FlowCache hands it the
// computation of a key its machine misses; a Redis hit (one GET) finishes
// it without running the flow; a miss either leads — sets a short lock key naming this
// process, runs the flow, stores the result with a TTL and unlocks — or, if
// another machine leads, waits for its result by polling (5 ms, doubling,
// at most 100 ms apart) and takes the lead itself if the lock goes away
// without a result (its leader failed, or died and the lock expired). A
// lock held by a process of this machine is a leftover (see
// wait_or_release) and is released at once. A leader renews its lock
// while the flow runs. Whenever Redis cannot answer in time the flow
// simply runs here (counted as a fallback).
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/config.h"
#include "common/runtime/loop.h"
#include "common/state/flow_cache.h"

namespace genkit {

class RedisClient;

class FleetCache {
 public:
  FleetCache(Loop& loop, RedisClient& redis, shm::ProcessMetrics& metrics, const Config& config, std::string leader_id);
  ~FleetCache();
  FleetCache(const FleetCache&) = delete;
  FleetCache& operator=(const FleetCache&) = delete;

  // A result found in Redis: its text as stored, checked to be JSON.
  using Hit = std::function<void(const std::string& text)>;

  // Computes `key` for the first level: from Redis (`hit`), by `compute` or
  // by another machine (`finish`). One of them runs, once, unless `cancel`
  // fires first.
  void fetch(const shm::CacheKey& key, const CancelToken& cancel, FlowCache::Compute compute,
             FlowCache::Finish finish, Hit hit);

 private:
  struct Fetch {
    std::string value_key, lock_key;
    CancelToken cancel;
    FlowCache::Compute compute;
    FlowCache::Finish finish;
    Hit hit;
    bool leading = false;
    bool holder_checked = false;  // wait_or_release looks once
    std::chrono::milliseconds poll{0};
    std::unique_ptr<Timer> timer;  // waiting: the next look; leading: the next lock renewal
  };

  void look(uint64_t id);   // a plain GET: hits cost no script
  void claim(uint64_t id);  // a miss: the lookup-or-lock script
  void deliver(uint64_t id, std::string text);  // a hit, once checked
  void lead(uint64_t id);
  void wait_or_release(uint64_t id);  // locked: by whom?
  void wait(uint64_t id);
  void renew(uint64_t id);
  // Redis could not help: the flow runs here, nothing is shared.
  void run_locally(uint64_t id);
  void start(uint64_t id);  // runs the flow
  void on_computed(uint64_t id, Result<Json> result);
  void on_cancelled(uint64_t id);
  Fetch* find(uint64_t id);

  Loop& loop_;
  RedisClient& redis_;
  shm::ProcessMetrics& metrics_;
  std::string prefix_;
  std::string leader_id_;     // this process, fleet-wide: <instance>:<pid>
  std::string machine_;       // "<instance>:": what every lock of this machine starts with
  std::string ttl_ms_;        // CACHE_TTL
  std::size_t max_value_bytes_;  // CACHE_MAX_ENTRY_BYTES
  std::unordered_map<uint64_t, std::unique_ptr<Fetch>> fetches_;
  uint64_t next_id_ = 1;
};

}  // namespace genkit
