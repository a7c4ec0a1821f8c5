// Protocol-neutral request and response types: the HTTP/1.1 and HTTP/2
// sessions produce the same Request and write the same ResponseHead, so every
// handler and every middleware serves both.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace genkit::http {

struct Header {
  std::string name;   // lower-case in requests
  std::string value;
};

struct Request {
  std::string method;
  std::string path;    // without the query string
  std::string query;   // after '?', may be empty
  std::vector<Header> headers;
  std::string body;
  std::string client_ip;
  std::string request_id;  // X-Request-ID echoed, or a new UUID4
  bool secure = false;     // came over TLS (or from a trusted proxy that says https)

  // First value of header `lower_name`, or nullptr.
  const std::string* header(std::string_view lower_name) const {
    for (const Header& h : headers) {
      if (h.name == lower_name) return &h.value;
    }
    return nullptr;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<Header> headers;  // extra headers (e.g. Retry-After, Allow)
  std::string body;
};

// One field of a response head. Views into strings the exchange keeps alive
// until the head is written.
struct HeadField {
  std::string_view name;  // canonical case ("Content-Type"); HTTP/2 lower-cases it
  std::string_view value;
};

// What a session writes before the body. Date, Content-Length/Transfer-
// Encoding and Connection are the session's own business.
struct ResponseHead {
  int status = 200;
  std::vector<HeadField> fields;
  long content_length = -1;  // < 0: a streamed body
};

const char* reason_phrase(int status);

// The raw value of `name` in a query string ("a=1&stream=true"), if present.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name);
// The Date value of a response ("Sun, 06 Dec 2026 08:12:06 GMT"), formatted
// once a second. Valid until the next call.
std::string_view http_date();

}  // namespace genkit::http
