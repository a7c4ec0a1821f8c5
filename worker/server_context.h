// What every connection of a worker shares: the loop, limits, the router and
// the drain state.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_set>

#include "worker/response_policy.h"

struct event_base;

namespace genkit::shm {
class ProcessMetrics;
}

namespace genkit::http {

class Router;
class Connection;
class TlsContext;

struct ServerLimits {
  int64_t max_body_size = 1048576;
  int keep_alive_timeout_s = 75;
  int read_timeout_s = 30;
  std::size_t max_output_buffer = 8 * 1024 * 1024;  // a client this far behind is dropped
};

struct ServerContext {
  event_base* base = nullptr;
  ServerLimits limits;
  ResponsePolicy policy;
  const TlsContext* tls = nullptr;  // null: plain TCP
  Router* router = nullptr;
  shm::ProcessMetrics* metrics = nullptr;  // requests are counted here (may be null)
  int unrouted_label = 0;                  // the metrics route label until a route matches
  bool draining = false;
  int open_connections = 0;
  std::unordered_set<Connection*> connections;  // for drain
  std::function<void()> on_connection_closed;  // drain bookkeeping
  std::function<void()> on_request_start;      // max-requests bookkeeping
};

}  // namespace genkit::http
