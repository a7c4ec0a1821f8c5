// The JSON error format of SPEC.md §4: {"error": "<reason phrase>", "detail": "<message>"}.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "worker/http_types.h"

namespace genkit::http {

Response error_response(int status, std::string_view detail);

// HTTP status for a failed flow. Internal details never reach the client:
// for 500 the detail is generic (the real message goes to the log).
int http_status_for(Code code);
Response error_response_for(const Status& status);
// The message a client may see for a failed flow (generic for 500).
std::string public_message(const Status& status);

}  // namespace genkit::http
