#include "worker/router.h"

#include <optional>

#include "common/shm/metrics.h"
#include "common/text.h"
#include "worker/errors.h"

namespace genkit::http {

namespace {

// A body in a content coding (Content-Encoding: gzip...) is refused, not
// read as if it were plain JSON: no route decodes one (RFC 9110 §8.4.1
// allows 415, with Accept-Encoding naming what would do).
std::optional<Response> unsupported_coding(const Request& req) {
  const std::string* coding = req.header("content-encoding");
  if (req.body.empty() || !coding) return std::nullopt;
  std::string lower = ascii_lower(trim_blanks(*coding));
  if (lower.empty() || lower == "identity") return std::nullopt;
  Response r = error_response(415, "a request body in a content coding (Content-Encoding) is not accepted: "
                                  "send it as plain JSON");
  r.headers.push_back({"Accept-Encoding", "identity"});
  return r;
}

}  // namespace

void Router::add(const std::string& method, const std::string& path, Handler handler, ErrorFormat format) {
  Route& route = routes_[path];
  if (route.methods.empty() && metrics_) route.label = metrics_->route_label(path);
  route.format = format;
  route.methods[method] = std::move(handler);
}

void Router::handle(const std::shared_ptr<Exchange>& exchange) const {
  auto path = routes_.find(exchange->request().path);
  if (path != routes_.end()) {
    exchange->set_route_label(path->second.label);
    exchange->set_error_format(path->second.format);
  }
  run_gates(exchange, 0);
}

void Router::run_gates(const std::shared_ptr<Exchange>& exchange, std::size_t first) const {
  for (std::size_t i = first; i < gates_.size(); ++i) {
    const GateEntry& gate = gates_[i];
    if (gate.now) {
      if (!gate.now(exchange)) return;
      continue;
    }
    GateVerdict v = gate.deferring(exchange, [this, i](const std::shared_ptr<Exchange>& ex) {
      if (!ex->cancel_token().cancelled() && !ex->responded()) run_gates(ex, i + 1);
    });
    if (v != GateVerdict::kPass) return;
  }
  dispatch(exchange);
}

void Router::dispatch(const std::shared_ptr<Exchange>& exchange) const {
  const Request& req = exchange->request();
  auto path = routes_.find(req.path);
  if (path == routes_.end()) {
    return exchange->respond(error_response(404, "no route for " + req.method + " " + req.path));
  }
  auto method = path->second.methods.find(req.method);
  if (method == path->second.methods.end()) {
    std::string allow;
    for (const auto& [m, _] : path->second.methods) allow += (allow.empty() ? "" : ", ") + m;
    Response r = error_response(405, req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")");
    r.headers.push_back({"Allow", allow});
    return exchange->respond(std::move(r));
  }
  if (std::optional<Response> refused = unsupported_coding(req)) return exchange->respond(std::move(*refused));
  method->second(exchange);
}

}  // namespace genkit::http
