#include "worker/middleware/security_headers.h"

#include "common/config.h"

namespace genkit::http {

namespace {

constexpr HeadField kFixed[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "strict-origin-when-cross-origin"},
    {"Permissions-Policy", "geolocation=(), camera=(), microphone=()"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
};

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
  return p;
}

void add_security_headers(std::vector<HeadField>& fields, const ResponsePolicy& policy, bool secure) {
  fields.insert(fields.end(), std::begin(kFixed), std::end(kFixed));
  fields.push_back({"Content-Security-Policy", policy.csp});
  if (secure) fields.push_back({"Strict-Transport-Security", policy.hsts});
}

}  // namespace genkit::http
