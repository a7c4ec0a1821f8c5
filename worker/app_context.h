// What the route handlers of a worker share.
#pragma once

#include "common/config.h"
#include "common/runtime/runtime.h"

namespace genkit::http {

struct AppContext {
  Runtime& runtime;
  const Config& config;
  std::string model_name;  // the default model in use
};

class Router;

void add_health_routes(Router& router, AppContext& app);
void add_flow_routes(Router& router, AppContext& app);
void add_docs_routes(Router& router, AppContext& app);  // debug only: /openapi.json, /docs

}  // namespace genkit::http
