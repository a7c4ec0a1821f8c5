// Parsers for single configuration values. Errors name the setting first so a
// failed start-up says exactly which knob to fix.
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>

#include "common/config_internal.h"

namespace genkit::config_internal {
namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

Status bad(const Value& v, const std::string& why) {
  std::string msg = v.label + ": " + why + " (got \"" + v.text + "\")";
  return invalid_argument(std::move(msg));
}

std::string range_text(const char* what, int64_t lo, int64_t hi) {
  if (hi == std::numeric_limits<int64_t>::max()) {
    return std::string("must be ") + what + " of at least " + std::to_string(lo);
  }
  return std::string("must be ") + what + " from " + std::to_string(lo) + " to " + std::to_string(hi);
}

}  // namespace

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status parse_int(const Value& v, int64_t lo, int64_t hi, int64_t* out) {
  std::string_view t = trim(v.text);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || n < lo || n > hi) {
    return bad(v, range_text("an integer", lo, hi));
  }
  *out = n;
  return Status::ok();
}

Status parse_int(const Value& v, int lo, int hi, int* out) {
  int64_t n = 0;
  Status s = parse_int(v, int64_t{lo}, int64_t{hi}, &n);
  if (s.is_ok()) *out = static_cast<int>(n);
  return s;
}

Status parse_seconds(const Value& v, double hi, double* out) {
  std::string_view t = trim(v.text);
  double d = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
  // from_chars accepts "inf" and "nan"; neither is a usable duration.
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(d) || d <= 0 ||
      d > hi) {
    return bad(v, "must be a number of seconds above 0 and at most " + std::to_string(static_cast<int64_t>(hi)));
  }
  *out = d;
  return Status::ok();
}

Status parse_rate_limit(const Value& v, RateLimit* out) {
  static const std::pair<const char*, int64_t> kPeriods[] = {
      {"s", 1},      {"sec", 1},      {"second", 1},   {"seconds", 1},
      {"m", 60},     {"min", 60},     {"minute", 60},  {"minutes", 60},
      {"h", 3600},   {"hour", 3600},  {"hours", 3600},
      {"d", 86400},  {"day", 86400},  {"days", 86400},
  };
  std::string_view t = trim(v.text);
  size_t slash = t.find('/');
  std::string_view count_text = trim(t.substr(0, slash));
  std::string period = slash == std::string_view::npos ? "" : lower(trim(t.substr(slash + 1)));
  int64_t count = 0;
  auto [end, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  bool count_ok = !count_text.empty() && ec == std::errc() && end == count_text.data() + count_text.size() &&
                  count >= 1 && count <= 1000000000;
  for (const auto& [name, seconds] : kPeriods) {
    if (count_ok && period == name) {
      *out = RateLimit{count, seconds};
      return Status::ok();
    }
  }
  return bad(v, "must be <count>/<period>, a count from 1 and a period of second, minute, hour or day");
}

Status parse_bool(const Value& v, bool* out) {
  std::string t = lower(trim(v.text));
  if (t == "true" || t == "1" || t == "yes" || t == "on") {
    *out = true;
  } else if (t == "false" || t == "0" || t == "no" || t == "off") {
    *out = false;
  } else {
    return bad(v, "must be a boolean: true/false, 1/0, yes/no or on/off");
  }
  return Status::ok();
}

Status parse_http_url(const Value& v, std::string* out) {
  std::string t(trim(v.text));
  std::string l = lower(t);
  size_t scheme = l.rfind("http://", 0) == 0 ? 7 : l.rfind("https://", 0) == 0 ? 8 : 0;
  if (scheme == 0 || t.size() == scheme || t.find_first_of(" \t\r\n") != std::string::npos) {
    return bad(v, "must be an http:// or https:// URL");
  }
  // Clients append paths ("/v1/chat/completions"), so a trailing slash would double up.
  while (t.size() > scheme + 1 && t.back() == '/') t.pop_back();
  *out = std::move(t);
  return Status::ok();
}

Status parse_non_empty(const Value& v, std::string* out) {
  std::string t(trim(v.text));
  if (t.empty()) return bad(v, "must not be empty");
  *out = std::move(t);
  return Status::ok();
}

Status parse_choice(const Value& v, std::span<const char* const> choices, std::string* out) {
  std::string t = lower(trim(v.text));
  std::string list;
  for (const char* c : choices) {
    if (t == c) {
      *out = c;
      return Status::ok();
    }
    list += list.empty() ? "" : ", ";
    list += c;
  }
  return bad(v, "must be one of " + list);
}

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string_view item = trim(std::string_view(text).substr(start, comma - start));
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace genkit::config_internal
