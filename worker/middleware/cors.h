// CORS of the seed's stack, with the semantics of Starlette's CORSMiddleware
// (allow_credentials=False, max_age=600). Only requests with an Origin
// header are concerned:
// - a preflight (OPTIONS with Access-Control-Request-Method) is answered by
//   the preflight gate, on every path, before any other gate: 200 "OK" with
//   the Access-Control-Allow-* headers when the origin, the method and every
//   requested header are allowed, else 400 naming what was not (and no
//   Access-Control-Allow-* header, so the browser gives up);
// - any other request from an allowed origin gets Access-Control-Allow-Origin
//   (and Vary: Origin) on whatever response comes — errors, streams and the
//   408/413/431 a session answers before routing included: the exchange adds
//   it (ResponsePolicy::cors); other origins get nothing, and the browser
//   hides the answer.
// Same-origin by default: CORS_ALLOWED_ORIGINS empty → no origin allowed,
// except in debug, where empty means "*". "*" answers
// Access-Control-Allow-Origin: * (the origin itself when cookies are sent,
// as Starlette does). Credentials are never allowed.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/router.h"

namespace genkit {
struct Config;
}

namespace genkit::http {

struct CorsPolicy {
  bool any_origin = false;
  std::vector<std::string> origins;  // exact, as browsers send them
  bool any_method = false;
  std::vector<std::string> methods;  // case-sensitive, as HTTP methods are
  bool any_header = false;
  std::vector<std::string> headers;  // lower-case, the CORS-safelisted included
  std::string allow_methods;         // Access-Control-Allow-Methods
  std::string allow_headers;         // Access-Control-Allow-Headers

  static CorsPolicy from_config(const Config& config);
  bool origin_allowed(std::string_view origin) const;
};

// OPTIONS with Origin and Access-Control-Request-Method.
bool is_preflight(const Request& req);
// The answer to a preflight; `vary_origin` is set when it depends on the origin.
Response preflight_response(const CorsPolicy& policy, const Request& req, bool* vary_origin);
// The Access-Control-Allow-Origin an actual request gets ("" for none).
std::string allow_origin_for(const CorsPolicy& policy, const Request& req);

Gate make_preflight_gate(std::shared_ptr<const CorsPolicy> policy);

}  // namespace genkit::http
