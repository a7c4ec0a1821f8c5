// review_code: the Dotprompt prompts/code_review.prompt (its own model when
// that provider is configured, its config and output schema). REST: POST
// /review-code.
#include <vector>

#include "common/flows/flow_helpers.h"
#include "common/prompt/dotprompt.h"
#include "common/runtime/runtime.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

void review_code(FlowRunPtr run) {
  auto prompt = run->runtime().registry().prompt("code_review");
  if (!prompt) return run->finish(Status(Code::kInternal, "prompt code_review is not loaded"));
  Json vars = Json::object();
  vars.set("code", Json::copy_of(run->input()["code"]));
  vars.set("language", Json::string(run->input()["language"].as_string()));
  Result<std::vector<Message>> messages = render_prompt(*prompt, vars.view());
  if (!messages.ok()) return run->finish(Status(Code::kInternal, "code_review prompt: " + messages.status().message()));
  GenerateOptions opts;
  // The prompt's own model when its provider is configured, else the default.
  if (run->runtime().registry().model(prompt->model)) opts.model = prompt->model;
  opts.messages = std::move(messages).value();
  opts.config = prompt->config;
  opts.output_schema = prompt->output_schema;
  run->generate(std::move(opts), finish_with(run, !prompt->output_schema.view().is_null()));
}

Json object_type() {
  Json s = Json::object();
  s.set("type", Json::string("object"));
  return s;
}

}  // namespace

GENKIT_REGISTER_FLOW([] {
  return make_flow("review_code", code_review_input_schema(), object_type(), review_code, FlowKind::kCacheable);
});

}  // namespace genkit
