// translate_text: a structured translation (TranslationResult) that offers
// the model the get_current_time tool, after a traced sanitize-input step.
// REST: POST /translate.
#include <string_view>

#include "common/flows/flow_helpers.h"
#include "common/schema/models.h"

namespace genkit {

namespace {

// Python's str.strip()[:2000]: whitespace trimmed, then the first 2000 code points.
Json sanitize_text(JsonView in) {
  std::string_view s = in.as_string();
  const char* ws = " \t\n\r\f\v";
  std::size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return Json::string("");
  std::size_t e = s.find_last_not_of(ws);
  s = s.substr(b, e - b + 1);
  std::size_t points = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && points++ == 2000) break;
  }
  return Json::string(s.substr(0, i));
}

void translate_text(FlowRunPtr run) {
  Json sanitized = run->run_step("sanitize-input", run->input()["text"], sanitize_text);
  GenerateOptions opts;
  opts.prompt = "Translate the following text to " + text_of(run->input()["target_language"]) +
                ". Use the get_current_time tool to note when the translation was done.\n\nText: " +
                text_of(sanitized.view());
  opts.tools = {"get_current_time"};
  opts.output_schema = translation_result_schema().json_schema();
  run->generate(std::move(opts), finish_with(run, true));
}

}  // namespace

GENKIT_REGISTER_FLOW([] {
  return make_flow("translate_text", translate_input_schema(), translation_result_schema().json_schema(),
                   translate_text, FlowKind::kCacheable);
});

}  // namespace genkit
