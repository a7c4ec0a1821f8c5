// tell_story: a short story about `topic`, streamed chunk by chunk when the
// caller streams. REST: POST /tell-story/stream.
#include "common/flows/flow_helpers.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

void tell_story(FlowRunPtr run) {
  GenerateOptions opts;
  opts.prompt = "Write a short story (3-4 paragraphs) about " + text_of(run->input()["topic"]) + ".";
  stream_into(run, opts);
  run->generate(std::move(opts), finish_with(run, false));
}

}  // namespace

// Meant to differ each time: not cacheable.
GENKIT_REGISTER_FLOW([] {
  return make_flow("tell_story", story_input_schema(), string_schema(), tell_story, FlowKind::kStreams);
});

}  // namespace genkit
