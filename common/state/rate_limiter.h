// The per-client-IP rate limit (RATE_LIMIT_DEFAULT): one token bucket per
// IP for every process of the server — in the segment, or with
// STATE_BACKEND=redis in Redis for every machine (one script per decision),
// falling back to the segment's bucket whenever Redis cannot answer in time.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/net/ip_address.h"
#include "common/shm/rate_limit_zone.h"

namespace genkit {

class RedisClient;
namespace shm {
class ProcessMetrics;
}

class RateLimiter {
 public:
  using Decided = std::function<void(shm::RateDecision)>;

  // `redis` may be null (the shared-memory backend).
  RateLimiter(shm::RateLimitZone* zone, const Config& config, RedisClient* redis, shm::ProcessMetrics* metrics);

  bool enabled() const { return enabled_; }
  // "minute" for 60/minute: the period, for messages.
  const char* period_name() const;
  // Takes a token for `ip`: the decision now (shared memory), or nullopt
  // when Redis is asked — then `later` runs once with the decision, on the
  // loop. Disabled, it always allows.
  std::optional<shm::RateDecision> take(const IpBytes& ip, const Decided& later);

 private:
  shm::RateDecision take_local(const IpBytes& ip);

  bool enabled_;
  shm::RateLimitZone* zone_;  // null: no segment (nothing to limit with locally)
  RateLimit limit_;
  RedisClient* redis_;
  shm::ProcessMetrics* metrics_;
  std::string key_prefix_;    // REDIS_KEY_PREFIX + "rl:"
  std::string count_text_, period_ms_text_;
};

}  // namespace genkit
