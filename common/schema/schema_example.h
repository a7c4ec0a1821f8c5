// Builds a document that satisfies a JSON Schema, for the offline mock model's
// structured output: the reply text fills the strings.
#pragma once

#include <string_view>

#include "common/json.h"

namespace genkit {

// A value valid against `schema` (draft-07 subset: types, string and numeric
// bounds, enum/const, pattern via a few candidates, arrays, objects, local
// $ref, anyOf/oneOf first branch, allOf of objects). Strings are `text`,
// fitted to minLength/maxLength. Best effort: a schema it cannot satisfy
// (contradictory, or a pattern none of its candidates match) yields a
// document that may fail validation.
Json example_for_schema(JsonView schema, std::string_view text);

}  // namespace genkit
