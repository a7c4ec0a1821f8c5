// OpenAI-compatible chat completions replies (a chat.completion, or SSE
// chat.completion.chunk deltas ending in [DONE]) as the openai model reads
// them: see model_call.h.
#include "common/models/openai_model.h"
#include "tests/fuzz/support/model_call.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::call_model(data, size, [](genkit::HttpClient& client, const std::string& base_url) {
    genkit::OpenAiOptions options{base_url + "/v1", "fuzz-key", std::chrono::seconds(3)};
    return std::make_unique<genkit::OpenAiModel>("gpt-4o-mini", client, std::move(options));
  });
  return 0;
}
