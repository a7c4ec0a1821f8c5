// openai/<model>: any OpenAI-compatible /v1/chat/completions (OpenAI,
// Ollama, vLLM, llama.cpp server), streamed over SSE when asked.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/net/http_client.h"
#include "common/runtime/model.h"

namespace genkit {

struct OpenAiOptions {
  std::string base_url;  // e.g. http://127.0.0.1:11434/v1 (…/chat/completions is appended)
  std::string api_key;   // optional for local servers
  std::chrono::milliseconds timeout{120000};
};

class OpenAiModel : public Model {
 public:
  OpenAiModel(std::string model_id, HttpClient& client, OpenAiOptions options);
  std::string name() const override { return "openai/" + model_id_; }
  Json info() const override;
  void generate(Loop& loop, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) override;

 private:
  std::string model_id_;
  HttpClient& client_;
  OpenAiOptions options_;
};

// Wire mapping, exposed for tests.
Json openai_request_body(const std::string& model_id, const ModelRequest& request);
Result<ModelResponse> parse_openai_response(JsonView reply);

// Accumulates streamed chat.completion.chunk deltas into one response.
class OpenAiStreamAccumulator {
 public:
  // Returns the text delta of this chunk ("" if none); error on a malformed chunk.
  Result<std::string> add(JsonView chunk);
  ModelResponse finish();
  int chunks() const { return chunks_; }

 private:
  struct PendingCall {
    std::string id, name, arguments;
  };
  std::string text_;
  std::map<int, PendingCall> calls_;
  std::string finish_reason_ = "stop";
  ModelUsage usage_;
  int chunks_ = 0;
};

}  // namespace genkit
