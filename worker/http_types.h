// Protocol-neutral request and response types: HTTP/1.1 and (later) HTTP/2
// sessions produce the same HttpRequest, so every handler serves both.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace genkit::http {

struct Header {
  std::string name;   // lower-case
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

const char* reason_phrase(int status);

}  // namespace genkit::http
