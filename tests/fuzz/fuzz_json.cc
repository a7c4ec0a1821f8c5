// JSON text (every request body, LLM reply and cached value starts here):
// the parser, the canonical form cache keys are made of, the cheap checker
// the Redis cache uses and the strict one client bodies go through, which
// must agree with the parser.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"
#include "common/json_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  genkit::Result<genkit::Json> parsed = genkit::Json::parse(text);
  bool checked = genkit::is_json_text(text);
  // The checkers may refuse more (depth; the strict one bad UTF-8, NUL),
  // never accept what the parser refuses.
  if (checked && !parsed.ok()) abort();
  if (genkit::check_json_input(text).is_ok() && (!parsed.ok() || !checked)) abort();
  if (!parsed.ok()) return 0;
  std::string canonical = genkit::canonical_dump(parsed->view());
  genkit::Result<genkit::Json> again = genkit::Json::parse(canonical);
  if (!again.ok() || genkit::canonical_dump(again->view()) != canonical) abort();
  (void)parsed->view().dump();
  return 0;
}
