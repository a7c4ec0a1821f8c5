// Whether a text is one JSON document (RFC 8259), without building it: for
// JSON that is passed on as text (a result read back from Redis), checked
// at a fraction of a parse's cost. Nesting deeper than `max_depth` fails.
// The strict form is for JSON from clients, before cJSON parses it.
#pragma once

#include <string_view>

#include "common/json.h"
#include "common/status.h"

namespace genkit {

bool is_json_text(std::string_view text, int max_depth = 256);

// What a client's JSON may nest: far beyond any flow's input, far below
// what a recursive parse (and every recursive walk after it) can afford.
constexpr int kMaxJsonInputDepth = 64;

// The strict check: one document, nested at most `max_depth` deep, whose
// strings are well-formed UTF-8 (RFC 8259 §8.1; cJSON takes any bytes)
// with no raw control character, no unpaired surrogate escape and no
// \u0000 (a C string cannot hold one: cJSON would silently cut the text
// there). The error says what and at which byte.
Status check_json_input(std::string_view text, int max_depth = kMaxJsonInputDepth);

// check_json_input(), then the parse.
Result<Json> parse_json_input(std::string_view text, int max_depth = kMaxJsonInputDepth);

}  // namespace genkit
