// fake_llm: builds a JSON value that is valid for a schema.
#pragma once

#include <cjson/cJSON.h>

namespace fake {

// Returns a new cJSON value (caller owns) valid for `schema`, which may be a
// JSON Schema (lower-case types, $ref/$defs, anyOf/oneOf, enum, const) or a
// Gemini Schema (upper-case types such as OBJECT/STRING). Objects get every
// declared property; strings are "fake" (or the first enum value / a value
// for a known format); integers/numbers the minimum (else 1, clamped to the
// maximum); booleans true; arrays max(1, minItems) items.
cJSON* fake_value_for_schema(const cJSON* schema);

}  // namespace fake
