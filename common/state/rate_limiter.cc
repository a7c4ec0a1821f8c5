#include "common/state/rate_limiter.h"

#include "common/redis/redis_client.h"
#include "common/shm/metrics.h"
#include "common/state/redis_replies.h"
#include "common/state/redis_scripts.h"

namespace genkit {

namespace {
// A batch is sent when full even before the loop turn ends.
constexpr std::size_t kMaxBatch = 128;
}  // namespace

RateLimiter::RateLimiter(Loop& loop, shm::RateLimitZone* zone, const Config& config, RedisClient* redis,
                         shm::ProcessMetrics* metrics)
    : enabled_(config.rate_limit_enabled && (zone || redis)),
      zone_(zone),
      limit_(config.rate_limit),
      redis_(redis),
      metrics_(metrics),
      key_prefix_(config.redis_key_prefix + "rl:"),
      count_text_(std::to_string(config.rate_limit.count)),
      period_ms_text_(std::to_string(config.rate_limit.period_seconds * 1000)) {
  if (redis_) send_timer_ = std::make_unique<Timer>(loop.base(), [this] { send_batch(); });
}

RateLimiter::~RateLimiter() = default;

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

std::optional<shm::RateDecision> RateLimiter::take(const IpBytes& ip, Decided later) {
  if (!enabled_) return shm::RateDecision{};
  if (!redis_) return take_local(ip);
  if (!redis_->usable()) {
    if (metrics_) metrics_->redis_fallback(shm::RedisDecision::kRateLimit);
    return take_local(ip);
  }
  if (last_key_.empty() || ip != last_ip_) {
    last_ip_ = ip;
    last_key_ = key_prefix_ + ip_to_string(ip);
  }
  batch_.push_back({ip, std::move(later)});
  batch_keys_.push_back(last_key_);
  if (batch_.size() >= kMaxBatch) {
    send_timer_->cancel();
    send_batch();
  } else if (!send_timer_->pending()) {
    send_timer_->start(std::chrono::milliseconds(0));
  }
  return std::nullopt;
}

void RateLimiter::send_batch() {
  if (batch_.empty()) return;
  auto asked = std::make_shared<std::vector<Asked>>(std::move(batch_));
  std::vector<std::string_view> keys(batch_keys_.begin(), batch_keys_.end());
  batch_.clear();
  bool sent = redis_->run_script(redis_scripts::kTakeToken, keys, {count_text_, period_ms_text_},
                                 [this, asked](const redisReply* r) {
    std::optional<std::vector<redis_replies::TokenVerdict>> verdicts = redis_replies::token_verdicts(r, asked->size());
    if (!verdicts) {
      if (r) redis_->reply_invalid("the rate-limit script's answer is not an integer per decision");
      return decide_locally(*asked);
    }
    for (std::size_t i = 0; i < asked->size(); ++i) {
      const redis_replies::TokenVerdict& v = (*verdicts)[i];
      shm::RateDecision d;
      d.allowed = v.allowed;
      d.limit = limit_.count;
      d.remaining = v.remaining;
      d.retry_after_s = v.retry_after_s;
      (*asked)[i].later(d);
    }
  });
  batch_keys_.clear();
  if (!sent) decide_locally(*asked);
}

void RateLimiter::decide_locally(std::vector<Asked>& asked) {
  for (Asked& a : asked) {
    if (metrics_) metrics_->redis_fallback(shm::RedisDecision::kRateLimit);
    a.later(take_local(a.ip));
  }
}

}  // namespace genkit
