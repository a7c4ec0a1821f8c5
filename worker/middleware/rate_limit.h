// The per-client-IP rate limit shared by all processes (RATE_LIMIT_DEFAULT),
// or by every machine with STATE_BACKEND=redis (the request then waits for
// Redis's decision, at most REDIS_TIMEOUT_MS), keyed on the address
// middleware/client_address.h resolved. Health,
// readiness and /metrics are exempt. A refused request gets 429 with
// Retry-After and X-RateLimit-Limit/-Remaining and never reaches a route,
// let alone the model; its body is the JSON error format, on the flow
// server's paths Genkit's RESOURCE_EXHAUSTED. (Admitted responses carry no
// such headers: they cost every request about a microsecond of the server's
// CPU, more than the limiter itself.)
#pragma once

#include "worker/router.h"

namespace genkit {
class RateLimiter;
}

namespace genkit::http {

DeferringGate make_rate_limit_gate(RateLimiter& limiter, shm::ProcessMetrics* metrics);

}  // namespace genkit::http
