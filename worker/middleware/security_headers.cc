#include "worker/middleware/security_headers.h"

namespace genkit::http {

namespace {

constexpr HeadField kFixed[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "strict-origin-when-cross-origin"},
    {"Permissions-Policy", "geolocation=(), camera=(), microphone=()"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
};

}  // namespace

void add_security_headers(std::vector<HeadField>& fields, const ResponsePolicy& policy, bool secure) {
  fields.insert(fields.end(), std::begin(kFixed), std::end(kFixed));
  fields.push_back({"Content-Security-Policy", policy.csp});
  if (secure) fields.push_back({"Strict-Transport-Security", policy.hsts});
}

}  // namespace genkit::http
