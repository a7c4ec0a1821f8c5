#include "worker/http1_framing.h"
#include "common/text.h"

#include <string>
#include <string_view>
#include <vector>

namespace genkit::http {

namespace {

// The transfer codings of every Transfer-Encoding line, in order, lower-case
// (empty list elements are left out, as RFC 9110 §5.6.1 says).
std::vector<std::string> transfer_codings(const Request& request) {
  std::vector<std::string> codings;
  for (const Header& h : request.headers) {
    if (h.name != "transfer-encoding") continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view item = trim_blanks(rest.substr(0, comma));
      if (!item.empty()) codings.push_back(ascii_lower(item));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return codings;
}

std::optional<Refusal> transfer_encoding_refusal(const Request& request, bool http10) {
  std::vector<std::string> codings = transfer_codings(request);
  if (http10) return Refusal{400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
  if (request.header("content-length")) return Refusal{400, "both Transfer-Encoding and Content-Length"};
  if (codings.empty() || codings.back() != "chunked") {
    return Refusal{400, "the request body's length is unknown: chunked must be the final transfer coding"};
  }
  for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
    if (codings[i] == "chunked") return Refusal{400, "the chunked transfer coding is applied more than once"};
  }
  if (codings.size() > 1) return Refusal{501, "transfer coding not implemented: " + codings.front()};
  return std::nullopt;
}

std::optional<Refusal> host_refusal(const Request& request, bool http11) {
  std::size_t hosts = 0;
  for (const Header& h : request.headers) hosts += h.name == "host";
  if (hosts > 1) return Refusal{400, "more than one Host header"};
  if (hosts == 0 && http11) return Refusal{400, "an HTTP/1.1 request needs a Host header"};
  return std::nullopt;
}

}  // namespace

std::optional<Refusal> framing_refusal(const Request& request, int http_major, int http_minor) {
  if (http_major != 1) {
    return Refusal{505, "HTTP/" + std::to_string(http_major) + "." + std::to_string(http_minor) +
                            " is not supported: send HTTP/1.1 (or HTTP/2 by prior knowledge)"};
  }
  const bool http10 = http_minor == 0;
  const bool http11 = http_minor >= 1;
  if (request.header("transfer-encoding")) {
    if (std::optional<Refusal> r = transfer_encoding_refusal(request, http10)) return r;
  }
  return host_refusal(request, http11);
}

}  // namespace genkit::http
