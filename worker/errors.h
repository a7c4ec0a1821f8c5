// The JSON error format of SPEC.md §4: {"error": "<reason phrase>", "detail": "<message>"}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/status.h"
#include "worker/http_types.h"

namespace genkit::http {

Response error_response(int status, std::string_view detail);
// The 413 detail, the same over HTTP/1.1 and HTTP/2.
std::string body_too_large_detail(int64_t max_body);

// HTTP status for a failed flow. Internal details never reach the client:
// for 500 the detail is generic (the real message goes to the log).
int http_status_for(Code code);
Response error_response_for(const Status& status);
// The message a client may see for a failed flow (generic for 500).
std::string public_message(const Status& status);

// Genkit's flow-server errors (docs/genkit-protocols.md §1): the status name
// and HTTP code for a Code (an upstream failure is INTERNAL, as in grpcd),
// and the body {"details"?, "status", "message"} — for INTERNAL a generic
// message unless it is an upstream's (the real one goes to the log).
const char* genkit_status_name(Code code);
int genkit_status_number(Code code);  // the reflection API's numeric code (INVALID_ARGUMENT 3, INTERNAL 13)
int genkit_http_status(Code code);
Json genkit_error_json(const Status& status, const Json* details = nullptr);
Response genkit_error_response(const Status& status, const Json* details = nullptr);

}  // namespace genkit::http
