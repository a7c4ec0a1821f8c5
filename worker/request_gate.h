// What every request passes before its route: the client's address (the
// socket peer; behind a proxy listed in FORWARDED_ALLOW_IPS, the right-most
// X-Forwarded-For entry that is not itself a trusted proxy, as gunicorn and
// uvicorn read it), then the per-IP rate limit shared by all processes.
// Health, readiness and /metrics are exempt. A refused request gets 429 with
// Retry-After and X-RateLimit-Limit/-Remaining and never reaches a route,
// let alone the model. (Admitted responses carry no such headers: they cost
// every request about a microsecond of the server's CPU, more than the
// limiter itself.)
#pragma once

#include <string>

#include "common/net/ip_address.h"
#include "worker/router.h"

namespace genkit {
class RateLimiter;
}

namespace genkit::http {

// The client address of `req` whose socket peer is req.client_ip.
std::string forwarded_client_ip(const Request& req, const IpAllowList& trusted_proxies);

Gate make_request_gate(IpAllowList trusted_proxies, RateLimiter& limiter, shm::ProcessMetrics* metrics);

}  // namespace genkit::http
