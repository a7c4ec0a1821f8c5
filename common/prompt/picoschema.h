// Picoschema (Dotprompt's compact schema notation) to JSON Schema draft-07.
#pragma once

#include "common/json.h"
#include "common/status.h"

namespace genkit {

// Converts a Picoschema value (as parsed from YAML) to JSON Schema, following
// Genkit's rules:
//   name: type[, description]            required field
//   name?: type[, description]           optional and nullable (["type","null"])
//   name(array[, description]): items    items is a type string or a mapping
//   name(object[, description]): {...}   nested object
//   name(enum[, description]): [A, B]    optional enums also allow null
//   (*): type                            additionalProperties
// Scalar types: string, number, integer, boolean, null, any ({}). Objects get
// "additionalProperties": false unless (*) is given. A value that already is a
// JSON Schema (top-level `type` naming a JSON type, or a `properties` object)
// is passed through. Absent/null input yields null. Unknown types and
// malformed fields are INVALID_ARGUMENT errors naming the field path.
Result<Json> picoschema_to_json_schema(JsonView pico);

}  // namespace genkit
