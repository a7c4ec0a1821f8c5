// The JSON Schema validator (model outputs, prompt schemas): the input is a
// schema and an instance, two JSON texts separated by a NUL byte. Neither is
// trusted: cyclic $refs, huge regexes and deep nesting must fail cleanly.
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "common/schema/json_schema_validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t cut = input.find('\0');
  if (cut == std::string_view::npos) return 0;
  genkit::Result<genkit::Json> schema = genkit::Json::parse(input.substr(0, cut));
  genkit::Result<genkit::Json> instance = genkit::Json::parse(input.substr(cut + 1));
  if (!schema.ok() || !instance.ok()) return 0;
  (void)genkit::validate_json_schema(schema->view(), instance->view());
  (void)genkit::json_equal(schema->view(), instance->view());
  return 0;
}
