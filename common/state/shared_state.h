// What one process (an HTTP worker, grpcd) holds of the server's shared
// state: its slot in the segment's process table, and the per-process faces
// of the state — the response cache with cross-process coalescing, the
// circuit breaker, the rate limiter and its own metrics. Where the state
// lives is STATE_BACKEND's choice and nobody else's: the segment (this
// machine), or Redis (every machine sharing REDIS_URL) through this
// process's own connection, with the segment as the cache's first level and
// as the fallback whenever Redis cannot answer in time. Without a segment
// (unit tests) nothing is shared: no cache, an always-closed breaker, no
// limit, no metrics. While the process's loop turns it stamps a heartbeat
// in its slot four times a second: the supervisor kills a process silent for
// WORKER_TIMEOUT (SIGSTOPped, or spinning in a handler).
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/runtime/loop.h"
#include "common/shm/metrics.h"
#include "common/shm/segment.h"
#include "common/state/circuit_breaker.h"
#include "common/state/flow_cache.h"
#include "common/state/rate_limiter.h"

namespace genkit {

class RedisClient;
class FleetCache;

// The segment's sizes for a configuration.
shm::SegmentSizes segment_sizes(const Config& config);

class SharedState {
 public:
  SharedState(Loop& loop, shm::Segment* segment, shm::ProcessKind kind, const Config& config);
  ~SharedState();  // frees the process slot
  SharedState(const SharedState&) = delete;
  SharedState& operator=(const SharedState&) = delete;

  shm::Segment* segment() { return segment_; }
  shm::ProcessMetrics& metrics() { return metrics_; }
  FlowCache* cache() { return cache_.get(); }  // null: CACHE_ENABLED=false or no segment
  CircuitBreaker& breaker() { return *breaker_; }
  RateLimiter& rate_limiter() { return *rate_limiter_; }
  // STATE_BACKEND=redis: this process's connection (null with shm).
  RedisClient* redis() { return redis_.get(); }

 private:
  void beat();
  shm::Segment* segment_;
  int slot_ = -1;
  std::unique_ptr<Timer> heartbeat_;  // stamps the slot while the loop turns
  shm::ProcessMetrics metrics_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<CircuitBreaker> breaker_;
  std::unique_ptr<RateLimiter> rate_limiter_;
  std::unique_ptr<FleetCache> fleet_cache_;
  std::unique_ptr<FlowCache> cache_;
};

}  // namespace genkit
