#include "worker/request_gate.h"

#include <string_view>
#include <vector>

#include "common/shm/metrics.h"
#include "common/state/rate_limiter.h"
#include "worker/errors.h"

namespace genkit::http {

namespace {

bool exempt(const std::string& path) {
  return path == "/health" || path == "/healthz" || path == "/ready" || path == "/readyz" || path == "/metrics";
}

// Every X-Forwarded-For entry, in order, across repeated headers.
std::vector<std::string_view> forwarded_entries(const Request& req) {
  std::vector<std::string_view> out;
  for (const Header& h : req.headers) {
    if (h.name == "x-forwarded-for") split_forwarded_for(h.value, &out);
  }
  return out;
}

}  // namespace

std::string forwarded_client_ip(const Request& req, const IpAllowList& trusted_proxies) {
  if (!req.header("x-forwarded-for")) return req.client_ip;
  return client_behind_proxies(req.client_ip, forwarded_entries(req), trusted_proxies);
}

Gate make_request_gate(IpAllowList trusted_proxies, RateLimiter& limiter, shm::ProcessMetrics* metrics) {
  return [trusted = std::move(trusted_proxies), &limiter, metrics](const std::shared_ptr<Exchange>& ex) {
    if (!trusted.empty()) ex->set_client_ip(forwarded_client_ip(ex->request(), trusted));
    if (!limiter.enabled() || exempt(ex->request().path)) return true;
    std::optional<IpBytes> ip = parse_ip(ex->request().client_ip);
    if (!ip) return true;  // (not a TCP peer: nothing to key on)
    shm::RateDecision d = limiter.take(*ip);
    if (d.allowed) return true;
    if (metrics) metrics->rate_limited();
    Response r = error_response(429, "rate limit exceeded: " + std::to_string(d.limit) + " requests per " +
                                         limiter.period_name() + " per client");
    r.headers = {{"Retry-After", std::to_string(d.retry_after_s)},
                 {"X-RateLimit-Limit", std::to_string(d.limit)},
                 {"X-RateLimit-Remaining", std::to_string(d.remaining)}};
    ex->respond(std::move(r));
    return false;
  };
}

}  // namespace genkit::http
