#include "worker/middleware/api_key.h"

#include "worker/errors.h"

namespace genkit::http {

namespace {

bool exempt(const std::string& path) {
  return path == "/health" || path == "/healthz" || path == "/ready" || path == "/readyz";
}

}  // namespace

std::optional<std::string> authorization_of(const Request& req) {
  std::optional<std::string> value;
  for (const Header& h : req.headers) {
    if (h.name != "authorization") continue;
    if (value) {
      *value += ", ";
      *value += h.value;
    } else {
      value = h.value;
    }
  }
  return value;
}

Gate make_api_key_gate(ApiKeys keys) {
  return [keys = std::move(keys)](const std::shared_ptr<Exchange>& ex) {
    if (exempt(ex->request().path)) return true;
    std::optional<std::string> presented = authorization_of(ex->request());
    Status s = keys.check(presented ? &*presented : nullptr);
    if (s.is_ok()) return true;
    if (ex->error_format() == ErrorFormat::kGenkit) {
      // Genkit's api-key context provider, word for word.
      bool absent = s.code() == Code::kUnauthenticated;
      ex->respond(genkit_error_response(Status(s.code(), absent ? "Unauthenticated" : "Permission Denied")));
    } else {
      ex->respond(error_response(http_status_for(s.code()), s.message()));
    }
    return false;
  };
}

}  // namespace genkit::http
