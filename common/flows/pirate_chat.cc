// pirate_chat: a question answered under a system prompt (a pirate captain).
// REST: POST /chat.
#include "common/flows/flow_helpers.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

void pirate_chat(FlowRunPtr run) {
  GenerateOptions opts;
  opts.prompt = text_of(run->input()["question"]);
  opts.system =
      "You are a pirate captain from the 18th century. "
      "Always respond in character, using pirate slang and nautical terminology.";
  run->generate(std::move(opts), finish_with(run, false));
}

}  // namespace

// Meant to differ each time: not cacheable.
GENKIT_REGISTER_FLOW([] { return make_flow("pirate_chat", chat_input_schema(), string_schema(), pirate_chat); });

}  // namespace genkit
