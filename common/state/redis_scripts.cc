#include "common/state/redis_scripts.h"

namespace genkit::redis_scripts {

namespace {

// Redis's TIME in microseconds (exact in a Lua double: < 2^53).
constexpr const char* kNow = R"(
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
)";

// The token bucket as GCRA: one number per client, the time at which its
// bucket would be full again ("theoretical arrival time"), so one GET and
// one SET whose expiry is exactly that time (then the key may go: a missing
// key is a full bucket). Equivalent to `capacity` tokens refilled one per
// period/capacity. One call decides for every key it is given, in order; a
// key given many times (a busy client) is read and written once.
constexpr const char* kTakeTokenBody = R"(
local period = tonumber(ARGV[2]) * 1000
local step = period / tonumber(ARGV[1])
local full_at, out = {}, {}
for i, key in ipairs(KEYS) do
  local at = full_at[key] or tonumber(redis.call('GET', key)) or now
  if at < now then at = now end
  local ahead = at + step - now
  if ahead > period then
    out[i] = -math.max(1, math.ceil((ahead - period) / 1000))
  else
    at = at + step
    out[i] = math.floor((period - ahead) / step)
  end
  full_at[key] = at
end
for key, at in pairs(full_at) do
  -- (At rates beyond a request per microsecond the step vanishes in the sum.)
  if at > now then
    redis.call('SET', key, string.format('%.17g', at), 'PX', math.max(1, math.ceil((at - now) / 1000)))
  end
end
return out
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
