#include "common/net/plain_http_target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <algorithm>

namespace genkit {

namespace {

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::optional<unsigned> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned port = 0;
  for (char c : s) port = port * 10 + static_cast<unsigned>(c - '0');
  if (port == 0 || port > 65535) return std::nullopt;
  return port;
}

}  // namespace

std::optional<PlainHttpTarget> plain_http_target(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || strncasecmp(url.data(), kScheme.data(), kScheme.size()) != 0) return std::nullopt;
  url.remove_prefix(kScheme.size());
  std::size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (authority.empty() || !printable(authority) || authority.find('@') != std::string_view::npos) return std::nullopt;
  if (!rest.empty() && (!printable(rest) || rest.find('#') != std::string_view::npos)) return std::nullopt;

  std::string_view host = authority;
  std::string_view after_host;
  bool v6 = authority.front() == '[';
  if (v6) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    after_host = authority.substr(close + 1);
  } else {
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) after_host = authority.substr(colon);
  }
  unsigned port = 80;
  if (!after_host.empty()) {
    if (after_host.front() != ':') return std::nullopt;
    std::optional<unsigned> p = parse_port(after_host.substr(1));
    if (!p) return std::nullopt;
    port = *p;
  }

  PlainHttpTarget t;
  std::string host_text(host);
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&t.address);
    if (inet_pton(AF_INET6, host_text.c_str(), &a->sin6_addr) != 1) return std::nullopt;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    t.address_len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&t.address);
    if (inet_pton(AF_INET, host_text.c_str(), &a->sin_addr) != 1) return std::nullopt;
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    t.address_len = sizeof(sockaddr_in);
  }
  t.authority = std::string(authority);
  if (rest.empty()) {
    t.path = "/";
  } else if (rest.front() == '?') {
    t.path = "/" + std::string(rest);
  } else {
    t.path = std::string(rest);
  }
  return t;
}

}  // namespace genkit
