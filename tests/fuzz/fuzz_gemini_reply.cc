// Gemini's generateContent and streamGenerateContent replies (JSON, SSE
// events of JSON) as the googleai model reads them: see model_call.h.
#include "common/models/gemini_model.h"
#include "tests/fuzz/support/model_call.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::call_model(data, size, [](genkit::HttpClient& client, const std::string& base_url) {
    genkit::GeminiOptions options{"fuzz-key", base_url, std::chrono::seconds(3)};
    return std::make_unique<genkit::GeminiModel>("gemini-2.5-flash", client, std::move(options));
  });
  return 0;
}
