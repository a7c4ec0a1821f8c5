#include "worker/middleware/cors.h"

#include <algorithm>
#include <cctype>

#include "common/config.h"
#include "worker/errors.h"
#include "common/text.h"

namespace genkit::http {

namespace {

constexpr const char* kAllMethods[] = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};
// Allowed whatever the configuration (Starlette's SAFELISTED_HEADERS).
constexpr const char* kSafelisted[] = {"Accept", "Accept-Language", "Content-Language", "Content-Type"};
constexpr const char* kMaxAge = "600";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Every header of Access-Control-Request-Headers is allowed.
bool headers_allowed(const CorsPolicy& p, std::string_view requested) {
  while (!requested.empty()) {
    std::size_t comma = requested.find(',');
    std::string name = ascii_lower(trim(requested.substr(0, comma)));
    requested = comma == std::string_view::npos ? std::string_view() : requested.substr(comma + 1);
    if (!name.empty() && !contains(p.headers, name)) return false;
  }
  return true;
}

}  // namespace

CorsPolicy CorsPolicy::from_config(const Config& config) {
  CorsPolicy p;
  p.origins = config.cors_allowed_origins;
  p.any_origin = contains(p.origins, "*") || (config.debug && p.origins.empty());
  p.any_method = contains(config.cors_allowed_methods, "*");
  p.methods = p.any_method ? std::vector<std::string>(std::begin(kAllMethods), std::end(kAllMethods))
                           : config.cors_allowed_methods;
  p.allow_methods = join(p.methods);
  p.any_header = contains(config.cors_allowed_headers, "*");
  std::vector<std::string> names(std::begin(kSafelisted), std::end(kSafelisted));
  for (const std::string& h : config.cors_allowed_headers) {
    if (h != "*") names.push_back(h);
  }
  std::stable_sort(names.begin(), names.end(),
                   [](const std::string& a, const std::string& b) { return ascii_lower(a) < ascii_lower(b); });
  std::vector<std::string> shown;  // each name once, in its first spelling
  for (const std::string& n : names) {
    if (contains(p.headers, ascii_lower(n))) continue;
    p.headers.push_back(ascii_lower(n));
    shown.push_back(n);
  }
  p.allow_headers = join(shown);
  return p;
}

bool CorsPolicy::origin_allowed(std::string_view origin) const { return any_origin || contains(origins, origin); }

bool is_preflight(const Request& req) {
  return req.method == "OPTIONS" && req.header("origin") && req.header("access-control-request-method");
}

Response preflight_response(const CorsPolicy& policy, const Request& req, bool* vary_origin) {
  const std::string& origin = *req.header("origin");
  const std::string& method = *req.header("access-control-request-method");
  const std::string* requested = req.header("access-control-request-headers");
  *vary_origin = !policy.any_origin;
  std::vector<std::string> failures;
  if (!policy.origin_allowed(origin)) failures.push_back("origin");
  if (!contains(policy.methods, method)) failures.push_back("method");
  if (requested && !policy.any_header && !headers_allowed(policy, *requested)) failures.push_back("headers");
  if (!failures.empty()) return error_response(400, "Disallowed CORS " + join(failures));

  Response r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "OK";
  // (Access-Control-Allow-Origin is the exchange's, as on every response.)
  r.headers = {{"Access-Control-Allow-Methods", policy.allow_methods},
               {"Access-Control-Max-Age", kMaxAge}};
  if (!policy.any_header) {
    r.headers.push_back({"Access-Control-Allow-Headers", policy.allow_headers});
  } else if (requested) {
    r.headers.push_back({"Access-Control-Allow-Headers", *requested});  // "*": mirrored, as Starlette does
  }
  return r;
}

std::string allow_origin_for(const CorsPolicy& policy, const Request& req) {
  const std::string* origin = req.header("origin");
  if (!origin) return "";
  // With cookies a browser refuses "*": name the origin (still no credentials).
  if (policy.any_origin) return req.header("cookie") ? *origin : "*";
  return policy.origin_allowed(*origin) ? *origin : "";
}

Gate make_preflight_gate(std::shared_ptr<const CorsPolicy> policy) {
  return [p = std::move(policy)](const std::shared_ptr<Exchange>& ex) {
    if (!is_preflight(ex->request())) return true;
    bool vary_origin = false;
    Response r = preflight_response(*p, ex->request(), &vary_origin);
    // (A refused preflight has no Access-Control-Allow-Origin: the exchange
    // would add one for an allowed origin asking a disallowed method.)
    if (r.status != 200) ex->suppress_cors();
    if (vary_origin) ex->add_vary("Origin");
    ex->respond(std::move(r));
    return false;
  };
}

}  // namespace genkit::http
