#include "common/net/host_allow_list.h"
#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace genkit {

namespace {

// Letters, digits and the punctuation of names and IP literals only: no
// spaces, slashes, '@' or other things a Host header must not carry.
bool host_chars(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == ':' || c == '%';
  });
}

// "example.com." names the same host as "example.com".
std::string_view without_root_dot(std::string_view s) {
  if (s.size() > 1 && s.back() == '.') s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> host_of_header(std::string_view value) {
  value = trim_blanks(value);
  std::string_view host, port;
  if (!value.empty() && value.front() == '[') {
    std::size_t close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = value.substr(1, close - 1);
    std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    std::size_t colon = value.find(':');
    if (colon != std::string_view::npos && value.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;  // a bare IPv6 address: Host must bracket it
    }
    host = value.substr(0, colon);
    if (colon != std::string_view::npos) port = value.substr(colon + 1);
  }
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  host = without_root_dot(host);
  if (!host_chars(host)) return std::nullopt;
  return ascii_lower(host);
}

Result<HostAllowList> HostAllowList::parse(const std::vector<std::string>& patterns) {
  HostAllowList list;
  for (const std::string& raw : patterns) {
    std::string_view p = trim_blanks(raw);
    if (p == "*") {
      list.any_ = true;
      continue;
    }
    auto bad = [&](const std::string& why) {
      return Status(Code::kInvalidArgument, "\"" + raw + "\": " + why);
    };
    bool wildcard = p.starts_with("*.");
    if (wildcard) p.remove_prefix(1);  // keeps the dot: ".example.com"
    if (p.find('*') != std::string_view::npos) {
      return bad("a wildcard must be the whole first label, as in *.example.com");
    }
    if (p.starts_with("[") && p.find("]:") != std::string_view::npos) {
      return bad("list host names without a port (any port is accepted)");
    }
    if (p.size() > 2 && p.front() == '[' && p.back() == ']') p = p.substr(1, p.size() - 2);
    std::size_t colons = static_cast<std::size_t>(std::count(p.begin(), p.end(), ':'));
    if (colons == 1) return bad("list host names without a port (any port is accepted)");
    if (colons > 1 && wildcard) return bad("an IPv6 address cannot have a wildcard");
    p = without_root_dot(p);
    if (!host_chars(wildcard ? p.substr(1) : p)) return bad("not a host name");
    (wildcard ? list.suffixes_ : list.exact_).push_back(ascii_lower(p));
  }
  return list;
}

bool HostAllowList::allows(const std::string* host_header) const {
  if (any_) return true;
  if (!host_header) return false;
  std::optional<std::string> host = host_of_header(*host_header);
  if (!host) return false;
  for (const std::string& e : exact_) {
    if (*host == e) return true;
  }
  for (const std::string& s : suffixes_) {
    if (host->size() > s.size() && host->ends_with(s)) return true;
  }
  return false;
}

}  // namespace genkit
