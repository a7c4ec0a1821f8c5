// mock/echo: the built-in, deterministic, offline model. It echoes the
// prompt ("Echo: ..."), streams that text in several chunks, asks for the
// first offered tool once (so the tool loop runs offline too), and for
// structured output returns a document valid against the requested schema.
#pragma once

#include "common/runtime/model.h"

namespace genkit {

class MockEchoModel : public Model {
 public:
  explicit MockEchoModel(int chunk_delay_ms) : chunk_delay_ms_(chunk_delay_ms) {}
  std::string name() const override { return "mock/echo"; }
  Json info() const override;
  void generate(Loop& loop, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) override;

  // The reply text for a request (exposed for tests).
  static std::string echo_text(const ModelRequest& request);
  // How the text is cut into stream chunks: whole words, at most 6 chunks.
  static std::vector<std::string> split_chunks(const std::string& text);

 private:
  int chunk_delay_ms_;
};

}  // namespace genkit
