// IP addresses as 16 bytes (IPv4 as IPv4-mapped IPv6), so one table and one
// comparison serve both families; and allow-lists of addresses and CIDR
// ranges (FORWARDED_ALLOW_IPS).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace genkit {

using IpBytes = std::array<uint8_t, 16>;

// "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", and the forms a proxy may
// write: "[2001:db8::1]", "[2001:db8::1]:443", "192.0.2.1:443".
std::optional<IpBytes> parse_ip(std::string_view text);
// "192.0.2.1" for IPv4-mapped addresses, else the IPv6 text form.
std::string ip_to_string(const IpBytes& ip);

class IpAllowList {
 public:
  // Items: "*" (any), an address, or a CIDR range ("10.0.0.0/8", "fd00::/8").
  static Result<IpAllowList> parse(const std::vector<std::string>& items);

  bool allows(const IpBytes& ip) const;
  bool empty() const { return !any_ && ranges_.empty(); }

 private:
  struct Range {
    IpBytes base;
    int prefix_bits;  // of the 128
  };
  bool any_ = false;
  std::vector<Range> ranges_;
};

// Appends the comma-separated entries of one X-Forwarded-For value.
void split_forwarded_for(std::string_view value, std::vector<std::string_view>* out);

// The client's address for a request whose socket peer is `peer`, with the
// X-Forwarded-For entries `forwarded` (in header order): the peer unless it is
// a trusted proxy, else the right-most entry no trusted proxy vouches for (as
// gunicorn and uvicorn read it). Used for HTTP headers and gRPC metadata.
std::string client_behind_proxies(std::string_view peer, const std::vector<std::string_view>& forwarded,
                                  const IpAllowList& trusted_proxies);

}  // namespace genkit
