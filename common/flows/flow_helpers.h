// What the flows of common/flows/ share: reading input strings, streaming a
// model's chunks to the caller, and finishing a run with a model's reply.
#pragma once

#include <string>

#include "common/flows/registration.h"
#include "common/json.h"
#include "common/runtime/flow.h"
#include "common/runtime/generate.h"

namespace genkit {

// {"type":"string"}: the output schema of a flow that replies with text.
inline Json string_schema() {
  Json s = Json::object();
  s.set("type", Json::string("string"));
  return s;
}

// The string of a JSON value ("" when it is not a string).
inline std::string text_of(JsonView v) { return std::string(v.as_string()); }

// Finishes the run with the reply text, or the structured output when asked.
inline GenerateDone finish_with(const FlowRunPtr& run, bool structured) {
  return [run, structured](Result<GenerateResult> r) {
    if (!r.ok()) return run->finish(r.status());
    run->finish(structured ? std::move(r->output) : Json::string(r->text));
  };
}

// Streams the model's chunks to the caller when the caller consumes chunks.
inline void stream_into(const FlowRunPtr& run, GenerateOptions& opts) {
  if (run->streaming()) opts.on_chunk = [run](const std::string& chunk) { run->send_chunk(chunk); };
}

}  // namespace genkit
