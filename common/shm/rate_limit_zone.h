// Token buckets per client IP, shared by every process: `count` tokens per
// `period`, one taken per request. The table is split into stripes, each a
// robust mutex over a fixed array of buckets; a client's bucket lives in a
// short probe window of its stripe. When the window is full, the bucket idle
// the longest is evicted (a bucket that has refilled completely carries no
// information, so it goes first). Tokens are fixed point (millionths), so
// no floating point state lives in the segment.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "common/shm/robust_mutex.h"

namespace genkit::shm {

using IpKey = std::array<uint8_t, 16>;  // IPv6, or IPv4-mapped IPv6

struct TokenBucket {
  IpKey ip;
  uint32_t used;
  uint32_t pad;
  int64_t micro_tokens;
  int64_t last_ns;  // monotonic: last refill
};

struct alignas(64) RateLimitStripe {
  RobustMutex mu;
};

struct RateLimitHeader {
  uint32_t stripes;
  uint32_t buckets_per_stripe;
  uint64_t seed;
  uint64_t evictions;
};

struct RateDecision {
  bool allowed = true;
  int64_t limit = 0;
  int64_t remaining = 0;      // whole tokens left after this request
  int64_t retry_after_s = 0;  // when refused: seconds until the next token
};

class RateLimitZone {
 public:
  static std::size_t bytes(uint32_t buckets);
  static Status init(void* at, uint32_t buckets, uint64_t seed);
  explicit RateLimitZone(void* at);

  // Takes one token from ip's bucket (count tokens per period_s seconds).
  RateDecision take(const IpKey& ip, int64_t count, int64_t period_s, int64_t now_ns);

  uint32_t buckets() const { return header_->stripes * header_->buckets_per_stripe; }
  uint64_t evictions() const;

 private:
  struct StripeRef {
    RateLimitZone* zone;
    uint32_t stripe;
  };
  static void repair(void* stripe_ref);

  RateLimitHeader* header_;
  RateLimitStripe* stripes_;
  TokenBucket* buckets_;
};

}  // namespace genkit::shm
