// The model interface every provider implements. Calls are asynchronous: the
// provider reports chunks and the final response through callbacks on the
// loop it was given, and stops work when the cancel token fires.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/runtime/loop.h"
#include "common/runtime/message.h"
#include "common/status.h"

namespace genkit {

struct ToolDefinition {
  std::string name;
  std::string description;
  Json input_schema;
  Json output_schema;
};

struct ModelRequest {
  std::vector<Message> messages;       // system messages first, if any
  std::vector<ToolDefinition> tools;
  Json output_schema;                  // null unless structured output was asked for
  std::string output_format;           // "json" or "" (text)
  Json config;                         // provider options (temperature, ...), may be null
  bool stream = false;
};

struct ModelUsage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

struct ModelResponse {
  Message message;                     // role model; may hold tool requests
  std::string finish_reason = "stop";  // stop | length | blocked | other
  ModelUsage usage;
};

struct ModelCallbacks {
  std::function<void(const std::string& text)> on_chunk;   // only when request.stream
  std::function<void(Result<ModelResponse>)> on_done;       // exactly once, unless cancelled
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;   // "mock/echo", "googleai/gemini-2.5-flash"
  virtual Json info() const = 0;           // {"label":..,"supports":{..}} for /api/actions
  virtual void generate(Loop& loop, ModelRequest request, ModelCallbacks callbacks, CancelToken cancel) = 0;
};

}  // namespace genkit
