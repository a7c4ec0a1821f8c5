// hiredis 0.14 allocates a multi-bulk reply's element array from the count
// the peer declares, before any element has arrived: "*2000000000\r\n" from
// whatever answers on REDIS_URL is a 16 GB allocation (found by
// tests/fuzz/fuzz_redis_reply). Our replies are small (a rate-limit batch
// is the largest, 128 integers), so the reader's reply functions refuse
// arrays over kMaxReplyElements: hiredis then fails the connection, which
// the client treats like any other lost connection (local decisions,
// reconnect).
#pragma once

#include <cstddef>

struct redisReplyObjectFunctions;
struct redisReader;

namespace genkit {

inline constexpr std::size_t kMaxReplyElements = 4096;

// Installs the bounded reply functions on a reader (hiredis's own, except
// for arrays over the bound).
void bound_replies(redisReader* reader);

}  // namespace genkit
