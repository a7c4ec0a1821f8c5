// A Handlebars subset for Dotprompt templates, compiled once and rendered
// into role-tagged messages. There is no HTML escaping (Dotprompt renders with
// noEscape), so {{x}} and {{{x}}} produce the same text.
//
// Supported: {{path}} with dotted/slashed paths, this, ../, @root, @index,
// @key, @first, @last, block params (`as |item i|`); blocks #if / #unless /
// #each (arrays and objects) / #with / #ifEquals / #unlessEquals with
// {{else}} and {{else if ...}} chains; comments; `~` whitespace control and
// Handlebars' standalone-line rules; Dotprompt helpers json, role, media and
// history. Anything else (partials, subexpressions, unknown helpers, malformed
// tags, unbalanced blocks) is rejected by parse() with a line number.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/runtime/message.h"
#include "common/status.h"

namespace genkit {

namespace handlebars_internal {
struct Program;
}

class HandlebarsTemplate {
 public:
  HandlebarsTemplate() = default;  // the empty template: renders no messages

  // Compiles `source`; errors are INVALID_ARGUMENT "line N: ..." where N
  // counts from `first_line` (so callers can report file line numbers).
  static Result<HandlebarsTemplate> parse(std::string_view source, int first_line = 1);

  // Renders with `context` as the root. Text goes to the current message
  // (role user at first); {{role "x"}} starts a new message; {{media}} adds a
  // media part. Messages and text parts holding only whitespace are dropped.
  // Fails only on bad runtime values (e.g. an unknown role name in a
  // variable) or oversized output.
  Result<std::vector<Message>> render(JsonView context) const;

 private:
  explicit HandlebarsTemplate(std::shared_ptr<const handlebars_internal::Program> program)
      : program_(std::move(program)) {}

  // Shared: templates are immutable after parse and copied into prompts.
  std::shared_ptr<const handlebars_internal::Program> program_;
};

}  // namespace genkit
