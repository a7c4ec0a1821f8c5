// generate_character: an RPG character as structured output (RpgCharacter).
// REST: POST /generate-character.
#include "common/flows/flow_helpers.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

void generate_character(FlowRunPtr run) {
  GenerateOptions opts;
  opts.prompt = "Generate a creative RPG character named " + text_of(run->input()["name"]) +
                ". Output ONLY the JSON object.";
  opts.output_schema = rpg_character_schema().json_schema();
  run->generate(std::move(opts), finish_with(run, true));
}

}  // namespace

GENKIT_REGISTER_FLOW([] {
  return make_flow("generate_character", character_input_schema(), rpg_character_schema().json_schema(),
                   generate_character, FlowKind::kCacheable);
});

}  // namespace genkit
