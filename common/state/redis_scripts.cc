#include "common/state/redis_scripts.h"

namespace genkit::redis_scripts {

namespace {

// Redis's TIME in microseconds (exact in a Lua double: < 2^53).
constexpr const char* kNow = R"(
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
)";

constexpr const char* kTakeTokenBody = R"(
local capacity = tonumber(ARGV[1])
local period_us = tonumber(ARGV[2]) * 1000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if not tokens or not at then
  tokens, at = capacity, now
elseif now > at then
  tokens = math.min(capacity, tokens + (now - at) * capacity / period_us)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at))
-- A bucket left alone for a period is full again: it may as well go.
redis.call('PEXPIRE', KEYS[1], math.ceil(period_us / 1000) + 1000)
local wait_ms = 0
if allowed == 0 then wait_ms = math.ceil((1 - tokens) * period_us / capacity / 1000) end
return {allowed, math.floor(tokens), wait_ms}
)";

constexpr const char* kBreakerAdmitBody = R"(
local b = redis.call('HMGET', KEYS[1], 'state', 'opened', 'lease')
local state = tonumber(b[1]) or 0
if state == 0 then return {1, 0, 0, 0} end
if state == 1 then
  local left = (tonumber(b[2]) or 0) + tonumber(ARGV[1]) * 1000 - now
  if left > 0 then return {0, 0, math.ceil(left / 1000000), 1} end
elseif (tonumber(b[3]) or 0) > now then
  return {0, 0, 1, 2}
end
-- Recovered (or the probe's lease ran out): this call is the one probe.
redis.call('HSET', KEYS[1], 'state', 2, 'probe', ARGV[2],
           'lease', string.format('%.17g', now + tonumber(ARGV[3]) * 1000))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, 1, 0, 2}
)";

constexpr const char* kBreakerRecordBody = R"(
local b = redis.call('HMGET', KEYS[1], 'state', 'failures', 'probe')
local state = tonumber(b[1]) or 0
local probing = ARGV[3] == '1' and state == 2 and b[3] == ARGV[4]
if ARGV[1] == 'ok' then
  if state == 0 and (tonumber(b[2]) or 0) > 0 then
    redis.call('HSET', KEYS[1], 'failures', 0)
  elseif probing then
    redis.call('HSET', KEYS[1], 'state', 0, 'failures', 0, 'probe', '', 'lease', 0)
    state = 0
  end
else
  if state == 0 then
    if redis.call('HINCRBY', KEYS[1], 'failures', 1) >= tonumber(ARGV[2]) then
      redis.call('HSET', KEYS[1], 'state', 1, 'failures', 0, 'opened', string.format('%.17g', now))
      state = 1
    end
  elseif probing then
    redis.call('HSET', KEYS[1], 'state', 1, 'opened', string.format('%.17g', now), 'probe', '', 'lease', 0)
    state = 1
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return state
)";

constexpr const char* kBreakerReleaseBody = R"(
if redis.call('HGET', KEYS[1], 'probe') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'probe', '', 'lease', 0)
end
return 1
)";

constexpr const char* kCacheLookupBody = R"(
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {3}
)";

constexpr const char* kCacheStoreBody = R"(
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
)";

constexpr const char* kCacheUnlockBody = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)";

constexpr const char* kCacheRenewBody = R"(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)";

}  // namespace

const std::vector<std::string>& sources() {
  static const std::vector<std::string> all = {
      std::string(kNow) + kTakeTokenBody, std::string(kNow) + kBreakerAdmitBody,
      std::string(kNow) + kBreakerRecordBody, kBreakerReleaseBody, kCacheLookupBody, kCacheStoreBody,
      kCacheUnlockBody, kCacheRenewBody,
  };
  return all;
}

}  // namespace genkit::redis_scripts
