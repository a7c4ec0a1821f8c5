// What the scripts' replies (common/state/redis_scripts.h) and the plain
// commands' replies mean, checked: Redis is outside the process, so a reply
// of any other shape (another server on that port, a changed script, a
// value someone else wrote) decodes to nothing, and the caller decides on
// this machine's state instead. One place, so that tests/fuzz/ feeds every
// decoder the replies hiredis makes of arbitrary bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "common/shm/breaker_zone.h"

struct redisReply;

namespace genkit::redis_replies {

// kTakeToken: one integer per decision asked, in order: >= 0 the tokens
// left, < 0 the milliseconds until the next one.
struct TokenVerdict {
  bool allowed = false;
  long long remaining = 0;      // allowed: tokens left
  long long retry_after_s = 0;  // refused: whole seconds until the next token, at least 1
};
std::optional<std::vector<TokenVerdict>> token_verdicts(const redisReply* r, std::size_t asked);

// kBreakerAdmit: {allowed, probe, retry_after_s, state}.
struct BreakerAdmission {
  bool allowed = false;
  bool probe = false;
  long long retry_after_s = 0;
  shm::CircuitState state = shm::CircuitState::kClosed;
};
std::optional<BreakerAdmission> breaker_admission(const redisReply* r);

// kBreakerRecord: the state after the outcome, an integer.
std::optional<shm::CircuitState> breaker_recorded(const redisReply* r);

// HGET <breaker> state: "0", "1" or "2"; nil (no hash yet) is closed.
std::optional<shm::CircuitState> breaker_field(const redisReply* r);

// GET <value>: nil (a miss: nothing in the view) or a string (the value).
struct CachedValue {
  bool hit = false;
  std::string_view text;  // valid while the reply is
};
std::optional<CachedValue> cached_value(const redisReply* r);

// kCacheLookup: {1, value} a hit, {2} this caller leads the computation,
// {3} another caller does: wait.
struct CacheLookup {
  enum class Verdict { kHit, kLead, kWait } verdict = Verdict::kWait;
  std::string_view text;  // kHit: the value, valid while the reply is
};
std::optional<CacheLookup> cache_lookup(const redisReply* r);

}  // namespace genkit::redis_replies
