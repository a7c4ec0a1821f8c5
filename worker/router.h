// Routes a request to its handler by exact path, then method (404 / 405).
// The gates run first, in the order added, for every request, unknown paths
// included (the request-side middleware: CORS, trusted host, client address,
// rate limit, API key); a request one of them answers goes no further. A
// gate may also decide later (the rate limit asking Redis): it keeps the
// request and lets it go on through `pass`, unless it is gone or answered
// (timed out) by then.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "worker/exchange.h"

namespace genkit::shm {
class ProcessMetrics;
}

namespace genkit::http {

using Handler = std::function<void(const std::shared_ptr<Exchange>&)>;
// Returns false when it has answered the request itself.
using Gate = std::function<bool(const std::shared_ptr<Exchange>&)>;
enum class GateVerdict { kPass, kAnswered, kLater };
using Pass = std::function<void(const std::shared_ptr<Exchange>&)>;
// kLater: the gate calls `pass` (once, on the loop) when the request may go on.
using DeferringGate = std::function<GateVerdict(const std::shared_ptr<Exchange>&, const Pass& pass)>;

class Router {
 public:
  // Routes are counted in `metrics` under their path (may be null).
  explicit Router(shm::ProcessMetrics* metrics = nullptr) : metrics_(metrics) {}

  // `format`: how the path's errors are answered, the gates' included.
  void add(const std::string& method, const std::string& path, Handler handler,
           ErrorFormat format = ErrorFormat::kRest);
  bool has(const std::string& path) const { return routes_.count(path) != 0; }
  void add_gate(Gate gate) { gates_.push_back({std::move(gate), nullptr}); }
  void add_gate(DeferringGate gate) { gates_.push_back({nullptr, std::move(gate)}); }
  void handle(const std::shared_ptr<Exchange>& exchange) const;

 private:
  struct GateEntry {
    Gate now;
    DeferringGate deferring;
  };
  void run_gates(const std::shared_ptr<Exchange>& exchange, std::size_t first) const;
  void dispatch(const std::shared_ptr<Exchange>& exchange) const;

  struct Route {
    int label = 0;
    ErrorFormat format = ErrorFormat::kRest;
    std::map<std::string, Handler> methods;
  };
  shm::ProcessMetrics* metrics_;
  std::vector<GateEntry> gates_;
  std::map<std::string, Route> routes_;  // path → its handlers
};

}  // namespace genkit::http
