#include "common/state/circuit_breaker.h"

#include <unistd.h>

#include <algorithm>

#include "common/log.h"
#include "common/models/upstream.h"
#include "common/shm/process_table.h"

namespace genkit {

CircuitBreaker::CircuitBreaker(shm::BreakerZone* zone, const Config& config)
    : zone_(config.cb_enabled ? zone : nullptr), pid_(getpid()) {
  policy_.failure_threshold = static_cast<uint32_t>(std::max(1, config.cb_failure_threshold));
  policy_.recovery_ns = static_cast<int64_t>(config.cb_recovery_timeout * 1e9);
  // A probe may take as long as a model call; then the next caller probes.
  policy_.probe_lease_ns = (config.llm_timeout_ms + 5000) * 1000000;
}

CircuitBreaker::Permit CircuitBreaker::admit() {
  Permit p;
  if (!zone_) return p;
  int64_t now = shm::monotonic_ns();
  shm::Admission a = zone_->admit(policy_, pid_, now);
  if (!a.allowed && a.probe_holder != 0 && !shm::process_alive(a.probe_holder)) {
    a = zone_->admit(policy_, pid_, now, a.probe_holder);
  }
  p.allowed = a.allowed;
  p.probe = a.probe;
  p.tracked = a.allowed;
  p.retry_after_s = a.retry_after_s;
  if (a.probe) log_info("circuit_half_open_probe");
  return p;
}

void CircuitBreaker::record(const Permit& permit, const Status& outcome) {
  if (!zone_ || !permit.tracked) return;
  shm::CircuitState before = zone_->state();
  if (outcome.is_ok()) {
    zone_->record_success(pid_, permit.probe);
  } else if (is_upstream_failure(outcome)) {
    zone_->record_failure(policy_, pid_, permit.probe, shm::monotonic_ns());
  } else {
    return abandon(permit);
  }
  shm::CircuitState after = zone_->state();
  if (after != before) {
    log_warning("circuit_state_changed", {{"from", shm::circuit_state_name(before)}, {"to", shm::circuit_state_name(after)}});
  }
}

void CircuitBreaker::abandon(const Permit& permit) {
  if (zone_ && permit.tracked && permit.probe) zone_->release_probe(pid_);
}

shm::CircuitState CircuitBreaker::state() { return zone_ ? zone_->state() : shm::CircuitState::kClosed; }

}  // namespace genkit
