// generate(): one model interaction as Genkit runs it — system prompt and
// messages, the tool-call loop (bounded turns), structured output validated
// against its schema (one repair retry), and streaming. Non-blocking: the
// result arrives through `done` on the runtime's loop.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/runtime/loop.h"
#include "common/runtime/message.h"
#include "common/runtime/model.h"
#include "common/status.h"

namespace genkit {

class Runtime;
class ActiveSpan;

struct GenerateOptions {
  std::string model;                 // "" → the runtime's default model
  std::string system;                // system prompt, if any
  std::string prompt;                // appended as a user message, if non-empty
  std::vector<Message> messages;     // conversation before `prompt`
  std::vector<std::string> tools;    // registered tool names offered to the model
  Json output_schema;                // null → text output
  Json config;
  std::function<void(const std::string&)> on_chunk;  // set → stream
};

struct GenerateResult {
  std::string text;   // the final reply's text
  Json output;        // parsed structured output (null for text)
  ModelResponse response;
};

using GenerateDone = std::function<void(Result<GenerateResult>)>;

void generate(Runtime& runtime, const std::shared_ptr<ActiveSpan>& parent, CancelToken cancel,
              GenerateOptions options, GenerateDone done);

// Extracts the JSON document from a model's text reply (tolerates ```json fences).
Result<Json> parse_structured_reply(const std::string& text);

}  // namespace genkit
