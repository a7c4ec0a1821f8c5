#include "common/state/fleet_cache.h"

#include "common/json_check.h"
#include "common/redis/redis_client.h"
#include "common/shm/metrics.h"
#include "common/state/redis_replies.h"
#include "common/state/redis_scripts.h"

namespace genkit {

namespace {

constexpr std::chrono::milliseconds kLockMs{10000};
constexpr std::chrono::milliseconds kRenewEvery{3000};
constexpr std::chrono::milliseconds kFirstPoll{5};
constexpr std::chrono::milliseconds kMaxPoll{100};
const std::string kLockMsText = std::to_string(kLockMs.count());

std::string hex_of(const shm::CacheKey& key) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(sizeof key.bytes * 2);
  for (uint8_t b : key.bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

}  // namespace

FleetCache::FleetCache(Loop& loop, RedisClient& redis, shm::ProcessMetrics& metrics, const Config& config,
                       std::string leader_id)
    : loop_(loop),
      redis_(redis),
      metrics_(metrics),
      prefix_(config.redis_key_prefix),
      leader_id_(std::move(leader_id)),
      machine_(leader_id_.substr(0, leader_id_.rfind(':') + 1)),
      ttl_ms_(std::to_string(int64_t{config.cache_ttl} * 1000)),
      max_value_bytes_(static_cast<std::size_t>(config.cache_max_entry_bytes)) {}

FleetCache::~FleetCache() = default;

FleetCache::Fetch* FleetCache::find(uint64_t id) {
  auto it = fetches_.find(id);
  return it == fetches_.end() ? nullptr : it->second.get();
}

void FleetCache::fetch(const shm::CacheKey& key, const CancelToken& cancel, FlowCache::Compute compute,
                       FlowCache::Finish finish, Hit hit) {
  uint64_t id = next_id_++;
  auto f = std::make_unique<Fetch>();
  std::string hex = hex_of(key);
  f->value_key = prefix_ + "cache:" + hex;
  f->lock_key = prefix_ + "lock:" + hex;
  f->cancel = cancel;
  f->compute = std::move(compute);
  f->finish = std::move(finish);
  f->hit = std::move(hit);
  fetches_.emplace(id, std::move(f));
  CancelToken token = cancel;
  token.on_cancel([this, id] { on_cancelled(id); });
  if (find(id)) look(id);
}

void FleetCache::look(uint64_t id) {
  Fetch* f = find(id);
  bool sent = redis_.send({"GET", f->value_key}, [this, id](const redisReply* r) {
    if (!find(id)) return;
    std::optional<redis_replies::CachedValue> value = redis_replies::cached_value(r);
    if (value && !value->hit) return claim(id);
    if (value) return deliver(id, std::string(value->text));
    if (r) redis_.reply_invalid("a cached value that is not a string");
    run_locally(id);
  });
  if (!sent) run_locally(id);
}

void FleetCache::claim(uint64_t id) {
  Fetch* f = find(id);
  bool sent = redis_.run_script(redis_scripts::kCacheLookup, {f->value_key, f->lock_key}, {leader_id_, kLockMsText},
                                [this, id](const redisReply* r) {
    if (!find(id)) return;
    using Verdict = redis_replies::CacheLookup::Verdict;
    std::optional<redis_replies::CacheLookup> found = redis_replies::cache_lookup(r);
    if (found && found->verdict == Verdict::kHit) return deliver(id, std::string(found->text));
    if (found && found->verdict == Verdict::kLead) return lead(id);
    if (found && found->verdict == Verdict::kWait) return wait_or_release(id);
    if (r) redis_.reply_invalid("the cache lookup script's answer is not {1,value}, {2} or {3}");
    run_locally(id);
  });
  if (!sent) run_locally(id);
}

void FleetCache::deliver(uint64_t id, std::string text) {
  if (text.size() > max_value_bytes_ || !is_json_text(text)) {
    redis_.reply_invalid("a cached value that is not JSON within CACHE_MAX_ENTRY_BYTES");
    return run_locally(id);
  }
  metrics_.redis_cache_hit();
  Hit hit = std::move(find(id)->hit);
  fetches_.erase(id);
  hit(text);
}

// A lock of this machine is never its current leader's: that is this
// process, which leads the key's flight here (FlowCache), and asks Redis
// only then. So it is a leftover — of a process that died leading the key,
// or of a lookup that reached Redis after this machine had given up waiting
// for its answer and run the flow itself — and would hold the key until it
// expires (10 s): released (if it is still that one's), then claimed again.
// Looked at once per fetch: a leftover is there before the fetch starts.
void FleetCache::wait_or_release(uint64_t id) {
  Fetch* f = find(id);
  if (f->holder_checked) return wait(id);
  f->holder_checked = true;
  bool sent = redis_.send({"GET", f->lock_key}, [this, id](const redisReply* r) {
    Fetch* f = find(id);
    if (!f) return;
    std::optional<redis_replies::CachedValue> holder = redis_replies::cached_value(r);
    if (!holder || !holder->hit || !holder->text.starts_with(machine_)) return wait(id);
    redis_.run_script(redis_scripts::kCacheUnlock, {f->lock_key}, {holder->text}, [](const redisReply*) {});
    claim(id);
  });
  if (!sent) run_locally(id);
}

void FleetCache::wait(uint64_t id) {
  Fetch* f = find(id);
  f->poll = f->poll.count() == 0 ? kFirstPoll : std::min(f->poll * 2, kMaxPoll);
  if (!f->timer) f->timer = std::make_unique<Timer>(loop_.base(), [this, id] { claim(id); });
  f->timer->start(f->poll);
}

void FleetCache::lead(uint64_t id) {
  Fetch* f = find(id);
  f->leading = true;
  f->timer = std::make_unique<Timer>(loop_.base(), [this, id] { renew(id); });
  f->timer->start(kRenewEvery);
  start(id);
}

void FleetCache::renew(uint64_t id) {
  Fetch* f = find(id);
  if (!f) return;
  // (Unanswered, the lock may expire: another machine then computes too.)
  redis_.run_script(redis_scripts::kCacheRenew, {f->lock_key}, {leader_id_, kLockMsText}, [](const redisReply*) {});
  f->timer->start(kRenewEvery);
}

void FleetCache::run_locally(uint64_t id) {
  Fetch* f = find(id);
  metrics_.redis_fallback(shm::RedisDecision::kCache);
  f->timer.reset();
  f->leading = false;
  start(id);
}

void FleetCache::start(uint64_t id) {
  Fetch* f = find(id);
  // (Moved out: the computation may finish, and the fetch go, before it returns.)
  FlowCache::Compute compute = std::move(f->compute);
  compute(f->cancel, [this, id](Result<Json> result) { on_computed(id, std::move(result)); });
}

void FleetCache::on_computed(uint64_t id, Result<Json> result) {
  Fetch* f = find(id);
  if (!f) return;
  if (f->leading) {
    std::string text = result.ok() ? result->dump() : std::string();
    if (result.ok() && text.size() <= max_value_bytes_) {
      redis_.run_script(redis_scripts::kCacheStore, {f->value_key, f->lock_key}, {text, ttl_ms_, leader_id_},
                        [](const redisReply*) {});
      redis_.flush();  // (stored before this machine answers: a client's next request anywhere hits)
    } else {
      // Errors are not cached: a waiting machine takes the lead now.
      redis_.run_script(redis_scripts::kCacheUnlock, {f->lock_key}, {leader_id_}, [](const redisReply*) {});
    }
  }
  FlowCache::Finish finish = std::move(f->finish);
  fetches_.erase(id);
  finish(std::move(result));
}

void FleetCache::on_cancelled(uint64_t id) {
  Fetch* f = find(id);
  if (!f) return;
  if (f->leading) {
    redis_.run_script(redis_scripts::kCacheUnlock, {f->lock_key}, {leader_id_}, [](const redisReply*) {});
  }
  fetches_.erase(id);
}

}  // namespace genkit
