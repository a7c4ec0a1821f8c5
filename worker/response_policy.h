// How every response of a worker is finished, from the configuration: the
// security headers' variable parts and the gzip threshold. Built once at
// start-up; sessions hand it to each exchange.
#pragma once

#include <cstddef>
#include <string>

namespace genkit {
struct Config;
}

namespace genkit::http {

struct ResponsePolicy {
  std::string csp = "default-src 'none'";  // debug relaxes it so that /docs loads
  std::string hsts;                        // Strict-Transport-Security value, sent on secure requests only
  std::size_t gzip_min_size = 500;         // GZIP_MIN_SIZE
};

ResponsePolicy response_policy_for(const Config& config);

}  // namespace genkit::http
