// googleai/<model>: the Gemini REST API (generateContent and
// streamGenerateContent?alt=sse) over the non-blocking HTTP client.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/models/upstream.h"
#include "common/net/http_client.h"
#include "common/runtime/model.h"

namespace genkit {

struct GeminiOptions {
  std::string api_key;
  std::string base_url = "https://generativelanguage.googleapis.com";
  std::chrono::milliseconds timeout{120000};
};

class GeminiModel : public Model {
 public:
  GeminiModel(std::string model_id, HttpClient& client, GeminiOptions options);
  std::string name() const override { return "googleai/" + model_id_; }
  Json info() const override;
  void generate(Loop& loop, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) override;

 private:
  std::string model_id_;
  HttpClient& client_;
  GeminiOptions options_;
};

// Wire mapping, exposed for tests. `media` holds the inline data of the
// request's media parts, in order.
Json gemini_request_body(const ModelRequest& request, const std::vector<InlineMedia>& media);
// One GenerateContentResponse (a whole reply or one stream event).
Result<ModelResponse> parse_gemini_response(JsonView reply);
// JSON Schema → Gemini's OpenAPI-subset Schema object.
Json to_gemini_schema(JsonView schema);

}  // namespace genkit
