// Compiled-once ECMAScript regexes for schema `pattern` keywords: validation
// runs per request, and compiling a std::regex costs far more than matching.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace genkit {

// libstdc++'s regex executor recurses once per matched character; beyond a
// few thousand bytes it can overflow a thread's stack (sooner under ASan), so
// longer subjects are refused instead of matched.
inline constexpr std::size_t kMaxPatternSubjectBytes = 1000;

enum class PatternMatch { kMatch, kNoMatch, kInvalidPattern, kSubjectTooLong };

// Unanchored search of `pattern` in `subject` (JSON Schema semantics; anchors
// belong to the pattern). Thread-safe.
PatternMatch search_pattern(const std::string& pattern, std::string_view subject);

}  // namespace genkit
