// Helpers shared by the unit tests.
#pragma once

#include <event2/http.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/runtime/message.h"

namespace genkit::testing_json {

// Parses test-literal JSON; a typo in a literal fails the test that wrote it.
inline Json parse(std::string_view text) {
  Result<Json> r = Json::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? std::move(r).value() : Json::null();
}

inline Message msg(Role role, std::vector<Part> parts) {
  Message m;
  m.role = role;
  m.content = std::move(parts);
  return m;
}

// Binds an evhttp server to 127.0.0.1 on an ephemeral port; returns the port.
inline int bind_loopback(evhttp* http) {
  evhttp_bound_socket* sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
  EXPECT_NE(sock, nullptr);
  if (!sock) return 0;
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(evhttp_bound_socket_get_fd(sock), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace genkit::testing_json
