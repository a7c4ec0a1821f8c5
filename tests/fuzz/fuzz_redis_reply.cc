// Bytes from Redis (or whatever answers on REDIS_URL), read by hiredis's
// reader with the client's reply bounds (reply_limits.h), and every reply given to each of the
// decoders the state backend trusts replies through (redis_replies.h).
#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdlib>

#include "common/redis/reply_limits.h"
#include "common/state/redis_replies.h"

namespace {

void decode_every_way(const redisReply* r) {
  namespace rr = genkit::redis_replies;
  for (std::size_t asked = 0; asked <= 3; ++asked) {
    auto verdicts = rr::token_verdicts(r, asked);
    if (verdicts && verdicts->size() != asked) abort();
    for (const rr::TokenVerdict& v : verdicts ? *verdicts : std::vector<rr::TokenVerdict>{}) {
      if (v.allowed ? (v.remaining < 0 || v.retry_after_s != 0) : (v.retry_after_s < 1)) abort();
    }
  }
  auto admission = rr::breaker_admission(r);
  if (admission && (admission->retry_after_s < (admission->allowed ? 0 : 1))) abort();
  (void)rr::breaker_recorded(r);
  (void)rr::breaker_field(r);
  auto value = rr::cached_value(r);
  if (value && value->hit && value->text.size() != r->len) abort();
  (void)rr::cache_lookup(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  redisReader* reader = redisReaderCreate();
  genkit::bound_replies(reader);  // as the client's reader is
  if (redisReaderFeed(reader, reinterpret_cast<const char*>(data), size) == REDIS_OK) {
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader, &reply) != REDIS_OK || !reply) break;
      decode_every_way(static_cast<const redisReply*>(reply));
      freeReplyObject(reply);
    }
  }
  redisReaderFree(reader);
  return 0;
}
