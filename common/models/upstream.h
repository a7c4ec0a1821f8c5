// What the model providers share: mapping upstream failures to statuses
// (nothing internal reaches a client), recording them for the circuit
// breaker, and turning media URLs into inline data as Genkit does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/net/http_client.h"
#include "common/runtime/model.h"
#include "common/runtime/loop.h"
#include "common/status.h"

namespace genkit {

// 429/503 → UNAVAILABLE (503), other 4xx/5xx → UPSTREAM (502). The message
// names the provider and status, never the upstream body or the API key.
Status upstream_http_error(std::string_view provider, long http_status);

// Whether a call's outcome says the upstream is failing (5xx, 429, timeout,
// connection error, unusable reply): what the circuit breaker counts. A
// cancelled call, a request we could not build (INVALID_ARGUMENT) or one the
// provider refused (4xx: bad input of one client) is not.
bool is_upstream_failure(const Status& status);

// Reports a provider call's outcome once: logs failures, and calls on_done
// unless the call was cancelled.
void finish_model_call(const std::string& model, ModelCallbacks& callbacks, const CancelToken& cancel,
                       Result<ModelResponse> result);

// Model metadata for /api/actions: a label and the features real providers support.
Json provider_model_info(const std::string& label);

struct InlineMedia {
  std::string mime_type;
  std::string base64;
};

constexpr std::size_t kMaxMediaBytes = 20 * 1024 * 1024;

// data: URLs are decoded in place; http(s) URLs are fetched with `client`
// (bounded size; the content type must be image/*, audio/*, video/*,
// application/pdf or text/*). Errors are INVALID_ARGUMENT (a bad URL or
// unsupported type) or UNAVAILABLE (the fetch failed).
void resolve_media(HttpClient& client, const std::string& url, const std::string& declared_type,
                   std::chrono::milliseconds timeout, CancelToken cancel,
                   std::function<void(Result<InlineMedia>)> done);

std::string base64_encode(std::string_view bytes);

}  // namespace genkit
