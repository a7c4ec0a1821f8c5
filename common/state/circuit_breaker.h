// The circuit breaker as a model call sees it: admit() before a call goes
// upstream, record() with its outcome. The state is the segment's, so every
// process opens and closes together — or, with STATE_BACKEND=redis, one
// state in Redis for every machine (admission, recording and the one
// half-open probe each decided by a script), with the segment's state
// deciding whenever Redis cannot answer in time. Disabled (CB_ENABLED=false,
// or no state at all), it admits everything.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/runtime/loop.h"
#include "common/shm/breaker_zone.h"
#include "common/status.h"

namespace genkit {

class RedisClient;
namespace shm {
class ProcessMetrics;
}

class CircuitBreaker {
 public:
  struct Permit {
    bool allowed = true;
    bool probe = false;
    bool tracked = false;       // the outcome must be recorded
    bool fleet = false;         // decided in Redis: recorded there
    int64_t retry_after_s = 0;  // refused: when to retry
  };
  using Admitted = std::function<void(Permit)>;

  // `redis` may be null (the shared-memory backend); `caller_id` names this
  // process fleet-wide (the probe's holder).
  CircuitBreaker(Loop& loop, shm::BreakerZone* zone, const Config& config, RedisClient* redis,
                 shm::ProcessMetrics* metrics, std::string caller_id);
  ~CircuitBreaker();

  // The permit now (shared memory), or nullopt when Redis is asked: then
  // `later` runs once with it, on the loop.
  std::optional<Permit> admit(const Admitted& later);
  // Success closes a half-open circuit and resets the failure count; an
  // upstream failure counts toward opening it; other outcomes (a bad
  // request of ours) decide nothing.
  void record(const Permit& permit, const Status& outcome);
  // The call ended without an outcome (cancelled).
  void abandon(const Permit& permit);

  bool enabled() const { return enabled_; }
  // The fleet's state as last seen in Redis while it answers, else the segment's.
  shm::CircuitState state();

 private:
  Permit admit_local();
  void record_local(const Permit& permit, const Status& outcome);
  void fleet_state_seen(std::optional<shm::CircuitState> s);
  void refresh();

  bool enabled_;
  shm::BreakerZone* zone_;  // null: no segment
  shm::BreakerPolicy policy_;
  int32_t pid_;
  RedisClient* redis_;
  shm::ProcessMetrics* metrics_;
  std::string key_, caller_id_;
  std::string threshold_text_, recovery_ms_text_, lease_ms_text_, ttl_ms_text_;
  std::optional<shm::CircuitState> fleet_state_;
  std::unique_ptr<Timer> refresh_timer_;  // Redis: the fleet's state re-read every second
};

}  // namespace genkit
