// Whether a text is one JSON document (RFC 8259), without building it: for
// JSON that is passed on as text (a result read back from Redis), checked
// at a fraction of a parse's cost. Nesting deeper than `max_depth` fails.
#pragma once

#include <string_view>

namespace genkit {

bool is_json_text(std::string_view text, int max_depth = 256);

}  // namespace genkit
