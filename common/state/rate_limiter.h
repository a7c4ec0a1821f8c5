// The per-client-IP rate limit (RATE_LIMIT_DEFAULT): one token bucket per
// IP for every process of the server — in the segment, or with
// STATE_BACKEND=redis in Redis for every machine, falling back to the
// segment's bucket whenever Redis cannot answer in time. The decisions a
// loop turn asks for go to Redis together, as one script call: per decision
// Redis then does a GET and a SET, not a whole command.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/net/ip_address.h"
#include "common/runtime/loop.h"
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
  RateLimiter(Loop& loop, shm::RateLimitZone* zone, const Config& config, RedisClient* redis,
              shm::ProcessMetrics* metrics);
  ~RateLimiter();

  bool enabled() const { return enabled_; }
  // "minute" for 60/minute: the period, for messages.
  const char* period_name() const;
  // Takes a token for `ip`: the decision now (shared memory), or nullopt
  // when Redis is asked — then `later` runs once with the decision, on the
  // loop. Disabled, it always allows.
  std::optional<shm::RateDecision> take(const IpBytes& ip, Decided later);

 private:
  struct Asked {
    IpBytes ip;
    Decided later;
  };
  shm::RateDecision take_local(const IpBytes& ip);
  void send_batch();  // the decisions asked this loop turn, to Redis at once
  void decide_locally(std::vector<Asked>& asked);

  bool enabled_;
  shm::RateLimitZone* zone_;  // null: no segment (nothing to limit with locally)
  RateLimit limit_;
  RedisClient* redis_;
  shm::ProcessMetrics* metrics_;
  std::string key_prefix_;    // REDIS_KEY_PREFIX + "rl:"
  std::string count_text_, period_ms_text_;
  std::vector<Asked> batch_;
  IpBytes last_ip_{};      // the key of the last client asked for (a busy client asks again and again)
  std::string last_key_;
  std::vector<std::string> batch_keys_;
  std::unique_ptr<Timer> send_timer_;  // at the end of the loop turn
};

}  // namespace genkit
