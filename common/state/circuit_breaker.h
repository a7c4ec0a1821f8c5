// The circuit breaker as a model call sees it: admit() before a call goes
// upstream, record() with its outcome. The state is the segment's, so every
// process opens and closes together. Disabled (CB_ENABLED=false, or no
// segment), it admits everything.
#pragma once

#include <cstdint>

#include "common/config.h"
#include "common/shm/breaker_zone.h"
#include "common/status.h"

namespace genkit {

class CircuitBreaker {
 public:
  struct Permit {
    bool allowed = true;
    bool probe = false;
    bool tracked = false;       // the outcome must be recorded
    int64_t retry_after_s = 0;  // refused: when to retry
  };

  CircuitBreaker(shm::BreakerZone* zone, const Config& config);

  Permit admit();
  // Success closes a half-open circuit and resets the failure count; an
  // upstream failure counts toward opening it; other outcomes (a bad
  // request of ours) decide nothing.
  void record(const Permit& permit, const Status& outcome);
  // The call ended without an outcome (cancelled).
  void abandon(const Permit& permit);

  bool enabled() const { return zone_ != nullptr; }
  shm::CircuitState state();

 private:
  shm::BreakerZone* zone_;  // null: disabled
  shm::BreakerPolicy policy_;
  int32_t pid_;
};

}  // namespace genkit
