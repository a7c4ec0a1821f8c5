// The sample's eight flows (SPEC.md §6), registered under their Genkit names.
#pragma once

namespace genkit {

class Registry;

// Registers tell_joke, translate_text, describe_image, generate_character,
// pirate_chat, tell_story, generate_code and review_code. review_code needs
// the "code_review" prompt in the registry when it runs.
void register_builtin_flows(Registry& registry);

}  // namespace genkit
