#include "common/state/redis_replies.h"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace genkit::redis_replies {

namespace {

bool integers(const redisReply* r, std::size_t n) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return false;
  }
  return true;
}

std::optional<shm::CircuitState> state_of(long long v) {
  if (v < 0 || v > 2) return std::nullopt;
  return static_cast<shm::CircuitState>(v);
}

}  // namespace

std::optional<std::vector<TokenVerdict>> token_verdicts(const redisReply* r, std::size_t asked) {
  if (!integers(r, asked)) return std::nullopt;
  std::vector<TokenVerdict> out(asked);
  for (std::size_t i = 0; i < asked; ++i) {
    long long v = r->element[i]->integer;
    out[i].allowed = v >= 0;
    out[i].remaining = out[i].allowed ? v : 0;
    // (-(v + 1) rather than -v: LLONG_MIN has no negation.)
    if (!out[i].allowed) out[i].retry_after_s = std::max<long long>(1, (-(v + 1)) / 1000 + 1);
  }
  return out;
}

std::optional<BreakerAdmission> breaker_admission(const redisReply* r) {
  if (!integers(r, 4)) return std::nullopt;
  std::optional<shm::CircuitState> state = state_of(r->element[3]->integer);
  if (!state) return std::nullopt;
  BreakerAdmission a;
  a.allowed = r->element[0]->integer == 1;
  a.probe = r->element[1]->integer == 1;
  a.retry_after_s = std::max<long long>(a.allowed ? 0 : 1, r->element[2]->integer);
  a.state = *state;
  return a;
}

std::optional<shm::CircuitState> breaker_recorded(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_INTEGER) return std::nullopt;
  return state_of(r->integer);
}

std::optional<shm::CircuitState> breaker_field(const redisReply* r) {
  if (!r) return std::nullopt;
  if (r->type == REDIS_REPLY_NIL) return shm::CircuitState::kClosed;
  if (r->type != REDIS_REPLY_STRING || r->len != 1) return std::nullopt;
  return state_of(r->str[0] - '0');
}

std::optional<CachedValue> cached_value(const redisReply* r) {
  if (!r) return std::nullopt;
  if (r->type == REDIS_REPLY_NIL) return CachedValue{};
  if (r->type != REDIS_REPLY_STRING) return std::nullopt;
  return CachedValue{true, std::string_view(r->str, r->len)};
}

std::optional<CacheLookup> cache_lookup(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
    return std::nullopt;
  }
  const redisReply* value = r->elements == 2 ? r->element[1] : nullptr;
  switch (r->element[0]->integer) {
    case 1:
      if (!value || value->type != REDIS_REPLY_STRING) return std::nullopt;
      return CacheLookup{CacheLookup::Verdict::kHit, std::string_view(value->str, value->len)};
    case 2: return r->elements == 1 ? std::optional(CacheLookup{CacheLookup::Verdict::kLead, {}}) : std::nullopt;
    case 3: return r->elements == 1 ? std::optional(CacheLookup{CacheLookup::Verdict::kWait, {}}) : std::nullopt;
    default: return std::nullopt;
  }
}

}  // namespace genkit::redis_replies
