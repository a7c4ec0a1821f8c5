// TRUSTED_HOSTS: the host names a request's Host header may name, with the
// patterns of Starlette's TrustedHostMiddleware: "api.example.com" (exact),
// "*.example.com" (any subdomain, not example.com itself), "*" (any host).
// Compared case-insensitively and whatever the port; IPv6 literals are
// written with or without brackets ("[::1]", "::1"). Parsed once at start-up
// (a bad pattern is a configuration error), matched per request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace genkit {

class HostAllowList {
 public:
  // A pattern with a port ("localhost:8080") or a wildcard other than a
  // leading "*." is refused: Starlette would silently never match it.
  static Result<HostAllowList> parse(const std::vector<std::string>& patterns);

  bool empty() const { return !any_ && exact_.empty() && suffixes_.empty(); }
  // `host_header`: a Host value ("api.example.com:8080", "[::1]:8080");
  // nullptr (no Host) or a malformed value is never allowed, except by "*".
  bool allows(const std::string* host_header) const;

 private:
  bool any_ = false;
  std::vector<std::string> exact_;     // lower-case host names
  std::vector<std::string> suffixes_;  // ".example.com" of "*.example.com"
};

// The host of a Host header value: lower-case, without the port, the IPv6
// brackets or a trailing dot. nullopt when it is not host[:port].
std::optional<std::string> host_of_header(std::string_view value);

}  // namespace genkit
