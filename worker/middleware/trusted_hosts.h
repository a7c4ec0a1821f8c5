// TrustedHost of the seed's stack (Starlette's TrustedHostMiddleware): with
// TRUSTED_HOSTS set, a request whose Host header (HTTP/2: :authority) names
// no listed host — or that has none — gets 400 {"error":"Bad Request",
// "detail":"Invalid host header"} and goes no further; patterns and matching
// in common/net/host_allow_list.h. Not installed when TRUSTED_HOSTS is
// empty (the supervisor warns about that in production).
//
// Health and readiness are not exempt, as in Starlette: a probe that could
// send any Host would defeat the check for those paths too. A load balancer
// or orchestrator probing an instance by its address (Host: 10.0.3.7:8080)
// must therefore either send a listed Host (Kubernetes httpGet.httpHeaders,
// an ALB/GCLB health-check host) or have that address listed; local probes
// send Host: localhost, so list "localhost" for them. A refused probe shows
// up at once as a 400, not as a silently unchecked path.
#pragma once

#include "common/net/host_allow_list.h"
#include "worker/router.h"

namespace genkit::http {

Gate make_trusted_host_gate(HostAllowList hosts);

}  // namespace genkit::http
