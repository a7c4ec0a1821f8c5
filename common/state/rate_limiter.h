// The per-client-IP rate limit (RATE_LIMIT_DEFAULT) over the segment's token
// buckets: one bucket per IP for every process of the server.
#pragma once

#include "common/config.h"
#include "common/net/ip_address.h"
#include "common/shm/rate_limit_zone.h"

namespace genkit {

class RateLimiter {
 public:
  RateLimiter(shm::RateLimitZone* zone, const Config& config)
      : zone_(config.rate_limit_enabled ? zone : nullptr), limit_(config.rate_limit) {}

  bool enabled() const { return zone_ != nullptr; }
  // "minute" for 60/minute: the period, for messages.
  const char* period_name() const {
    switch (limit_.period_seconds) {
      case 1: return "second";
      case 60: return "minute";
      case 3600: return "hour";
      default: return "day";
    }
  }
  // Takes a token for `ip`; disabled, it always allows.
  shm::RateDecision take(const IpBytes& ip) {
    if (!zone_) return {};
    return zone_->take(ip, limit_.count, limit_.period_seconds, shm::monotonic_ns());
  }

 private:
  shm::RateLimitZone* zone_;
  RateLimit limit_;
};

}  // namespace genkit
