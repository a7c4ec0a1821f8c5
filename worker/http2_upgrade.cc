#include "worker/http2_upgrade.h"

#include <cctype>

namespace genkit::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Whether the comma-separated list `list` holds `token` (case-insensitive).
bool lists_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Whether any header `name` lists `token` (a list may be split over several fields).
bool any_lists(const Request& req, std::string_view name, std::string_view token) {
  for (const Header& h : req.headers) {
    if (h.name == name && lists_token(h.value, token)) return true;
  }
  return false;
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> decode_base64url(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<std::string> h2c_upgrade_settings(const Request& req) {
  if (!any_lists(req, "upgrade", "h2c")) return std::nullopt;
  if (!any_lists(req, "connection", "upgrade") || !any_lists(req, "connection", "http2-settings")) return std::nullopt;
  const std::string* settings = nullptr;
  for (const Header& h : req.headers) {
    if (h.name != "http2-settings") continue;
    if (settings) return std::nullopt;  // "exactly one"
    settings = &h.value;
  }
  if (!settings) return std::nullopt;
  std::optional<std::string> payload = decode_base64url(*settings);
  if (!payload || payload->size() % 6 != 0) return std::nullopt;
  return payload;
}

}  // namespace genkit::http
