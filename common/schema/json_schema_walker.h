// Internal to the JSON Schema validator: the evaluation state shared by the
// keyword families (json_schema_validator.cc, json_schema_keywords.cc).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/json.h"

namespace genkit::schema_internal {

class Walker {
 public:
  // Subschema nesting limit: a cyclic $ref hits it instead of the stack.
  static constexpr int kMaxDepth = 64;
  // Subschema evaluations per document: branching combinators over cyclic
  // refs would otherwise take exponential time before reaching kMaxDepth.
  static constexpr long kMaxSteps = 1000000;
  static constexpr std::size_t kMaxErrors = 5;

  explicit Walker(JsonView root) : root_(root) {}

  // Validates `inst` (at `path`) against `schema`, recording failures while
  // collecting. Returns validity.
  bool check(JsonView schema, JsonView inst, const std::string& path, int depth);

  const std::vector<std::string>& errors() const { return errors_; }
  // Set when the schema itself could not be evaluated; the verdict is then
  // "invalid" whatever `not` or `anyOf` would have made of it.
  bool aborted() const { return aborted_; }

 private:
  // Verdict only, no messages: the branches of anyOf/oneOf/not/if/contains.
  bool probe(JsonView schema, JsonView inst, const std::string& path, int depth);
  bool fail(const std::string& path, const std::string& message);
  bool abort(const std::string& path, const std::string& message);
  // True once evaluating further keywords cannot change what is reported:
  // a probe needs only its first failure, a report only kMaxErrors.
  bool settled(bool ok) const { return aborted_ || (!ok && (!collecting_ || errors_.size() >= kMaxErrors)); }
  // Pattern search with the regex failure modes turned into aborts.
  bool matches(const std::string& pattern, std::string_view subject, const std::string& path, bool* ok);

  bool check_ref(std::string_view ref, JsonView inst, const std::string& path, int depth);
  bool check_generic(JsonView s, JsonView inst, const std::string& path);
  bool check_combinators(JsonView s, JsonView inst, const std::string& path, int depth);
  bool check_numeric(JsonView s, JsonView inst, const std::string& path);
  bool check_string(JsonView s, JsonView inst, const std::string& path);
  bool check_array(JsonView s, JsonView inst, const std::string& path, int depth);
  bool check_object(JsonView s, JsonView inst, const std::string& path, int depth);
  bool check_properties(JsonView s, JsonView inst, const std::string& path, int depth);

  JsonView root_;
  std::vector<std::string> errors_;
  bool collecting_ = true;
  bool aborted_ = false;
  long steps_ = 0;
};

// "a.b" / "a.2"; the root is "".
std::string child_path(const std::string& path, std::string_view key);
// Compact JSON of `v`, shortened for messages.
std::string render(JsonView v);

}  // namespace genkit::schema_internal
