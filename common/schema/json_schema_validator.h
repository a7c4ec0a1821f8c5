// A JSON Schema (draft-07) validator for model outputs and tests: local $ref
// only (no $id base URIs, no remote documents); `format` is an annotation.
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace genkit {

// OK when `instance` is valid against `schema`; otherwise INVALID_ARGUMENT
// whose message lists the first few failures as "path: message" joined by
// "; " (path "skills.strength", "abilities.2", or "(root)"). A schema the
// validator cannot evaluate (unresolvable $ref, unsupported regex, nesting
// deeper than 64, e.g. a cyclic $ref) also fails, with a message saying so.
Status validate_json_schema(JsonView schema, JsonView instance);

// Deep JSON equality as JSON Schema defines it: numbers by value (1 == 1.0),
// object member order irrelevant, true != 1.
bool json_equal(JsonView a, JsonView b);

// Resolves a local reference ("#", "#/definitions/x", with ~0 ~1 and
// %-escapes) against `root`; absent when it is not local or not found.
JsonView resolve_local_ref(JsonView root, std::string_view ref);

}  // namespace genkit
