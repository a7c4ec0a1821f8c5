// Dotprompt: .prompt files with YAML front matter (model, config, input and
// output schemas in Picoschema) and a Handlebars body rendered to messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/prompt/handlebars.h"
#include "common/runtime/message.h"
#include "common/status.h"

namespace genkit {

struct PromptTemplate {
  std::string name;           // file name without .prompt ("code_review"); "x.variant.prompt" -> "x"
  std::string variant;        // "variant" for "x.variant.prompt", else ""
  std::string model;          // front matter `model` ("" if absent)
  Json config;                // front matter `config` (object or null)
  Json input_schema;          // JSON Schema (converted from picoschema) or null
  Json input_defaults;        // front matter input.default (object) or null
  Json output_schema;         // JSON Schema or null
  std::string output_format;  // "json", "text", or "" (a schema without a format implies "json", as in Genkit)
  Json metadata;              // the raw front matter as JSON ({} when there is none)
  std::string template_source;  // the Handlebars body as written (trimmed)
  HandlebarsTemplate body;      // compiled once; cheap to copy (shared)
};

// Parses one .prompt file. `name` is the file name with or without the
// ".prompt" suffix; it names the prompt and prefixes every error message
// ("code_review.prompt: front matter line 3, column 5: ...",
//  "code_review.prompt: line 20: {{#if}} is never closed"). Line numbers
// are those of the file. Errors are INVALID_ARGUMENT.
Result<PromptTemplate> parse_dotprompt(std::string_view name, std::string_view source);

// Renders `input` (an object, or null/absent) shallow-merged over the
// prompt's input defaults. Does not validate against input_schema.
Result<std::vector<Message>> render_prompt(const PromptTemplate& prompt, JsonView input);

// Loads every *.prompt file directly in `dir` (not recursive), skipping
// partials (names starting with '_'), sorted by file name. Any unreadable or
// invalid file fails the whole load with an error naming its path.
Result<std::vector<PromptTemplate>> load_prompt_dir(const std::string& dir);

}  // namespace genkit
