// What the route handlers of a worker share.
#pragma once

#include "common/config.h"
#include "common/runtime/runtime.h"
#include "common/state/shared_state.h"

namespace genkit::http {

struct AppContext {
  Runtime& runtime;
  const Config& config;
  std::string model_name;  // the default model in use
  SharedState& shared;     // cache, breaker, rate limiter and metrics of every process
  const bool* draining = nullptr;  // this worker's drain has begun: /ready says 503
};

class Router;

void add_health_routes(Router& router, AppContext& app);
void add_flow_routes(Router& router, AppContext& app);
// Genkit's flow server: POST /<flow> and /flows/<flow> for every registered
// flow (after the other routes: a path they have taken stays theirs).
void add_flow_server_routes(Router& router, AppContext& app);
void add_docs_routes(Router& router, AppContext& app);  // debug only: /openapi.json, /docs
void add_metrics_routes(Router& router, AppContext& app);  // GET /metrics

}  // namespace genkit::http
