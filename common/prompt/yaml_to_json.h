// YAML (front matter) to JSON, via libyaml's event API.
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace genkit {

// Converts one YAML document to JSON using the YAML 1.2 core schema for plain
// scalars: integers/floats become numbers, true/false booleans, null/~/empty
// null; quoted scalars (and `!!str`) are always strings. Mapping keys are
// always strings. Aliases, complex keys, duplicate keys, several documents and
// nesting deeper than 64 are rejected. Empty input yields null.
// Errors are INVALID_ARGUMENT "line L, column C: problem" (1-based).
Result<Json> yaml_to_json(std::string_view yaml);

}  // namespace genkit
