// The circuit breaker's one state for every process: closed → (threshold
// consecutive failures) → open → (recovery timeout, monotonic) → half-open,
// where exactly one call, the probe, is let through across all processes;
// its success closes the circuit, its failure opens it again. A probe whose
// process died, or that outlived its lease, is given to the next caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/shm/robust_mutex.h"

namespace genkit::shm {

enum class CircuitState : uint32_t { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

struct BreakerState {
  RobustMutex mu;
  uint32_t state;                 // CircuitState
  uint32_t consecutive_failures;
  int64_t opened_ns;              // monotonic, when it last opened
  int32_t probe_pid;              // half-open: who holds the probe (0: nobody)
  uint32_t fleet_state;           // STATE_BACKEND=redis: 1 + the state last seen in Redis; 0: none (read relaxed)
  int64_t probe_deadline_ns;
  uint64_t transitions[3];        // into closed, open, half-open (read relaxed)
};

struct BreakerPolicy {
  uint32_t failure_threshold = 5;
  int64_t recovery_ns = 30'000'000'000;
  int64_t probe_lease_ns = 120'000'000'000;  // a probe's call can take up to LLM_TIMEOUT
};

struct Admission {
  bool allowed = true;
  bool probe = false;          // this call decides the half-open circuit
  int64_t retry_after_s = 0;   // refused: seconds until a call may be let through
  int32_t probe_holder = 0;    // refused in half-open: who probes (the caller may check it is alive)
};

class BreakerZone {
 public:
  static std::size_t bytes() { return sizeof(BreakerState); }
  static Status init(void* at);
  explicit BreakerZone(void* at) : s_(static_cast<BreakerState*>(at)) {}

  // Whether a call may go upstream now. `dead_holder`: a probe holder the
  // caller found dead; its probe is handed over.
  Admission admit(const BreakerPolicy& policy, int32_t pid, int64_t now_ns, int32_t dead_holder = 0);
  void record_success(int32_t pid, bool probe);
  void record_failure(const BreakerPolicy& policy, int32_t pid, bool probe, int64_t now_ns);
  // A probe that ended without an outcome (cancelled): the next caller probes.
  void release_probe(int32_t pid);

  CircuitState state();
  uint64_t transitions(CircuitState into) const;
  // STATE_BACKEND=redis: the fleet's state as a process last saw it in
  // Redis (what /metrics shows); nullopt while Redis is not answering.
  void set_fleet_state(std::optional<CircuitState> s);
  std::optional<CircuitState> fleet_state() const;

 private:
  void move_to(CircuitState next, int64_t now_ns);
  static void repair(void* zone);

  BreakerState* s_;
};

const char* circuit_state_name(CircuitState s);

}  // namespace genkit::shm
