// .prompt files (YAML front matter, Picoschema, Handlebars body) and their
// rendering: the input is the file, optionally followed by a NUL byte and
// the JSON input to render it with.
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "common/prompt/dotprompt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t cut = input.find('\0');
  genkit::Result<genkit::PromptTemplate> prompt = genkit::parse_dotprompt("fuzz.prompt", input.substr(0, cut));
  if (!prompt.ok()) return 0;
  genkit::Json render_input;
  if (cut != std::string_view::npos) {
    genkit::Result<genkit::Json> parsed = genkit::Json::parse(input.substr(cut + 1));
    if (parsed.ok()) render_input = std::move(parsed).value();
  }
  (void)genkit::render_prompt(*prompt, render_input.view());
  return 0;
}
