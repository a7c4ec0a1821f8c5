// A request body as every flow's input validation sees it (REST bodies,
// the flow server's {"data": ...} envelope): parse, validate against each
// flow's input model with defaults applied, and the cache key's canonical
// form of what validated.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "common/json_check.h"
#include "common/schema/models.h"
#include "common/schema/schema.h"

namespace {

void validate_everywhere(genkit::JsonView body) {
  for (const genkit::ObjectSchema* schema : genkit::all_model_schemas()) {
    std::vector<genkit::FieldError> errors;
    genkit::Result<genkit::Json> input = schema->validate(body, &errors);
    if (input.ok() != errors.empty()) abort();  // the two ways of telling agree
    if (!input.ok()) continue;
    // What validated, validates again unchanged (defaults are idempotent).
    genkit::Result<genkit::Json> again = schema->validate(input->view());
    if (!again.ok() || genkit::canonical_dump(again->view()) != genkit::canonical_dump(input->view())) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // (As the routes read a body: the strict check first, then the parse.)
  genkit::Result<genkit::Json> body =
      genkit::parse_json_input(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!body.ok()) return 0;
  validate_everywhere(body->view());
  validate_everywhere(body->view()["data"]);
  return 0;
}
