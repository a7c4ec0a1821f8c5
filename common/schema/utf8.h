// UTF-8 helpers for length constraints: pydantic and JSON Schema both count
// characters as Unicode code points, not bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace genkit {

// Code points in `s`, or nullopt when `s` is not well-formed UTF-8 (overlong
// forms, surrogates and values above U+10FFFF are rejected).
std::optional<std::size_t> utf8_length(std::string_view s);

// Code points counted leniently: every byte that is not a continuation byte
// starts a character. Equals utf8_length() on well-formed input.
std::size_t utf8_length_lenient(std::string_view s);

// The longest prefix of `s` holding at most `max_points` code points (never
// splits a multi-byte sequence).
std::string utf8_truncate(std::string_view s, std::size_t max_points);

}  // namespace genkit
