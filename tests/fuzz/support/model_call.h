// One model call of a provider against the canned upstream: the input's
// first byte chooses streamed or not (bit 0) and JSON output or text
// (bit 1); the rest is the upstream's reply, HTTP head included. The call
// must end with a response or an error, never crash or hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/net/http_client.h"
#include "common/runtime/model.h"

namespace fuzz {

using ModelFactory =
    std::function<std::unique_ptr<genkit::Model>(genkit::HttpClient& client, const std::string& base_url)>;

void call_model(const uint8_t* data, std::size_t size, const ModelFactory& make);

}  // namespace fuzz
