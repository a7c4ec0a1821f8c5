#include "worker/middleware/client_address.h"

#include <string_view>
#include <vector>

namespace genkit::http {

namespace {

// Every X-Forwarded-For entry, in order, across repeated headers.
std::vector<std::string_view> forwarded_entries(const Request& req) {
  std::vector<std::string_view> out;
  for (const Header& h : req.headers) {
    if (h.name == "x-forwarded-for") split_forwarded_for(h.value, &out);
  }
  return out;
}

bool peer_trusted(const Request& req, const IpAllowList& trusted_proxies) {
  std::optional<IpBytes> peer = parse_ip(req.client_ip);
  return peer && trusted_proxies.allows(*peer);
}

bool is_https(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() != 5) return false;
  for (std::size_t i = 0; i < 5; ++i) {
    if ((v[i] | 0x20) != "https"[i]) return false;
  }
  return true;
}

}  // namespace

std::string forwarded_client_ip(const Request& req, const IpAllowList& trusted_proxies) {
  if (!req.header("x-forwarded-for")) return req.client_ip;
  return client_behind_proxies(req.client_ip, forwarded_entries(req), trusted_proxies);
}

bool forwarded_https(const Request& req, const IpAllowList& trusted_proxies) {
  const std::string* proto = req.header("x-forwarded-proto");
  return proto && is_https(*proto) && peer_trusted(req, trusted_proxies);
}

Gate make_client_address_gate(IpAllowList trusted_proxies) {
  return [trusted = std::move(trusted_proxies)](const std::shared_ptr<Exchange>& ex) {
    // (Read before the client address replaces the peer's.)
    if (forwarded_https(ex->request(), trusted)) ex->set_secure(true);
    ex->set_client_ip(forwarded_client_ip(ex->request(), trusted));
    return true;
  };
}

}  // namespace genkit::http
