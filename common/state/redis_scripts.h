// The Lua scripts the Redis backend runs: each decision is one script, so it
// is atomic across every process of every machine, and reads the clock with
// Redis's TIME, so the machines' own clocks never matter. RedisClient loads
// them on every connection (SCRIPT LOAD) and runs them by index (EVALSHA).
// Every key they write expires; nothing grows without bound.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace genkit::redis_scripts {

enum Script : std::size_t {
  // Token buckets (GCRA), a token from each in turn. KEYS: buckets (one per
  // decision; a key may repeat). ARGV: capacity, period ms.
  // → per key: allowed, the whole tokens left (>= 0); refused, -(ms until the next token)
  kTakeToken,
  // KEYS: breaker. ARGV: recovery ms, caller id, probe lease ms, key ttl ms.
  // → {allowed 0|1, probe 0|1, retry after s, state 0 closed|1 open|2 half-open}
  kBreakerAdmit,
  // KEYS: breaker. ARGV: "ok"|"fail", threshold, probe 0|1, caller id, key ttl ms. → state
  kBreakerRecord,
  // A probe that ended without an outcome. KEYS: breaker. ARGV: caller id. → 1
  kBreakerRelease,
  // KEYS: value, lock. ARGV: leader id, lock ms.
  // → {1, value} a hit | {2} a miss, and the caller now leads | {3} a miss another leads
  kCacheLookup,
  // KEYS: value, lock. ARGV: value, ttl ms, leader id. → 1 (stores; unlocks if still ours)
  kCacheStore,
  // KEYS: lock. ARGV: leader id. → 1 when it was ours (deleted)
  kCacheUnlock,
  // KEYS: lock. ARGV: leader id, lock ms. → 1 when still ours (extended)
  kCacheRenew,
  kCount
};

// The sources, indexed by Script.
const std::vector<std::string>& sources();

}  // namespace genkit::redis_scripts
