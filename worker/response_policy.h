// How every response of a worker is finished, from the configuration: the
// security headers' variable parts and the gzip threshold. Built once at
// start-up; sessions hand it to each exchange.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace genkit {
struct Config;
}

namespace genkit::http {

struct CorsPolicy;

struct ResponsePolicy {
  std::string csp = "default-src 'none'";  // debug relaxes it so that /docs loads
  std::string hsts;                        // Strict-Transport-Security value, sent on secure requests only
  std::size_t gzip_min_size = 500;         // GZIP_MIN_SIZE
  // Access-Control-Allow-Origin for cross-origin requests (middleware/cors.h);
  // null: none. Applied to every response, so that the errors a session
  // answers before routing (408, 413, 431) reach the browser too.
  std::shared_ptr<const CorsPolicy> cors;
};

ResponsePolicy response_policy_for(const Config& config);

}  // namespace genkit::http
