// What a worker serves and how, given its configuration: the routes, the
// request-side middleware in the seed's order, and a connection's limits.
// The worker process and the HTTP fuzz targets (tests/fuzz/) build the same
// surface from here.
#pragma once

#include "common/config.h"
#include "worker/app_context.h"
#include "worker/router.h"
#include "worker/server_context.h"

namespace genkit::http {

// Health, metrics, the flows' routes, the docs (debug only) and Genkit's
// flow server (last: a path the others have taken stays theirs).
void install_routes(Router& router, AppContext& app);

// CORS answers preflights on every path before anything else, then the Host
// check, the client's address, the rate limit keyed on it, the API key.
// (Gzip, the security headers, the request id and the access log are the
// exchange's; the body limit and the read timeout the session's.)
void install_gates(Router& router, const Config& config, const ResponsePolicy& policy, SharedState& shared);

// The response policy and a connection's limits from the configuration.
void configure_connections(ServerContext& ctx, const Config& config);

}  // namespace genkit::http
