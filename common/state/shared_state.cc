#include "common/state/shared_state.h"

#include <unistd.h>

#include <cstdio>

#include "common/log.h"
#include "common/redis/redis_client.h"
#include "common/state/fleet_cache.h"
#include "common/state/redis_scripts.h"

namespace genkit {

namespace {

int claim_slot(shm::Segment* segment, shm::ProcessKind kind) {
  if (!segment) return -1;
  int slot = segment->processes().claim(getpid(), kind);
  if (slot < 0) log_error("shm_process_table_full", {{"slots", shm::ProcessTable::capacity()}});
  return slot;
}

// This process among every process of every machine: the segment's random
// instance id and the pid (the cache lock's and the breaker probe's holder).
std::string fleet_id(shm::Segment* segment) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx:%d", static_cast<unsigned long long>(segment ? segment->instance_id() : 0),
                static_cast<int>(getpid()));
  return buf;
}

std::unique_ptr<RedisClient> make_redis(Loop& loop, const Config& config, shm::ProcessMetrics& metrics) {
  if (!config.redis_backend()) return nullptr;
  Result<RedisEndpoint> endpoint = parse_redis_url(config.redis_url);  // (validated with the config)
  if (!endpoint.ok()) return nullptr;
  RedisClient::Options o;
  o.endpoint = std::move(endpoint).value();
  o.timeout = std::chrono::milliseconds(config.redis_timeout_ms);
  o.scripts = redis_scripts::sources();
  auto client = std::make_unique<RedisClient>(loop, std::move(o), metrics);
  client->start();
  return client;
}

}  // namespace

shm::SegmentSizes segment_sizes(const Config& config) {
  shm::SegmentSizes s;
  s.cache_entries = static_cast<uint32_t>(config.cache_max_size);
  s.cache_entry_bytes = static_cast<uint32_t>(config.cache_max_entry_bytes);
  s.rate_limit_buckets = static_cast<uint32_t>(config.rate_limit_table_size);
  return s;
}

SharedState::SharedState(Loop& loop, shm::Segment* segment, shm::ProcessKind kind, const Config& config)
    : segment_(segment),
      slot_(claim_slot(segment, kind)),
      metrics_(segment && slot_ >= 0 ? shm::ProcessMetrics(&segment->processes(), slot_) : shm::ProcessMetrics()),
      redis_(make_redis(loop, config, metrics_)) {
  breaker_ = std::make_unique<CircuitBreaker>(loop, segment ? &segment->breaker() : nullptr, config, redis_.get(),
                                              &metrics_, fleet_id(segment));
  rate_limiter_ = std::make_unique<RateLimiter>(loop, segment ? &segment->rate_limits() : nullptr, config,
                                                redis_.get(), &metrics_);
  if (segment && slot_ >= 0) {
    heartbeat_ = std::make_unique<Timer>(loop.base(), [this] { beat(); });
    beat();
  }
  if (!segment || !config.cache_enabled) return;
  FlowCache::Options o;
  o.ttl = std::chrono::seconds(config.cache_ttl);
  // A leader still silent after its request's deadline and a full model
  // call is stuck: a waiter takes over.
  o.stale_flight = std::chrono::seconds(config.request_timeout) + std::chrono::milliseconds(config.llm_timeout_ms);
  o.instance_id = segment->instance_id();
  if (redis_) {
    fleet_cache_ = std::make_unique<FleetCache>(loop, *redis_, metrics_, config, fleet_id(segment));
    o.fleet = fleet_cache_.get();
  }
  cache_ = std::make_unique<FlowCache>(loop, segment->cache(), shm::CacheZone::Caller{getpid(), slot_}, metrics_, o);
}

void SharedState::beat() {
  segment_->processes().stamp_heartbeat(slot_);
  heartbeat_->start(std::chrono::milliseconds(250));
}

SharedState::~SharedState() {
  heartbeat_.reset();
  cache_.reset();
  fleet_cache_.reset();
  rate_limiter_.reset();
  breaker_.reset();
  redis_.reset();
  if (segment_ && slot_ >= 0) segment_->processes().release(getpid());
}

}  // namespace genkit
