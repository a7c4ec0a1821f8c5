#include "common/shm/rate_limit_zone.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/shm/align.h"
#include "common/shm/counters.h"

namespace genkit::shm {

namespace {

constexpr uint32_t kMaxStripes = 64;
constexpr uint32_t kProbeWindow = 8;
constexpr int64_t kMicro = 1000000;

uint32_t stripes_for(uint32_t buckets) { return std::clamp<uint32_t>(buckets / kProbeWindow, 1, kMaxStripes); }

struct Offsets {
  std::size_t stripes, buckets, total;
};

Offsets offsets(uint32_t buckets) {
  uint32_t s = stripes_for(buckets);
  uint32_t per = buckets / s;
  Offsets o{};
  o.stripes = align64(sizeof(RateLimitHeader));
  o.buckets = o.stripes + sizeof(RateLimitStripe) * s;
  o.total = o.buckets + align64(sizeof(TokenBucket) * static_cast<std::size_t>(s) * per);
  return o;
}

uint64_t hash_ip(const IpKey& ip, uint64_t seed) {
  uint64_t a, b;
  std::memcpy(&a, ip.data(), 8);
  std::memcpy(&b, ip.data() + 8, 8);
  uint64_t x = a ^ seed;
  x = (x ^ (x >> 31)) * 0x9e3779b97f4a7c15ULL + b;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 32);
}

// Tokens after refilling `b` up to `now_ns`, capped at the bucket's size.
int64_t refilled(const TokenBucket& b, int64_t capacity, int64_t count, int64_t period_ns, int64_t now_ns) {
  int64_t elapsed = std::max<int64_t>(0, now_ns - b.last_ns);
  __int128 gained = static_cast<__int128>(elapsed) * count * kMicro / period_ns;
  __int128 t = static_cast<__int128>(b.micro_tokens) + gained;
  return static_cast<int64_t>(std::min<__int128>(t, capacity));
}

// The bucket's clock once `tokens` (from refilled) are credited: it moves on
// by the time those whole micro-tokens took, keeping the fraction of the next
// one. (Moving it to now dropped that fraction on every request: a client
// asking more often than one micro-token's time never refilled at all.)
int64_t refill_clock(const TokenBucket& b, int64_t tokens, int64_t capacity, int64_t count, int64_t period_ns,
                     int64_t now_ns) {
  if (tokens >= capacity || now_ns <= b.last_ns) return std::max(b.last_ns, now_ns);
  __int128 credited = tokens - b.micro_tokens;
  return b.last_ns + static_cast<int64_t>(credited * period_ns / (static_cast<__int128>(count) * kMicro));
}

}  // namespace

std::size_t RateLimitZone::bytes(uint32_t buckets) { return offsets(buckets).total; }

Status RateLimitZone::init(void* at, uint32_t buckets, uint64_t seed) {
  Offsets o = offsets(buckets);
  std::memset(at, 0, o.buckets);
  auto* h = new (at) RateLimitHeader{};
  h->stripes = stripes_for(buckets);
  h->buckets_per_stripe = buckets / h->stripes;
  h->seed = seed;
  auto* stripes = reinterpret_cast<RateLimitStripe*>(static_cast<char*>(at) + o.stripes);
  for (uint32_t i = 0; i < h->stripes; ++i) {
    Status s = init_robust_mutex(&stripes[i].mu);
    if (!s.is_ok()) return s;
  }
  return Status::ok();
}

RateLimitZone::RateLimitZone(void* at) : header_(static_cast<RateLimitHeader*>(at)) {
  Offsets o = offsets(header_->stripes * header_->buckets_per_stripe);
  stripes_ = reinterpret_cast<RateLimitStripe*>(static_cast<char*>(at) + o.stripes);
  buckets_ = reinterpret_cast<TokenBucket*>(static_cast<char*>(at) + o.buckets);
}

uint64_t RateLimitZone::evictions() const { return read_relaxed(header_->evictions); }

RateDecision RateLimitZone::take(const IpKey& ip, int64_t count, int64_t period_s, int64_t now_ns) {
  RateDecision d;
  d.limit = count;
  d.remaining = count;
  if (count <= 0 || period_s <= 0) return d;
  const int64_t capacity = count * kMicro;
  const int64_t period_ns = period_s * 1000000000;
  uint64_t h = hash_ip(ip, header_->seed);
  uint32_t stripe = static_cast<uint32_t>(h % header_->stripes);
  uint32_t per = header_->buckets_per_stripe;
  uint32_t window = std::min(kProbeWindow, per);
  uint32_t start = static_cast<uint32_t>((h >> 32) % per);
  TokenBucket* base = buckets_ + static_cast<std::size_t>(stripe) * per;

  StripeRef ref{this, stripe};
  ShmLock lock(&stripes_[stripe].mu, &RateLimitZone::repair, &ref);
  if (!lock.held()) return d;  // fail open: a broken zone must not refuse every client

  TokenBucket* mine = nullptr;
  TokenBucket* victim = nullptr;
  int64_t victim_rank = INT64_MAX;  // a free or refilled bucket ranks lowest, then the longest idle
  for (uint32_t i = 0; i < window; ++i) {
    TokenBucket& b = base[(start + i) % per];
    if (b.used && b.ip == ip) {
      mine = &b;
      break;
    }
    int64_t rank = !b.used ? INT64_MIN : refilled(b, capacity, count, period_ns, now_ns) >= capacity ? INT64_MIN + 1
                                                                                                       : b.last_ns;
    if (rank < victim_rank) {
      victim_rank = rank;
      victim = &b;
    }
  }
  if (!mine) {
    if (victim->used && victim_rank > INT64_MIN + 1) bump_shared(header_->evictions);
    victim->used = 0;  // a dead writer leaves either the old bucket or none, never a mix
    victim->ip = ip;
    victim->micro_tokens = capacity;
    victim->last_ns = now_ns;
    fault_point("rate.new_bucket");
    victim->used = 1;
    mine = victim;
  }
  int64_t tokens = refilled(*mine, capacity, count, period_ns, now_ns);
  mine->last_ns = refill_clock(*mine, tokens, capacity, count, period_ns, now_ns);
  if (tokens >= kMicro) {
    mine->micro_tokens = tokens - kMicro;
    d.remaining = mine->micro_tokens / kMicro;
    return d;
  }
  mine->micro_tokens = tokens;
  d.allowed = false;
  d.remaining = 0;
  // ns until one whole token: (1 - tokens) × period / count, less the time
  // already carried toward the next micro-token, rounded up to seconds.
  __int128 missing = kMicro - tokens;
  __int128 micro_per_period = static_cast<__int128>(count) * kMicro;
  __int128 wait_ns = (missing * period_ns + micro_per_period - 1) / micro_per_period;
  wait_ns = std::max<__int128>(0, wait_ns - std::max<int64_t>(0, now_ns - mine->last_ns));
  d.retry_after_s = std::max<int64_t>(1, static_cast<int64_t>((wait_ns + 999999999) / 1000000000));
  return d;
}

// A bucket is a handful of words: a dead writer can leave a torn count or
// time, never a structure to rebuild. Clamp what could be out of range.
void RateLimitZone::repair(void* stripe_ref) {
  auto* ref = static_cast<StripeRef*>(stripe_ref);
  RateLimitZone* z = ref->zone;
  uint32_t per = z->header_->buckets_per_stripe;
  TokenBucket* base = z->buckets_ + static_cast<std::size_t>(ref->stripe) * per;
  int64_t now = monotonic_ns();
  for (uint32_t i = 0; i < per; ++i) {
    TokenBucket& b = base[i];
    if (b.used > 1) b.used = 0;
    if (b.micro_tokens < 0) b.micro_tokens = 0;
    if (b.last_ns > now) b.last_ns = now;
  }
}

}  // namespace genkit::shm
