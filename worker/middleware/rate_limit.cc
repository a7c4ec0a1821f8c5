#include "worker/middleware/rate_limit.h"

#include "common/net/ip_address.h"
#include "common/shm/metrics.h"
#include "common/state/rate_limiter.h"
#include "worker/errors.h"

namespace genkit::http {

namespace {

bool exempt(const std::string& path) {
  return path == "/health" || path == "/healthz" || path == "/ready" || path == "/readyz" || path == "/metrics";
}

}  // namespace

DeferringGate make_rate_limit_gate(RateLimiter& limiter, shm::ProcessMetrics* metrics) {
  // True when `d` lets the request go on; else answers it.
  auto apply = [&limiter, metrics](Exchange& ex, const shm::RateDecision& d) {
    if (d.allowed) return true;
    if (metrics) metrics->rate_limited();
    std::string why = "rate limit exceeded: " + std::to_string(d.limit) + " requests per " + limiter.period_name() +
                      " per client";
    Response r = ex.error_format() == ErrorFormat::kGenkit
                     ? genkit_error_response(Status(Code::kResourceExhausted, why))
                     : error_response(429, why);
    r.headers = {{"Retry-After", std::to_string(d.retry_after_s)},
                 {"X-RateLimit-Limit", std::to_string(d.limit)},
                 {"X-RateLimit-Remaining", std::to_string(d.remaining)}};
    ex.respond(std::move(r));
    return false;
  };
  return [&limiter, apply](const std::shared_ptr<Exchange>& ex, const Pass& pass) {
    if (!limiter.enabled() || exempt(ex->request().path)) return GateVerdict::kPass;
    std::optional<IpBytes> ip = parse_ip(ex->request().client_ip);
    if (!ip) return GateVerdict::kPass;  // (not a TCP peer: nothing to key on)
    std::optional<shm::RateDecision> now = limiter.take(*ip, [ex, pass, apply](shm::RateDecision d) {
      if (ex->cancel_token().cancelled() || ex->responded()) return;
      if (apply(*ex, d)) pass(ex);
    });
    if (!now) return GateVerdict::kLater;
    return apply(*ex, *now) ? GateVerdict::kPass : GateVerdict::kAnswered;
  };
}

}  // namespace genkit::http
