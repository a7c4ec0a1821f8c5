// The flows: one file each under common/flows/ (the sample's eight, SPEC.md
// §6, under their Genkit names), each registering itself with
// GENKIT_REGISTER_FLOW (common/flows/registration.h).
#pragma once

#include "common/status.h"

namespace genkit {

class Registry;

// Adds every flow registered with GENKIT_REGISTER_FLOW to `registry`, in the
// order of their names: tell_joke, translate_text, describe_image,
// generate_character, pirate_chat, tell_story, generate_code and review_code
// in the shipped binary (review_code needs the "code_review" prompt in the
// registry when it runs), plus whatever other flow files were linked in.
// Fails (naming the flow) on a flow without a name, input schema or
// function, on a name that is not [A-Za-z0-9_.-]+, and on a name taken twice.
Status register_builtin_flows(Registry& registry);

}  // namespace genkit
