// What the fields of an HTTP/1.1 request head say about where its body ends,
// checked where libhttp-parser (2.9, not built strict) is lenient. Two
// readings of one message's framing are how requests are smuggled past a
// proxy, so anything but one plain answer is refused (RFC 9112 §3.2, §6):
// Transfer-Encoding is "chunked" once and nothing else (another coding is
// 501, as §6.1 says), never with Content-Length, never in HTTP/1.0; an
// HTTP/1.1 request has exactly one Host. And the request line is HTTP/1.x:
// an HTTP/0.9 line (no version, no head) or a 2.x one follows none of these
// rules, so it is 505 rather than read as HTTP/1.1.
#pragma once

#include <optional>
#include <string>

#include "worker/http_types.h"

namespace genkit::http {

struct Refusal {
  int status;
  std::string detail;
};

std::optional<Refusal> framing_refusal(const Request& request, int http_major, int http_minor);

}  // namespace genkit::http
