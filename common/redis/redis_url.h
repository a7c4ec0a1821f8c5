// REDIS_URL: where the Redis state backend connects.
//   redis://[[user]:password@]host[:port][/db]     (host may be [IPv6])
//   unix://[[user]:password@]/path/to/redis.sock[?db=N][&password=P]
// Percent-escapes (%40 for @) are decoded in the user and password.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace genkit {

struct RedisEndpoint {
  std::string host;         // TCP: a name or an address
  int port = 6379;
  std::string socket_path;  // unix: set instead of host
  int db = 0;
  std::string username;     // AUTH user password (Redis 6 ACL); empty: AUTH password
  std::string password;     // empty: no AUTH

  bool is_unix() const { return !socket_path.empty(); }
  // For logs and /ready: the URL without its password.
  std::string display() const;
};

// The error says what is wrong, not which setting (the caller names it).
Result<RedisEndpoint> parse_redis_url(std::string_view url);

}  // namespace genkit
