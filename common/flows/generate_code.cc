// generate_code: code, its language, an explanation and a file name as
// structured output (CodeOutput). REST: POST /generate-code.
#include "common/flows/flow_helpers.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

void generate_code(FlowRunPtr run) {
  GenerateOptions opts;
  opts.prompt = "Generate " + text_of(run->input()["language"]) + " code for: " +
                text_of(run->input()["description"]) +
                "\n\n"
                "Requirements:\n"
                "- Write clean, idiomatic, production-quality code\n"
                "- Include docstrings/comments where helpful\n"
                "- Follow language conventions and best practices\n"
                "- Suggest an appropriate filename\n"
                "- Explain what the code does briefly";
  opts.output_schema = code_output_schema().json_schema();
  run->generate(std::move(opts), finish_with(run, true));
}

}  // namespace

GENKIT_REGISTER_FLOW([] {
  return make_flow("generate_code", code_input_schema(), code_output_schema().json_schema(), generate_code,
                   FlowKind::kCacheable);
});

}  // namespace genkit
