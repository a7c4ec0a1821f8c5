#include "common/state/circuit_breaker.h"

#include <unistd.h>

#include <algorithm>

#include "common/log.h"
#include "common/models/upstream.h"
#include "common/redis/redis_client.h"
#include "common/shm/metrics.h"
#include "common/shm/process_table.h"
#include "common/state/redis_replies.h"
#include "common/state/redis_scripts.h"

namespace genkit {

namespace {

constexpr std::chrono::milliseconds kRefreshEvery{1000};

}  // namespace

CircuitBreaker::CircuitBreaker(Loop& loop, shm::BreakerZone* zone, const Config& config, RedisClient* redis,
                               shm::ProcessMetrics* metrics, std::string caller_id)
    : enabled_(config.cb_enabled && (zone || redis)),
      zone_(zone),
      pid_(getpid()),
      redis_(enabled_ ? redis : nullptr),
      metrics_(metrics),
      key_(config.redis_key_prefix + "breaker"),
      caller_id_(std::move(caller_id)) {
  policy_.failure_threshold = static_cast<uint32_t>(std::max(1, config.cb_failure_threshold));
  policy_.recovery_ns = static_cast<int64_t>(config.cb_recovery_timeout * 1e9);
  // A probe may take as long as a model call; then the next caller probes.
  policy_.probe_lease_ns = (config.llm_timeout_ms + 5000) * 1000000;
  int64_t recovery_ms = policy_.recovery_ns / 1000000;
  int64_t lease_ms = policy_.probe_lease_ns / 1000000;
  threshold_text_ = std::to_string(policy_.failure_threshold);
  recovery_ms_text_ = std::to_string(recovery_ms);
  lease_ms_text_ = std::to_string(lease_ms);
  // The state outlives an open period and a probe's lease, then goes (closed).
  ttl_ms_text_ = std::to_string(recovery_ms + lease_ms + 60000);
  if (redis_) {
    refresh_timer_ = std::make_unique<Timer>(loop.base(), [this] { refresh(); });
    refresh_timer_->start(kRefreshEvery);
  }
}

CircuitBreaker::~CircuitBreaker() = default;

CircuitBreaker::Permit CircuitBreaker::admit_local() {
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

std::optional<CircuitBreaker::Permit> CircuitBreaker::admit(const Admitted& later) {
  if (!enabled_) return Permit{};
  if (!redis_) return admit_local();
  bool sent = redis_->run_script(redis_scripts::kBreakerAdmit, {key_},
                                 {recovery_ms_text_, caller_id_, lease_ms_text_, ttl_ms_text_},
                                 [this, later](const redisReply* r) {
    std::optional<redis_replies::BreakerAdmission> admission = redis_replies::breaker_admission(r);
    if (!admission) {
      if (r) redis_->reply_invalid("the breaker's admission script's answer is not 4 integers ending in a state");
      if (metrics_) metrics_->redis_fallback(shm::RedisDecision::kBreaker);
      fleet_state_seen(std::nullopt);
      return later(admit_local());
    }
    fleet_state_seen(admission->state);
    Permit p;
    p.allowed = admission->allowed;
    p.probe = admission->probe;
    p.tracked = p.allowed;
    p.fleet = true;
    p.retry_after_s = admission->retry_after_s;
    if (p.probe) log_info("circuit_half_open_probe", {{"scope", "fleet"}});
    later(p);
  });
  if (sent) return std::nullopt;
  if (metrics_) metrics_->redis_fallback(shm::RedisDecision::kBreaker);
  fleet_state_seen(std::nullopt);
  return admit_local();
}

void CircuitBreaker::record(const Permit& permit, const Status& outcome) {
  if (!enabled_ || !permit.tracked) return;
  if (!permit.fleet) return record_local(permit, outcome);
  bool ok = outcome.is_ok();
  if (!ok && !is_upstream_failure(outcome)) return abandon(permit);
  // (Unanswered, the outcome is lost to the fleet: the failure count is a
  // count of consecutive failures, and the next one counts again.)
  bool sent = redis_->run_script(redis_scripts::kBreakerRecord, {key_},
                     {ok ? "ok" : "fail", threshold_text_, permit.probe ? "1" : "0", caller_id_, ttl_ms_text_},
                     [this](const redisReply* r) {
    std::optional<shm::CircuitState> state = redis_replies::breaker_recorded(r);
    if (!state) {
      if (r) redis_->reply_invalid("the breaker's record script's answer is not a state");
      return;
    }
    fleet_state_seen(state);
  });
  if (!sent) {
    // Redis went away during the call: this machine's breaker counts it
    // (as a plain call: the fleet's probe is not this machine's).
    Permit local = permit;
    local.fleet = local.probe = false;
    return record_local(local, outcome);
  }
  // Out before this call's answer: a client told of the failure that opened
  // the circuit must find it open on every machine.
  redis_->flush();
}

void CircuitBreaker::record_local(const Permit& permit, const Status& outcome) {
  if (!zone_) return;
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
  if (!enabled_ || !permit.tracked || !permit.probe) return;
  if (!permit.fleet) {
    if (zone_) zone_->release_probe(pid_);
    return;
  }
  redis_->run_script(redis_scripts::kBreakerRelease, {key_}, {caller_id_}, [](const redisReply*) {});
}

void CircuitBreaker::fleet_state_seen(std::optional<shm::CircuitState> s) {
  if (s && fleet_state_ && *s != *fleet_state_) {
    log_warning("circuit_state_changed", {{"from", shm::circuit_state_name(*fleet_state_)},
                                          {"to", shm::circuit_state_name(*s)},
                                          {"scope", "fleet"}});
  }
  fleet_state_ = s;
  if (zone_) zone_->set_fleet_state(s);
}

// Another machine may open or close the fleet's circuit while this process
// makes no model call: /ready, /metrics and gRPC health follow it.
void CircuitBreaker::refresh() {
  refresh_timer_->start(kRefreshEvery);
  bool sent = redis_->send({"HGET", key_, "state"}, [this](const redisReply* r) {
    std::optional<shm::CircuitState> s = redis_replies::breaker_field(r);
    if (!s && r) redis_->reply_invalid("the breaker's state field is not 0, 1 or 2");
    fleet_state_seen(s);
  });
  if (!sent) fleet_state_seen(std::nullopt);
}

shm::CircuitState CircuitBreaker::state() {
  if (fleet_state_) return *fleet_state_;
  return zone_ ? zone_->state() : shm::CircuitState::kClosed;
}

}  // namespace genkit
