// The REST aliases of the flows (worker/flow_routes.cc: kUnaryRoutes and
// kStreamRoutes, one line each), as /openapi.json lists them.
#pragma once

#include <vector>

namespace genkit::http {

struct RestFlowRouteDoc {
  const char* path;     // "/tell-joke"
  const char* flow;     // "tell_joke": the request body is its input
  const char* summary;
  bool sse;             // a Server-Sent Events stream, else a JSON body
};

// Every REST flow route, unary ones first, in table order.
std::vector<RestFlowRouteDoc> rest_flow_routes();

}  // namespace genkit::http
