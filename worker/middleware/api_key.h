// API-key auth (API_KEYS; Genkit's api_key context provider, checked by
// common/api_keys.h): the Authorization header is the key, verbatim. None →
// 401, a wrong one → 403, both in the JSON error format (on the flow
// server's paths in Genkit's: {"status":"UNAUTHENTICATED","message":
// "Unauthenticated"}, {"status":"PERMISSION_DENIED","message":"Permission
// Denied"}) and before the route, so an unauthenticated request never
// reaches validation or the model. Health and readiness are exempt (probes
// carry no key); CORS preflights, which browsers send without credentials,
// are answered before this gate. The key is never logged nor echoed. Not
// installed when API_KEYS is empty.
#pragma once

#include <optional>
#include <string>

#include "common/api_keys.h"
#include "worker/router.h"

namespace genkit::http {

// The Authorization value as Genkit sees it: repeated headers joined with
// ", " (so two keys are one wrong key); nullopt when none was sent.
std::optional<std::string> authorization_of(const Request& req);

Gate make_api_key_gate(ApiKeys keys);

}  // namespace genkit::http
