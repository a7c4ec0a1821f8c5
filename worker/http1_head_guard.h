// The line syntax of an HTTP/1.1 request head, checked before libhttp-parser
// sees it. The parser (2.9, not built strict) accepts what RFC 9112 lets a
// server refuse and what a proxy in front of us may read differently — the
// stuff of request smuggling: a bare LF as a line end (§2.2), a CR not
// followed by LF, a folded field line (obs-fold, §5.2), whitespace between a
// field name and its colon (§5.1, "MUST reject"). The guard watches one head
// at a time, from its first byte to its blank line; the body is not its
// business.
#pragma once

#include <cstddef>
#include <string_view>

namespace genkit::http {

class Http1HeadGuard {
 public:
  struct Scan {
    std::size_t head_bytes = 0;     // of the input, the ones that belong to the head
    const char* violation = nullptr;  // set: refuse the request (400), with this reason
  };

  // A new head comes next (the connection's start, or after a message).
  void expect_head();
  bool active() const { return state_ != State::kDone; }
  // The next bytes of the connection. Once the head's blank line is in
  // them, head_bytes stops there and the guard is inactive.
  Scan scan(std::string_view input);

 private:
  enum class State { kLineStart, kRequestLine, kFieldName, kFieldValue, kAfterCr, kDone };

  // A byte at the start of a line.
  const char* line_start(char c);
  // The LF of a CRLF: the line ended; true when it was the head's last.
  bool line_end();

  State state_ = State::kLineStart;
  bool seen_request_line_ = false;
  bool line_empty_ = true;
};

}  // namespace genkit::http
