#include "common/state/rate_limiter.h"

#include <hiredis/hiredis.h>

#include "common/redis/redis_client.h"
#include "common/shm/metrics.h"
#include "common/state/redis_scripts.h"

namespace genkit {

RateLimiter::RateLimiter(shm::RateLimitZone* zone, const Config& config, RedisClient* redis,
                         shm::ProcessMetrics* metrics)
    : enabled_(config.rate_limit_enabled && (zone || redis)),
      zone_(zone),
      limit_(config.rate_limit),
      redis_(redis),
      metrics_(metrics),
      key_prefix_(config.redis_key_prefix + "rl:"),
      count_text_(std::to_string(config.rate_limit.count)),
      period_ms_text_(std::to_string(config.rate_limit.period_seconds * 1000)) {}

const char* RateLimiter::period_name() const {
  switch (limit_.period_seconds) {
    case 1: return "second";
    case 60: return "minute";
    case 3600: return "hour";
    default: return "day";
  }
}

shm::RateDecision RateLimiter::take_local(const IpBytes& ip) {
  if (!zone_) return {};
  return zone_->take(ip, limit_.count, limit_.period_seconds, shm::monotonic_ns());
}

std::optional<shm::RateDecision> RateLimiter::take(const IpBytes& ip, const Decided& later) {
  if (!enabled_) return shm::RateDecision{};
  if (!redis_) return take_local(ip);
  std::string key = key_prefix_ + ip_to_string(ip);
  bool sent = redis_->run_script(redis_scripts::kTakeToken, {key}, {count_text_, period_ms_text_},
                                 [this, ip, later](const redisReply* r) {
    bool valid = r && r->type == REDIS_REPLY_ARRAY && r->elements == 3;
    for (std::size_t i = 0; valid && i < 3; ++i) valid = r->element[i]->type == REDIS_REPLY_INTEGER;
    if (!valid) {
      if (r) redis_->reply_invalid("the rate-limit script's answer is not 3 integers");
      if (metrics_) metrics_->redis_fallback(shm::RedisDecision::kRateLimit);
      return later(take_local(ip));
    }
    shm::RateDecision d;
    d.allowed = r->element[0]->integer == 1;
    d.limit = limit_.count;
    d.remaining = std::max<long long>(0, r->element[1]->integer);
    d.retry_after_s = d.allowed ? 0 : std::max<long long>(1, (r->element[2]->integer + 999) / 1000);
    later(d);
  });
  if (sent) return std::nullopt;
  if (metrics_) metrics_->redis_fallback(shm::RedisDecision::kRateLimit);
  return take_local(ip);
}

}  // namespace genkit
