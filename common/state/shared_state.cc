#include "common/state/shared_state.h"

#include <unistd.h>

#include "common/log.h"

namespace genkit {

namespace {

int claim_slot(shm::Segment* segment, shm::ProcessKind kind) {
  if (!segment) return -1;
  int slot = segment->processes().claim(getpid(), kind);
  if (slot < 0) log_error("shm_process_table_full", {{"slots", shm::ProcessTable::capacity()}});
  return slot;
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
      breaker_(segment ? &segment->breaker() : nullptr, config),
      rate_limiter_(segment ? &segment->rate_limits() : nullptr, config) {
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
  cache_ = std::make_unique<FlowCache>(loop, segment->cache(), shm::CacheZone::Caller{getpid(), slot_}, metrics_, o);
}

void SharedState::beat() {
  segment_->processes().stamp_heartbeat(slot_);
  heartbeat_->start(std::chrono::milliseconds(250));
}

SharedState::~SharedState() {
  heartbeat_.reset();
  cache_.reset();
  if (segment_ && slot_ >= 0) segment_->processes().release(getpid());
}

}  // namespace genkit
