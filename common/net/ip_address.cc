#include "common/net/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace genkit {

namespace {

std::optional<IpBytes> parse_bare(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpBytes out{};
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

bool is_port(std::string_view s) {
  int port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size() && port >= 0 && port <= 65535;
}

bool is_v4_mapped(const IpBytes& ip) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(ip.data(), kPrefix, 12) == 0;
}

}  // namespace

std::optional<IpBytes> parse_ip(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return std::nullopt;
    return parse_bare(text.substr(1, close - 1));
  }
  if (auto ip = parse_bare(text)) return ip;
  // "a.b.c.d:port" (one colon only: more means IPv6)
  std::size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos &&
      is_port(text.substr(colon + 1))) {
    auto ip = parse_bare(text.substr(0, colon));
    if (ip && is_v4_mapped(*ip)) return ip;
  }
  return std::nullopt;
}

std::string ip_to_string(const IpBytes& ip) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (is_v4_mapped(ip)) {
    inet_ntop(AF_INET, ip.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
  }
  return buf;
}

Result<IpAllowList> IpAllowList::parse(const std::vector<std::string>& items) {
  IpAllowList list;
  for (const std::string& raw : items) {
    std::string_view item = raw;
    if (item == "*") {
      list.any_ = true;
      continue;
    }
    std::size_t slash = item.find('/');
    std::optional<IpBytes> base = parse_bare(item.substr(0, slash));
    if (!base) return invalid_argument("\"" + raw + "\" is not an IP address or CIDR range");
    bool v4 = is_v4_mapped(*base) && item.substr(0, slash).find(':') == std::string_view::npos;
    int bits = 128;
    if (slash != std::string_view::npos) {
      std::string_view p = item.substr(slash + 1);
      int prefix = -1;
      auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
      int max = v4 ? 32 : 128;
      if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix < 0 || prefix > max) {
        return invalid_argument("\"" + raw + "\" has a bad prefix length (0.." + std::to_string(max) + ")");
      }
      bits = v4 ? 96 + prefix : prefix;
    }
    list.ranges_.push_back({*base, bits});
  }
  return list;
}

bool IpAllowList::allows(const IpBytes& ip) const {
  if (any_) return true;
  for (const Range& r : ranges_) {
    int full = r.prefix_bits / 8;
    if (std::memcmp(ip.data(), r.base.data(), full) != 0) continue;
    int rest = r.prefix_bits % 8;
    if (rest == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    if ((ip[full] & mask) == (r.base[full] & mask)) return true;
  }
  return false;
}

void split_forwarded_for(std::string_view value, std::vector<std::string_view>* out) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    out->push_back(value.substr(0, comma));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

std::string client_behind_proxies(std::string_view peer, const std::vector<std::string_view>& forwarded,
                                  const IpAllowList& trusted_proxies) {
  std::optional<IpBytes> hop = parse_ip(peer);
  if (forwarded.empty() || !hop || !trusted_proxies.allows(*hop)) return std::string(peer);
  // From the nearest hop outwards: the first address no trusted proxy
  // vouches for is the client. An unreadable entry ends the chain at the
  // last address we could trust.
  for (auto it = forwarded.rbegin(); it != forwarded.rend(); ++it) {
    std::optional<IpBytes> ip = parse_ip(*it);
    if (!ip) break;
    hop = ip;
    if (!trusted_proxies.allows(*ip)) break;
  }
  return ip_to_string(*hop);
}

}  // namespace genkit
