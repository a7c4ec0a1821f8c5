#include "worker/http1_head_guard.h"

namespace genkit::http {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

void Http1HeadGuard::expect_head() {
  state_ = State::kLineStart;
  seen_request_line_ = false;
  line_empty_ = true;
}

Http1HeadGuard::Scan Http1HeadGuard::scan(std::string_view input) {
  for (std::size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (state_ == State::kDone) return {i, nullptr};
    if (state_ == State::kAfterCr) {
      if (c != '\n') return {i, "a CR not followed by LF in the request head"};
      if (line_end()) return {i + 1, nullptr};
      continue;
    }
    if (c == '\n') return {i, "a bare LF as a line end in the request head (CRLF is required)"};
    if (c == '\r') {
      state_ = State::kAfterCr;
      continue;
    }
    switch (state_) {
      case State::kLineStart:
        if (const char* v = line_start(c)) return {i, v};
        break;
      case State::kFieldName:
        if (is_blank(c)) return {i, "whitespace between a header field name and its colon"};
        if (c == ':') state_ = State::kFieldValue;
        break;
      default:
        break;
    }
  }
  return {input.size(), nullptr};
}

const char* Http1HeadGuard::line_start(char c) {
  line_empty_ = false;
  if (!seen_request_line_) {
    state_ = State::kRequestLine;
    return nullptr;
  }
  // A field line that starts with whitespace continues the previous one
  // (obs-fold), or puts whitespace before the first field.
  if (is_blank(c)) return "a folded header line (obs-fold) in the request head";
  state_ = c == ':' ? State::kFieldValue : State::kFieldName;  // (an empty name is the parser's to refuse)
  return nullptr;
}

bool Http1HeadGuard::line_end() {
  const bool empty = line_empty_;
  state_ = State::kLineStart;
  line_empty_ = true;
  if (!empty) {
    seen_request_line_ = true;  // (a no-op after the first line)
    return false;
  }
  // Empty lines before the request line are ignored (RFC 9112 §2.2); after
  // it, the empty line ends the head.
  if (!seen_request_line_) return false;
  state_ = State::kDone;
  return true;
}

}  // namespace genkit::http
