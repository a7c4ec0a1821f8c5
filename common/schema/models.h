// The seed's pydantic models (flow inputs and structured outputs) as
// process-wide ObjectSchema singletons: the eight built-in flows, gRPC's
// mapping and the tests share them. A new flow defines its own schema types
// in its own file (common/schema/fields.h, README "Use as a template").
#pragma once

#include <vector>

#include "common/schema/schema.h"

namespace genkit {

const ObjectSchema& joke_input_schema();
const ObjectSchema& joke_response_schema();
const ObjectSchema& translate_input_schema();
const ObjectSchema& translation_result_schema();
const ObjectSchema& image_input_schema();
const ObjectSchema& image_response_schema();
const ObjectSchema& character_input_schema();
const ObjectSchema& skills_schema();
const ObjectSchema& rpg_character_schema();
const ObjectSchema& chat_input_schema();
const ObjectSchema& chat_response_schema();
const ObjectSchema& story_input_schema();
const ObjectSchema& code_input_schema();
const ObjectSchema& code_output_schema();
const ObjectSchema& code_review_input_schema();

// Every model above, in declaration order (for tests and schema listings).
std::vector<const ObjectSchema*> all_model_schemas();

}  // namespace genkit
