// Which URLs the plain HTTP/1.1 transport serves, already resolved: an IP
// literal needs no name lookup, so nothing on the event loop blocks.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace genkit {

// Where a plain-http URL points.
struct PlainHttpTarget {
  sockaddr_storage address{};
  socklen_t address_len = 0;
  std::string authority;  // "127.0.0.1:8080": the Host header and the pool key
  std::string path;       // "/v1/x?y=1"
};

// The target of `url` when the plain transport can serve it: http://, an IPv4
// or [IPv6] literal host, no user info or fragment, a printable path.
std::optional<PlainHttpTarget> plain_http_target(std::string_view url);

}  // namespace genkit
