#include "common/shm/breaker_zone.h"

#include <cstring>
#include <new>

#include "common/shm/counters.h"

namespace genkit::shm {

const char* circuit_state_name(CircuitState s) {
  switch (s) {
    case CircuitState::kClosed: return "closed";
    case CircuitState::kOpen: return "open";
    case CircuitState::kHalfOpen: return "half_open";
  }
  return "closed";
}

Status BreakerZone::init(void* at) {
  std::memset(at, 0, sizeof(BreakerState));
  auto* s = new (at) BreakerState{};
  return init_robust_mutex(&s->mu);
}

void BreakerZone::move_to(CircuitState next, int64_t now_ns) {
  if (s_->state == static_cast<uint32_t>(next)) return;
  if (next == CircuitState::kOpen) s_->opened_ns = now_ns;
  if (next != CircuitState::kHalfOpen) s_->probe_pid = 0;
  if (next == CircuitState::kClosed) s_->consecutive_failures = 0;
  fault_point("breaker.transition");
  s_->state = static_cast<uint32_t>(next);
  bump_shared(s_->transitions[static_cast<uint32_t>(next)]);
}

Admission BreakerZone::admit(const BreakerPolicy& policy, int32_t pid, int64_t now_ns, int32_t dead_holder) {
  Admission a;
  ShmLock lock(&s_->mu, &BreakerZone::repair, this);
  if (!lock.held()) return a;
  auto state = static_cast<CircuitState>(s_->state);
  if (state == CircuitState::kClosed) return a;
  if (state == CircuitState::kOpen) {
    int64_t left = s_->opened_ns + policy.recovery_ns - now_ns;
    if (left > 0) {
      a.allowed = false;
      a.retry_after_s = (left + 999999999) / 1000000000;
      return a;
    }
    move_to(CircuitState::kHalfOpen, now_ns);
  }
  // Half-open: one probe at a time.
  bool free = s_->probe_pid == 0 || now_ns >= s_->probe_deadline_ns ||
              (dead_holder != 0 && s_->probe_pid == dead_holder);
  if (!free) {
    a.allowed = false;
    a.retry_after_s = 1;
    a.probe_holder = s_->probe_pid;
    return a;
  }
  s_->probe_pid = pid;
  s_->probe_deadline_ns = now_ns + policy.probe_lease_ns;
  a.probe = true;
  return a;
}

void BreakerZone::record_success(int32_t pid, bool probe) {
  ShmLock lock(&s_->mu, &BreakerZone::repair, this);
  if (!lock.held()) return;
  auto state = static_cast<CircuitState>(s_->state);
  if (state == CircuitState::kClosed) {
    s_->consecutive_failures = 0;
  } else if (state == CircuitState::kHalfOpen && probe && s_->probe_pid == pid) {
    move_to(CircuitState::kClosed, 0);
  }
  // Open: a call let through before the circuit opened proves nothing now.
}

void BreakerZone::record_failure(const BreakerPolicy& policy, int32_t pid, bool probe, int64_t now_ns) {
  ShmLock lock(&s_->mu, &BreakerZone::repair, this);
  if (!lock.held()) return;
  auto state = static_cast<CircuitState>(s_->state);
  if (state == CircuitState::kClosed) {
    if (++s_->consecutive_failures >= policy.failure_threshold) move_to(CircuitState::kOpen, now_ns);
  } else if (state == CircuitState::kHalfOpen && probe && s_->probe_pid == pid) {
    move_to(CircuitState::kOpen, now_ns);
  }
}

void BreakerZone::release_probe(int32_t pid) {
  ShmLock lock(&s_->mu, &BreakerZone::repair, this);
  if (!lock.held()) return;
  if (s_->state == static_cast<uint32_t>(CircuitState::kHalfOpen) && s_->probe_pid == pid) s_->probe_pid = 0;
}

CircuitState BreakerZone::state() {
  return static_cast<CircuitState>(read_relaxed(s_->state) % 3);
}

uint64_t BreakerZone::transitions(CircuitState into) const {
  return read_relaxed(s_->transitions[static_cast<uint32_t>(into)]);
}

// Every field is a word of its own: a dead owner can only leave an unknown
// state (closed again) or a probe that nobody will finish (freed).
void BreakerZone::repair(void* zone) {
  BreakerState* s = static_cast<BreakerZone*>(zone)->s_;
  if (s->state > static_cast<uint32_t>(CircuitState::kHalfOpen)) s->state = 0;
  if (s->state != static_cast<uint32_t>(CircuitState::kHalfOpen)) s->probe_pid = 0;
}

void BreakerZone::set_fleet_state(std::optional<CircuitState> s) {
  write_relaxed(s_->fleet_state, s ? static_cast<uint32_t>(*s) + 1 : 0u);
}

std::optional<CircuitState> BreakerZone::fleet_state() const {
  uint32_t v = read_relaxed(s_->fleet_state);
  if (v == 0 || v > 3) return std::nullopt;
  return static_cast<CircuitState>(v - 1);
}

}  // namespace genkit::shm
