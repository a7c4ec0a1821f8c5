// What the routes that run flows share (flow_routes.cc, the REST routes;
// flow_server_routes.cc, Genkit's flow server): the REQUEST_TIMEOUT
// deadline, the caller's trace context and the failure log line.
#pragma once

#include <memory>

#include "common/runtime/flow.h"
#include "worker/app_context.h"
#include "worker/exchange.h"

namespace genkit::http {

inline constexpr const char* kTimedOut = "the request took longer than REQUEST_TIMEOUT";

// Enforces REQUEST_TIMEOUT on a request its flow has not answered yet (a
// cache hit has, and needs no timer): cancels the run and lets `on_timeout`
// answer. The exchange holds the timer; the timer only a weak reference.
void arm_deadline(AppContext& app, const std::shared_ptr<Exchange>& ex, void (*on_timeout)(Exchange&));

// Continues the caller's trace when it sent a valid W3C traceparent.
TraceContext trace_context(const Request& req);

// Logs a failed flow run (not a cancelled one: the client went away).
void log_failure(const Request& req, const Status& status);

}  // namespace genkit::http
