// tell_joke: a joke about `name` for `username`; streams the model's chunks
// when the caller streams. REST: POST /tell-joke, /tell-joke/stream.
#include "common/flows/flow_helpers.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

void tell_joke(FlowRunPtr run) {
  std::string username = run->input()["username"].is_string() ? text_of(run->input()["username"]) : "anonymous";
  GenerateOptions opts;
  opts.prompt = "Tell a medium-length joke about " + text_of(run->input()["name"]) + " for user " + username + ".";
  stream_into(run, opts);
  run->generate(std::move(opts), finish_with(run, false));
}

}  // namespace

// Meant to differ each time: not cacheable.
GENKIT_REGISTER_FLOW([] {
  return make_flow("tell_joke", joke_input_schema(), string_schema(), tell_joke, FlowKind::kStreams);
});

}  // namespace genkit
