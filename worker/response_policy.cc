#include "worker/response_policy.h"

#include "common/config.h"
#include "worker/middleware/cors.h"

namespace genkit::http {

namespace {

// Debug mode: pages served by the server itself (/docs) may load their own
// scripts, styles and images; nothing from elsewhere.
constexpr const char* kDebugCsp =
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'";

}  // namespace

ResponsePolicy response_policy_for(const Config& config) {
  ResponsePolicy p;
  if (config.debug) p.csp = kDebugCsp;
  p.hsts = "max-age=" + std::to_string(config.hsts_max_age) + "; includeSubDomains";
  p.gzip_min_size = static_cast<std::size_t>(config.gzip_min_size);
  p.cors = std::make_shared<const CorsPolicy>(CorsPolicy::from_config(config));
  return p;
}

}  // namespace genkit::http
