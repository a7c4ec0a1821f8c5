// Declarative schemas for the flows' input/output models (the seed's pydantic
// models): defaults, constraints, field-level validation messages, and the
// JSON Schema (draft-07) of each.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace genkit {

struct FieldSpec {
  enum class Type { kString, kInteger, kNumber, kBoolean, kStringArray, kObject };
  std::string name;                     // wire name (e.g. "backStory")
  Type type = Type::kString;
  std::string description;
  bool required = false;                // true when the model has no default
  bool nullable = false;                // str | None
  std::optional<Json> default_value;    // applied when the field is missing
  std::optional<int64_t> min_length;    // strings: characters (code points); arrays: items
  std::optional<int64_t> max_length;
  std::optional<double> minimum;        // ge
  std::optional<double> maximum;        // le
  std::optional<std::string> pattern;   // ECMAScript regex, anchored by the pattern itself
  const struct ObjectSchema* object = nullptr;  // kObject
};

// One failing field of a validation: "skills.strength", "must be ...".
struct FieldError {
  std::string path;  // "" for the input itself
  std::string message;
};

struct ObjectSchema {
  std::string name;          // "JokeInput"
  std::string description;
  std::vector<FieldSpec> fields;

  // Validates `input` (must be an object; unknown members are ignored, as
  // pydantic does) and returns a copy with defaults applied. On failure the
  // status is INVALID_ARGUMENT and its message names every failing field,
  // "field: message", joined by "; " (nested: "skills.strength: ..."); the
  // same failures one by one go to `errors` when given.
  Result<Json> validate(JsonView input, std::vector<FieldError>* errors = nullptr) const;

  // JSON Schema draft-07 of this model ("$schema" included at the top level).
  Json json_schema() const;
};

}  // namespace genkit
