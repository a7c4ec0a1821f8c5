#include "common/state/flow_cache.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "common/shm/process_table.h"
#include "common/state/fleet_cache.h"
#include "common/shm/robust_mutex.h"

namespace genkit {

namespace {

// A failure or an uncacheable value is kept only long enough for the
// flight's waiters to read it.
constexpr int64_t kOutcomeKeepNs = 10'000'000'000;

}  // namespace

std::size_t CacheKeyHash::operator()(const shm::CacheKey& k) const {
  std::size_t h;
  std::memcpy(&h, k.bytes, sizeof h);
  return h;
}

shm::CacheKey FlowCache::key_for(std::string_view flow, JsonView input) {
  // Fetched once (OpenSSL 3 looks the algorithm up on every
  // EVP_DigestInit_ex given EVP_sha256(), a cost every cache hit would pay)
  // and one context per thread, reused.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local EVP_MD_CTX* const ctx = EVP_MD_CTX_new();
  std::string canonical = canonical_dump(input);
  shm::CacheKey key{};
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, sha256, nullptr);
  EVP_DigestUpdate(ctx, flow.data(), flow.size());
  EVP_DigestUpdate(ctx, "\n", 1);  // no flow name is a prefix of another's name + input
  EVP_DigestUpdate(ctx, canonical.data(), canonical.size());
  EVP_DigestFinal_ex(ctx, key.bytes, &len);
  return key;
}

FlowCache::FlowCache(Loop& loop, shm::CacheZone& zone, shm::CacheZone::Caller me, shm::ProcessMetrics& metrics,
                     Options options)
    : loop_(loop), zone_(zone), me_(me), metrics_(metrics), options_(options),
      scratch_(zone.max_value_bytes()),
      wakeups_(loop, options.instance_id, me.slot, [this](const shm::CacheKey& key) { on_wake(key); }) {}

// The process is going away: hand its flights back so that other processes'
// waiters lead at once. Its computations are not cancelled here (what they
// use may already be gone); their callbacks find no flight and do nothing.
FlowCache::~FlowCache() {
  auto flights = std::move(flights_);
  flights_.clear();
  for (auto& [key, f] : flights) {
    if (f->leading && f->flight_id) wakeups_.wake(zone_.abandon(key, f->flight_id), key);
    if (!f->leading && f->flight_id) zone_.leave(key, f->flight_id, me_);
  }
}

bool FlowCache::is_current(const FlightPtr& flight) const {
  auto it = flights_.find(flight->key);
  return it != flights_.end() && it->second == flight;
}

FlowCache::FlightPtr FlowCache::add_flight(const shm::CacheKey& key, Compute compute) {
  auto f = std::make_shared<Flight>();
  f->key = key;
  f->compute = std::move(compute);
  flights_[key] = f;
  return f;
}

void FlowCache::fetch(const shm::CacheKey& key, const CancelToken& cancel, Compute compute, Delivery delivery) {
  if (cancel.cancelled()) return;
  if (auto it = flights_.find(key); it != flights_.end()) {
    metrics_.cache_coalesced();
    return listen(it->second, cancel, std::move(delivery));
  }
  using L = shm::CacheZone::Lookup;
  L l = zone_.lookup(key, 0, me_, shm::monotonic_ns(), scratch_);
  if (l.kind == L::kHit) {
    std::string_view text(scratch_.data(), l.value_len);
    if (delivery.text) {
      metrics_.cache_hit();
      return delivery.text(text);
    }
    Result<Json> value = parse_value(text);
    if (value.ok()) {
      metrics_.cache_hit();
      return delivery.done(std::move(value));
    }
    l.kind = L::kUnavailable;  // compute it afresh, unrecorded
  }
  FlightPtr f = add_flight(key, std::move(compute));
  f->flight_id = l.kind == L::kJoin || l.kind == L::kLead ? l.flight_id : 0;
  f->leading = l.kind != L::kJoin;
  listen(f, cancel, std::move(delivery));
  if (f->leading) {
    metrics_.cache_miss();
    return start_compute(f);
  }
  metrics_.cache_coalesced();
  arm_poll();
}

std::optional<std::string_view> FlowCache::peek_text(const shm::CacheKey& key) {
  if (flights_.count(key)) return std::nullopt;  // being computed: fetch joins it
  int64_t len = zone_.peek(key, shm::monotonic_ns(), scratch_);
  if (len < 0) return std::nullopt;
  metrics_.cache_hit();
  return std::string_view(scratch_.data(), static_cast<std::size_t>(len));
}

void FlowCache::listen(const FlightPtr& flight, const CancelToken& cancel, Delivery delivery) {
  uint64_t id = next_listener_++;
  flight->listeners.push_back({id, std::move(delivery)});
  std::weak_ptr<Flight> weak = flight;
  CancelToken token = cancel;
  token.on_cancel([this, weak, id] { on_listener_gone(weak, id); });
}

void FlowCache::on_listener_gone(const std::weak_ptr<Flight>& weak, uint64_t id) {
  FlightPtr f = weak.lock();
  if (!f || !is_current(f)) return;
  std::erase_if(f->listeners, [id](const Listener& l) { return l.id == id; });
  if (!f->listeners.empty()) return;
  if (f->leading) {
    // Another process waits for this result: finish it for them.
    if (f->flight_id && zone_.others_wait(f->key, f->flight_id, me_)) return;
    if (f->flight_id) wakeups_.wake(zone_.abandon(f->key, f->flight_id), f->key);
  } else {
    zone_.leave(f->key, f->flight_id, me_);
  }
  flights_.erase(f->key);
  f->compute_cancel.cancel();
}

void FlowCache::start_compute(const FlightPtr& flight) {
  FlightPtr keep = flight;  // the flight outlives its compute even if it finishes (and leaves the map) at once
  keep->leading = true;
  std::weak_ptr<Flight> weak = keep;
  FlowCache::Finish finish = [this, weak](Result<Json> result) { on_computed(weak, std::move(result)); };
  if (!options_.fleet) return keep->compute(keep->compute_cancel, std::move(finish));
  options_.fleet->fetch(keep->key, keep->compute_cancel, keep->compute, std::move(finish),
                        [this, weak](const std::string& text) { complete_text(weak, text); });
}

void FlowCache::on_computed(const std::weak_ptr<Flight>& weak, Result<Json> result) {
  std::string text = result.ok() ? result->dump() : std::string();
  complete(weak, std::move(result), text);
}

void FlowCache::complete(const std::weak_ptr<Flight>& weak, Result<Json> result, const std::string& text) {
  FlightPtr f = weak.lock();
  if (!f || !is_current(f)) return;
  publish(*f, result.status(), text);
  finish_flight(f, std::move(result), text);
}

void FlowCache::complete_text(const std::weak_ptr<Flight>& weak, const std::string& text) {
  FlightPtr f = weak.lock();
  if (!f || !is_current(f)) return;
  publish(*f, Status::ok(), text);
  // Parsed only for a request that wants the result as a Json.
  bool all_text = std::all_of(f->listeners.begin(), f->listeners.end(),
                              [](const Listener& l) { return static_cast<bool>(l.delivery.text); });
  finish_flight(f, all_text ? Result<Json>(Json::null()) : parse_value(text), text);
}

void FlowCache::publish(const Flight& f, const Status& outcome, const std::string& text) {
  shm::WaiterSet woken{};
  int64_t now = shm::monotonic_ns();
  if (outcome.is_ok()) {
    if (text.size() <= zone_.max_value_bytes()) {
      woken = zone_.store(f.key, text, now, now + std::chrono::nanoseconds(options_.ttl).count());
    } else if (f.flight_id) {
      woken = zone_.uncached(f.key, f.flight_id, now + kOutcomeKeepNs);
    }
  } else if (f.flight_id == 0) {
    return;
  } else if (outcome.code() == Code::kCancelled) {
    woken = zone_.abandon(f.key, f.flight_id);
  } else {
    const Status& s = outcome;
    woken = zone_.fail(f.key, f.flight_id, static_cast<int32_t>(s.code()), static_cast<int32_t>(s.retry_after_s()),
                       s.message(), now + kOutcomeKeepNs);
  }
  wakeups_.wake(woken, f.key);
}

void FlowCache::finish_flight(const FlightPtr& f, Result<Json> result, std::string_view text) {
  flights_.erase(f->key);
  std::vector<Listener> listeners = std::move(f->listeners);
  f->listeners.clear();
  // The last one that wants a Json takes the original; the others a copy.
  std::size_t last_json = listeners.size();
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (!result.ok() || !listeners[i].delivery.text) last_json = i;
  }
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    Delivery& d = listeners[i].delivery;
    if (result.ok() && d.text) {
      d.text(text);
    } else if (i == last_json) {
      d.done(std::move(result));
    } else {
      d.done(result.ok() ? Result<Json>(Json(result.value())) : Result<Json>(result.status()));
    }
  }
}

Result<Json> FlowCache::parse_value(std::string_view text) {
  Result<Json> value = Json::parse(text);
  if (!value.ok()) log_error("cache_value_unreadable", {{"bytes", text.size()}});
  return value;
}

// A waiting flight re-reads the zone: its result, its error, or a leader
// that is gone.
void FlowCache::resolve(const FlightPtr& f) {
  using L = shm::CacheZone::Lookup;
  int64_t now = shm::monotonic_ns();
  L l = zone_.lookup(f->key, f->flight_id, me_, now, scratch_);
  switch (l.kind) {
    case L::kHit: {
      // A copy: a listener's delivery may look something else up.
      std::string text(scratch_.data(), l.value_len);
      bool need_json = std::any_of(f->listeners.begin(), f->listeners.end(),
                                   [](const Listener& x) { return !x.delivery.text; });
      Result<Json> value = need_json ? parse_value(text) : Result<Json>(Json());
      if (value.ok()) return finish_flight(f, std::move(value), text);
      f->flight_id = 0;
      return start_compute(f);
    }
    case L::kFailed: {
      Status s(static_cast<Code>(l.error_code), std::string(scratch_.data(), l.value_len));
      return finish_flight(f, std::move(s).with_retry_after(l.retry_after_s), {});
    }
    case L::kUncached:
    case L::kUnavailable:
      f->flight_id = 0;
      return start_compute(f);
    case L::kLead:  // the flight was abandoned: this process runs the next one
      f->flight_id = l.flight_id;
      return start_compute(f);
    case L::kJoin:  // another process took the flight over
      f->flight_id = l.flight_id;
      return;
    case L::kWait: {
      bool stale = now - l.flight_started_ns > std::chrono::nanoseconds(options_.stale_flight).count();
      if (!stale && shm::process_alive(l.leader_pid)) return;
      uint64_t next = 0;
      if (!zone_.take_over(f->key, f->flight_id, me_, now, &next)) return;  // someone else did; next poll sees it
      log_warning("cache_flight_taken_over", {{"leader_pid", l.leader_pid}, {"stale", stale}});
      f->flight_id = next;
      return start_compute(f);
    }
  }
}

void FlowCache::on_wake(const shm::CacheKey& key) {
  auto it = flights_.find(key);
  if (it == flights_.end() || it->second->leading) return;
  FlightPtr f = it->second;
  resolve(f);
}

void FlowCache::arm_poll() {
  if (!poll_) poll_ = loop_.after(options_.poll, [this] { on_poll(); });
  else if (!poll_->pending()) poll_->start(options_.poll);
}

void FlowCache::on_poll() {
  std::vector<FlightPtr> waiting;
  for (auto& [_, f] : flights_) {
    if (!f->leading) waiting.push_back(f);
  }
  for (const FlightPtr& f : waiting) {
    if (is_current(f) && !f->leading) resolve(f);
  }
  for (auto& [_, f] : flights_) {
    if (!f->leading) return arm_poll();
  }
}

}  // namespace genkit
